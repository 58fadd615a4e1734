"""Bot detection: recall on known crawlers, false positives on people's browsers, cost per unseen string.

    python bench/bots.py [--show 5] [--rounds 3] [--devices 3000]

Compares the detector as it was before isbot's list (user-agents' verdict plus a hand-written token
regex, reimplemented below as it stood) with the collector's `parse_agent` (isbot's patterns through
is-bot, plus user-agents' verdict), on public lists fetched once into bench/out/bots/ by the ordinary
clients, at pinned versions so that a rerun measures the same strings:

- known crawlers: every `instances` example of the crawler-user-agents patterns (PyPI), and
  CrawlerDetect's crawler fixtures (the crawlerdetect sdist's tests/fixtures/user_agent/crawlers.txt;
  CrawlerDetect counts mail clients, office apps, media players and HTTP tools as crawlers too);
- the 100 most common browsers: npm top-user-agents;
- a broad set of real desktop and phone browsers: the distinct user-agents of npm `user-agents`
  (sampled from real traffic) and of PyPI `fake-useragent`'s browsers.jsonl;
- an older, stranger one: a fixed random sample (--devices) of CrawlerDetect's device fixtures
  (tests/fixtures/user_agent/devices.txt: feature phones, old Internet Explorers with toolbars,
  odd clients that CrawlerDetect deems people).

Cost: each detector parses every string of all the lists, uncached (the collector's LRU cache hides
this cost for strings it has seen), interleaved round by round; the best round counts, in CPU time. Also checked:
that our matcher gives is-bot's own verdict on every string, how is-bot's copy of the list differs
from npm isbot's current one, and the memory the user-agent cache can hold at most.
"""

from __future__ import annotations

import argparse
import gc
import json
import random
import re
import subprocess
import sys
import tarfile
import time
import tracemalloc
import zipfile
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path

import user_agents
from is_bot import Bots

from webleads.collector import enrich  # installs the Rust-backed resolver under user-agents, as served

HERE = Path(__file__).resolve().parent
OUT = HERE / "out" / "bots"
PYPI = {"crawler-user-agents": "1.67.0", "crawlerdetect": "0.4.2", "fake-useragent": "2.2.0"}
NPM = {"top-user-agents": "2.1.138", "user-agents": "2.1.198", "isbot": "5.2.4"}

# The detector before isbot's list, as it stood in collector/enrich.py.
OLD_TOKENS = re.compile(
    r"headless|phantomjs|selenium|webdriver|puppeteer|playwright|lighthouse|pagespeed|"
    r"bot\b|bot/|crawl|spider|slurp|scrap|archiver|fetch|monitor|uptime|pingdom|statuscake|"
    r"site24x7|newrelic|datadog|checkly|curl/|wget/|python-|httpx|aiohttp|go-http-client|java/|"
    r"okhttp|node-fetch|axios/|libwww|httpclient|postman|insomnia|facebookexternalhit|whatsapp|"
    r"preview|embedly|quora link|bingpreview|yandex|baiduspider|semrush|ahrefs|mj12|dotbot|petal",
    re.IGNORECASE,
)


def old_parse_agent(ua: str) -> enrich.AgentInfo:
    if not ua:
        return enrich.AgentInfo(None, None, None, "bot", True, "no user-agent")
    parsed = user_agents.parse(ua)
    token = OLD_TOKENS.search(ua)
    is_bot = bool(parsed.is_bot or token)
    reason = None
    if parsed.is_bot:
        reason = "user-agent"
    elif token:
        reason = f"token {token.group(0).strip('/').lower()}"
    if is_bot:
        device = "bot"
    elif parsed.is_tablet:
        device = "tablet"
    elif parsed.is_mobile:
        device = "mobile"
    elif parsed.is_pc:
        device = "desktop"
    else:
        device = "other"
    browser = parsed.browser.family if parsed.browser.family != "Other" else None
    version = parsed.browser.version_string or None
    os_name = parsed.os.family if parsed.os.family != "Other" else None
    return enrich.AgentInfo(browser, version, os_name, device, is_bot, reason)


NEW: Callable[[str], enrich.AgentInfo] = enrich._parse_agent.__wrapped__  # type: ignore[attr-defined]


# --- the lists -----------------------------------------------------------------------------------
def fetch() -> None:
    """Download the pinned packages once (pip download, npm install) into bench/out/bots/."""
    pypi = OUT / "pypi"
    for name, version in PYPI.items():
        stem = name.replace("-", "_")
        if any(pypi.glob(f"{stem}-{version}*")) or any(pypi.glob(f"{name}-{version}*")):
            continue
        # crawlerdetect's fixtures are only in its sdist.
        kind = ["--no-binary", ":all:"] if name == "crawlerdetect" else ["--only-binary", ":all:"]
        subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", *kind, "--dest", str(pypi),
                        f"{name}=={version}"], check=True)
    npm = OUT / "npm"
    if not all((npm / "node_modules" / name / "package.json").exists() for name in NPM):
        npm.mkdir(parents=True, exist_ok=True)
        subprocess.run(["npm", "install", "--silent", "--no-audit", "--no-fund", "--no-save", "--prefix", str(npm),
                        "--cache", str(OUT / "npm-cache"), *(f"{n}@{v}" for n, v in NPM.items())], check=True)


