"""Regenerate analytics/data/referrers.tsv from Matomo's list and our curated table.

Usage (needs PyYAML, a development tool only; the collector reads the generated TSV):

    npm pack searchengine-and-social-list && tar xzf searchengine-and-social-list-*.tgz
    python analytics/data/build_referrers.py package/SearchEngines.yml package/Socials.yml \
        --source "matomo-org/searchengine-and-social-list 1.4.1"

(or point it at a clone of github.com/matomo-org/searchengine-and-social-list). The output is
analytics/data/referrers.tsv: one row per host pattern with the source name to report and its kind.

Rules, because the collector keeps referrers without their query string (so Matomo's test "is there a
keyword parameter?" cannot be run):
- a search-engine host counts when it belongs to the engine's first configuration (its own hosts) or to
  a configuration that declares `hiddenkeyword` (Matomo's mark for engines that send no keyword);
  the other configurations are portals that embed an engine (www.cnn.com under Google) and are
  recognisable only by the keyword parameter;
- URL patterns with a path (`bing.com/images/search`) and Android package names are left out: referrers
  are matched on their host;
- a host listed by both files is a social network (Matomo lists www.facebook.com as a search engine for
  its search page);
- curated.tsv wins: for a pattern, and for the kind of a whole name (YouTube is VIDEO in GA4, not social).
"""

from __future__ import annotations

import argparse
import csv
import re
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
SUFFIXES = (" images", " videos", " video", " news", " maps", " blogsearch", " scholar", " translations",
            " directory", " custom search", " syndicated search", " japan")


def slug(name: str) -> str:
    """The source name reported for a Matomo entry: 'Yahoo! Japan Images' -> 'yahoo'."""
    text = re.sub(r"\s*\(.*?\)", "", str(name)).lower().replace("!", "").replace("%2b", "+")
    text = re.sub(r"\s+", " ", text).strip()
    changed = True
    while changed:
        changed = False
        for suffix in SUFFIXES:
            if text.endswith(suffix):
                text = text[: -len(suffix)].strip()
                changed = True
    return text


def is_host_pattern(url: str) -> bool:
    return "/" not in url and ":" not in url and "." in url and not url.startswith(("com.", "android"))


def read_curated(path: Path) -> list[tuple[str, str, str]]:
    lines = [line for line in path.read_text(encoding="utf-8").splitlines() if line and not line.startswith("#")]
    reader = csv.DictReader(lines, delimiter="\t")
    return [(row["pattern"].strip().lower(), row["name"].strip(), row["kind"].strip()) for row in reader]


def build(search_yml: Path, socials_yml: Path, curated: Path) -> list[tuple[str, str, str]]:
    engines = yaml.safe_load(search_yml.read_text(encoding="utf-8"))
    socials = yaml.safe_load(socials_yml.read_text(encoding="utf-8"))
    rows: dict[str, tuple[str, str]] = {}
    social_hosts = set()
    for name, hosts in socials.items():
        for host in hosts or []:
            host = str(host).strip().lower()
            if is_host_pattern(host):
                social_hosts.add(host)
                social_hosts.add(host.removeprefix("www."))
                rows[host] = (slug(name), "social")
    for name, configs in engines.items():
        for index, config in enumerate(configs or []):
            if index > 0 and not config.get("hiddenkeyword"):
                continue
            for url in config.get("urls") or []:
                host = str(url).strip().lower()
                if not is_host_pattern(host) or host in social_hosts or host.removeprefix("www.") in social_hosts:
                    continue
                rows.setdefault(host, (slug(name), "search"))
    curated_rows = read_curated(curated)
    name_kind = {}
    for _, name, kind in curated_rows:
        name_kind.setdefault(name, kind)
    rows = {pattern: (name, name_kind.get(name, kind)) for pattern, (name, kind) in rows.items()}
    for pattern, name, kind in curated_rows:
        rows[pattern] = (name, kind)
    return sorted(((p, n, k) for p, (n, k) in rows.items()), key=lambda r: (r[2], r[1], r[0]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("search_engines", type=Path, help="Matomo's SearchEngines.yml")
    parser.add_argument("socials", type=Path, help="Matomo's Socials.yml")
    parser.add_argument("--source", required=True,
                        help="where the two files come from: package and version, or repository@commit")
    parser.add_argument("--curated", type=Path, default=HERE / "curated.tsv")
    parser.add_argument("--out", type=Path, default=HERE / "referrers.tsv")
    args = parser.parse_args()
    rows = build(args.search_engines, args.socials, args.curated)
    revision = next(line for line in args.curated.read_text(encoding="utf-8").splitlines() if "revision" in line)
    counts = {kind: sum(1 for r in rows if r[2] == kind) for kind in ("search", "social", "video", "shopping", "email")}
    with args.out.open("w", encoding="utf-8", newline="") as fh:
        fh.write("# Generated by analytics/data/build_referrers.py; do not edit (edit curated.tsv, then rerun).\n")
        fh.write(f"# Search engines and social networks: {args.source}, licence CC0-1.0 (public domain).\n")
        fh.write(f"# Curated additions (video, shopping, webmail, newer networks, utm aliases):{revision[1:]}\n")
        fh.write("# Rows per kind: " + ", ".join(f"{k} {v}" for k, v in counts.items()) + "\n")
        fh.write("pattern\tname\tkind\n")
        for pattern, name, kind in rows:
            fh.write(f"{pattern}\t{name}\t{kind}\n")
    print(f"wrote {len(rows)} rows to {args.out} ({counts})")


if __name__ == "__main__":
    main()
