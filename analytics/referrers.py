"""Referrer and source classification from analytics/data/referrers.tsv.

The table (built by data/build_referrers.py from Matomo's CC0 search-engine and social-network list
plus our curated video, shopping and webmail rows) maps a host pattern to a source name and a kind.
Lookups run over *distinct* referrer domains and sources (a few hundred), never over event rows; the
results are cached in the derived tables `referrer_classes` and `source_classes` (sessions.py).

- classify_referrer(domain) -> (source, medium, category): how a landing with that external referrer
  reads: search engines give `<engine> / organic`, social networks `<network> / social`, webmails
  `<provider> / email`, everything else `<domain> / referral`.
- source_category(source) -> 'SEARCH' | 'SOCIAL' | 'VIDEO' | 'SHOPPING' | None: GA4's source category
  of a reported source (a name such as `google`, `fb`, or a host such as `m.facebook.com`).
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from functools import cache, lru_cache
from importlib import resources

CATEGORY = {"search": "SEARCH", "social": "SOCIAL", "video": "VIDEO", "shopping": "SHOPPING", "email": None}
MEDIUM = {"search": "organic", "social": "social", "email": "email", "video": "referral", "shopping": "referral"}
_TLD = r"(?:[a-z]{2,3}|(?:com|org|net|co|it|edu|gov|ac|ne|or)\.[a-z]{2,3})"
_LABEL = r"[a-z0-9-]+"


@dataclass(frozen=True)
class Table:
    exact: dict[str, tuple[str, str]]
    wildcards: tuple[tuple[re.Pattern[str], str, str], ...]
    name_kind: dict[str, str]
    revision: str


def _compile(pattern: str) -> re.Pattern[str]:
    parts = pattern.split("{}")
    out = []
    for i, part in enumerate(parts):
        out.append(re.escape(part))
        if i < len(parts) - 1:
            out.append(_TLD if i == len(parts) - 2 and parts[-1] == "" else _LABEL)
    return re.compile("^" + "".join(out) + "$")


@cache
def table() -> Table:
    text = resources.files("webleads.analytics").joinpath("data/referrers.tsv").read_text(encoding="utf-8")
    comments = [line for line in text.splitlines() if line.startswith("#")]
    rows = csv.DictReader([line for line in text.splitlines() if line and not line.startswith("#")], delimiter="\t")
    exact: dict[str, tuple[str, str]] = {}
    wildcards = []
    name_kind: dict[str, str] = {}
    for row in rows:
        pattern, name, kind = row["pattern"], row["name"], row["kind"]
        name_kind.setdefault(name, kind)
        if "{}" in pattern:
            wildcards.append((_compile(pattern), name, kind))
        else:
            exact[pattern] = (name, kind)
    return Table(exact, tuple(wildcards), name_kind, " ".join(c.lstrip("# ") for c in comments[1:3]))


def _match(host: str) -> tuple[str, str] | None:
    t = table()
    if host in t.exact:
        return t.exact[host]
    for regex, name, kind in t.wildcards:
        if regex.match(host):
            return name, kind
    return None


@lru_cache(maxsize=4096)
def lookup_host(host: str) -> tuple[str, str] | None:
    """(name, kind) for a host, trying it, www.host, then its parent domains. Parent domains only
    count for social, video, shopping and webmail sites: sites.google.com is not a search engine."""
    host = host.strip().lower().rstrip(".").removeprefix("www.")
    if not host:
        return None
    for candidate in (host, "www." + host):
        found = _match(candidate)
        if found:
            return found
    labels = host.split(".")
    for i in range(1, len(labels) - 1):
        parent = ".".join(labels[i:])
        for candidate in (parent, "www." + parent):
            found = _match(candidate)
            if found and found[1] != "search":
                return found
    return None


def classify_referrer(domain: str) -> tuple[str, str, str | None]:
    """How a landing from this external referrer domain reads: (source, medium, GA4 category)."""
    found = lookup_host(domain)
    if found is None:
        return domain.lower(), "referral", None
    name, kind = found
    return name, MEDIUM[kind], CATEGORY[kind]


def source_category(source: str) -> str | None:
    """GA4 source category of a reported source: a known name (google, fb, youtube) or a host."""
    text = source.strip().lower()
    kind = table().name_kind.get(text)
    if kind is None:
        found = lookup_host(text) if "." in text else table().exact.get(text)
        if found is None:
            return None
        kind = found[1]
    return CATEGORY[kind]