def _archive(stem: str) -> Path:
    return next(p for p in (OUT / "pypi").iterdir() if p.name.lower().startswith(stem))


def crawler_user_agents() -> list[str]:
    with zipfile.ZipFile(_archive("crawler_user_agents")) as wheel:
        data = json.loads(wheel.read("crawleruseragents/crawler-user-agents.json"))
    return sorted({ua for entry in data for ua in entry.get("instances", [])})


def crawlerdetect_fixture(name: str) -> list[str]:
    with tarfile.open(_archive("crawlerdetect")) as sdist:
        member = next(m for m in sdist.getmembers() if m.name.endswith(f"tests/fixtures/user_agent/{name}"))
        text = sdist.extractfile(member).read().decode()  # type: ignore[union-attr]
    return sorted({line.strip() for line in text.splitlines() if line.strip()})


def top_browsers() -> list[str]:
    return list(json.loads((OUT / "npm/node_modules/top-user-agents/src/index.json").read_text()))


def broad_browsers() -> tuple[list[str], list[str]]:
    npm = json.loads((OUT / "npm/node_modules/user-agents/dist/user-agents.json").read_text())
    with zipfile.ZipFile(_archive("fake_useragent")) as wheel:
        lines = wheel.read("fake_useragent/data/browsers.jsonl").decode().splitlines()
    fake = [json.loads(line)["useragent"] for line in lines if line.strip()]
    return sorted({r["userAgent"] for r in npm}), sorted(set(fake))


def npm_isbot_patterns() -> list[str]:
    script = "process.stdout.write(JSON.stringify(require('isbot').list))"
    out = subprocess.run(["node", "-e", script], cwd=OUT / "npm", check=True, capture_output=True, text=True)
    return list(json.loads(out.stdout))


# --- measures ------------------------------------------------------------------------------------
def timed(detectors: dict[str, Callable[[str], object]], strings: list[str],
          rounds: int) -> tuple[dict[str, float], dict[str, list[object]]]:
    """Best microseconds per string for each detector, taking turns each round; and their answers.
    CPU time of this process, not wall time: on a shared machine the others' work weighs less."""
    best = {name: float("inf") for name in detectors}
    answers: dict[str, list[object]] = {}
    for _ in range(rounds):
        for name, detect in detectors.items():
            gc.collect()
            started = time.process_time()
            answers[name] = [detect(ua) for ua in strings]
            best[name] = min(best[name], (time.process_time() - started) / len(strings) * 1e6)
    return best, answers


def cache_bytes(samples: int = 2000) -> float:
    """Bytes per cache entry when every key is a distinct user-agent of the full 512 characters."""
    rng = random.Random(7)
    base = "Mozilla/5.0 (Linux; Android 14; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 "
    keys = [(base + "".join(rng.choices("abcdefghij ", k=enrich.MAX_AGENT)))[:enrich.MAX_AGENT]
            for _ in range(samples)]
    cache = lru_cache(maxsize=samples)(NEW)
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    for key in keys:
        cache(key)
    after = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    # The keys were made before measuring: count them, as the cache keeps them alive.
    return (after - before) / samples + sum(sys.getsizeof(k) for k in keys) / samples


def pct(n: int, total: int) -> str:
    return f"{n:>5} / {total:<5} {100 * n / total:6.2f} %"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--show", type=int, default=5, help="misses and false positives to print per list")
    parser.add_argument("--rounds", type=int, default=2, help="timing rounds (the best counts)")
    parser.add_argument("--devices", type=int, default=3000,
                        help="CrawlerDetect device fixtures to sample (0: none; all of them take minutes)")
    args = parser.parse_args()
    fetch()

    crawlers = {"crawler-user-agents instances": crawler_user_agents(),
                "CrawlerDetect crawler fixtures": crawlerdetect_fixture("crawlers.txt")}
    npm_broad, fake_broad = broad_browsers()
    broad = sorted(set(npm_broad) | set(fake_broad))
    browsers = {"top 100 browsers (top-user-agents)": top_browsers(),
                "broad set (user-agents + fake-useragent)": broad}
    devices = crawlerdetect_fixture("devices.txt")
    if args.devices:
        sample = sorted(random.Random(1).sample(devices, min(args.devices, len(devices))))
        browsers[f"CrawlerDetect devices, {len(sample)} of {len(devices)}"] = sample
    every = sorted({ua for group in (*crawlers.values(), *browsers.values()) for ua in group})
    print(f"lists: crawler-user-agents {PYPI['crawler-user-agents']}, crawlerdetect {PYPI['crawlerdetect']}, "
          f"fake-useragent {PYPI['fake-useragent']} (PyPI); top-user-agents {NPM['top-user-agents']}, "
          f"user-agents {NPM['user-agents']} (npm). Broad set: {len(npm_broad)} + {len(fake_broad)} distinct, "
          f"{len(broad)} together.\n")

    detectors = {"old": old_parse_agent, "new": NEW}
    costs, answers = timed(detectors, every, args.rounds)
    verdicts = {name: {ua: info.is_bot for ua, info in zip(every, answers[name], strict=True)}  # type: ignore[attr-defined]
                for name in detectors}

    print(f"{'':44} {'old (user-agents + tokens)':>27}   {'new (isbot list + user-agents)':>30}")
    print("recall: flagged as bots")
    for label, group in crawlers.items():
        row = [pct(sum(verdicts[name][ua] for ua in group), len(group)) for name in detectors]
        print(f"  {label:42} {row[0]:>27}   {row[1]:>30}")
    print("false positives: browsers flagged as bots")
    for label, group in browsers.items():
        row = [pct(sum(verdicts[name][ua] for ua in group), len(group)) for name in detectors]
        print(f"  {label:42} {row[0]:>27}   {row[1]:>30}")

    print(f"cost per unseen string, parse included ({len(every)} strings, best of {args.rounds})")
    print(f"  {'µs':42} {costs['old']:>27.1f}   {costs['new']:>30.1f}")
    print(f"  {'ratio to old':42} {1.0:>27.2f}   {costs['new'] / costs['old']:>30.2f}")

    new_v = verdicts["new"]
    top_fp = sum(new_v[ua] for ua in browsers["top 100 browsers (top-user-agents)"])
    broad_fp = max(sum(new_v[ua] for ua in group) / len(group) for label, group in browsers.items()
                   if not label.startswith("top 100"))
    recall = sum(new_v[ua] for ua in crawlers["crawler-user-agents instances"]) / len(
        crawlers["crawler-user-agents instances"])
    print(f"\ngoals (new): recall on crawler-user-agents >= 99 %: {'met' if recall >= 0.99 else 'NOT met'}; "
          f"none of the top 100: {'met' if top_fp == 0 else 'NOT met'}; "
          f"broad sets <= 2 %: {'met' if broad_fp <= 0.02 else 'NOT met'}")

    # Our matcher against is-bot's own, on every string, and the cost of the matcher alone.
    reference = Bots()
    matchers, found = timed({"ours": enrich.bot_pattern, "is-bot": reference.is_bot}, every, 1)
    disagree = [ua for ua, ours, theirs in zip(every, found["ours"], found["is-bot"], strict=True)
                if (ours is not None) != theirs]
    print(f"\nmatcher: ours and is-bot disagree on {len(disagree)} of {len(every)} strings; "
          f"{matchers['ours']:.1f} µs per string for ours, {matchers['is-bot']:.1f} µs for is-bot's "
          f"(ratio {matchers['ours'] / matchers['is-bot']:.2f})")
    for ua in disagree[:args.show]:
        print(f"    {ua[:150]}")

    current = npm_isbot_patterns()
    shipped = set(reference.patterns)
    added, dropped = sorted(set(current) - shipped), sorted(shipped - set(current))
    with_current = Bots(current)
    recall_now = {label: sum(with_current.is_bot(ua) for ua in group) / len(group)
                  for label, group in crawlers.items()}
    broad_now = sum(with_current.is_bot(ua) for ua in broad)
    print(f"list: is-bot ships {len(shipped)} patterns; npm isbot {NPM['isbot']} has {len(current)} "
          f"({len(added)} not in is-bot, {len(dropped)} dropped). With npm's list: recall "
          + ", ".join(f"{100 * r:.2f} %" for r in recall_now.values())
          + f"; broad set {broad_now} flagged")

    per_entry = cache_bytes()
    print(f"cache: at most {enrich.AGENT_CACHE} entries of at most {enrich.MAX_AGENT} characters; "
          f"{per_entry:.0f} bytes per full-length entry, so at most {per_entry * enrich.AGENT_CACHE / 1e6:.0f} MB")

    if args.show:
        print(f"\nexamples (up to {args.show} per list), new detector:")
        for label, group in crawlers.items():
            missed = [ua for ua in group if not new_v[ua]]
            print(f"  missed, {label}: {len(missed)}")
            for ua in missed[:args.show]:
                print(f"    {ua[:150]}")
        for label, group in browsers.items():
            flagged = [ua for ua in group if new_v[ua]]
            print(f"  flagged, {label}: {len(flagged)}")
            for ua in flagged[:args.show]:
                print(f"    {NEW(ua).bot_reason}  <-  {ua[:150]}")


if __name__ == "__main__":
    main()
