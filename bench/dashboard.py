"""Benchmark of the dashboard pages: `python bench/dashboard.py` (one command; not part of pytest).

It fills a database with `webleads demo` through the real ingest path until it holds about --events
events (kept in bench/out/ and reused while it has that many), starts `webleads serve` on it, signs in
through the sign-in form like a browser, then loads each page --repeat times (after two warm-up loads:
the first report builds the derived sessions) and prints the median and 95th percentile of the time
from sending the request to the last byte of the answer, over loopback, against the 300 ms goal. The
trivial /healthz is timed in the same run, the same way, as a baseline; the last column is the ratio.

With --db PATH it uses an existing database instead (e.g. the 10-million-event file that
bench/reports.py builds, which the ingest path would take hours to fill); the periods of the pages then
end on the day of its last event when that is before today, so that they hold its traffic.

    python bench/dashboard.py [--events 100000] [--repeat 30] [--rebuild] [--db PATH]
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import time
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import duckdb
import httpx

HERE = Path(__file__).resolve().parent
OUT = HERE / "out"
GOAL_MS = 300.0
EVENTS_PER_VISITOR = 6.3  # what `webleads demo` makes on average


def webleads(*args: str, db: Path) -> str:
    proc = subprocess.run([sys.executable, "-m", "webleads", *args, "--db", str(db)], capture_output=True,
                          text=True, check=False)
    if proc.returncode:
        raise SystemExit(f"webleads {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}")
    return proc.stdout


def count_events(db: Path) -> int:
    with duckdb.connect(str(db), read_only=True) as conn:
        row = conn.execute("SELECT count(*) FROM event_log").fetchone()
        return int(row[0]) if row else 0


def build(db: Path, events: int, rebuild: bool) -> int:
    if db.exists() and not rebuild:
        found = count_events(db)
        if found >= 0.9 * events:
            return found
    for path in (db, db.with_name(db.name + ".wal")):
        path.unlink(missing_ok=True)
    visitors = max(100, round(events / EVENTS_PER_VISITOR))
    started = time.perf_counter()
    print(f"filling {db} with webleads demo --visitors {visitors} (about {events:,} events)...", flush=True)
    webleads("demo", "--visitors", str(visitors), "--seed", "5", db=db)
    found = count_events(db)
    print(f"  {found:,} events in {time.perf_counter() - started:.0f}s", flush=True)
    return found


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start(db: Path, port: int, log: Path) -> subprocess.Popen[bytes]:
    with open(log, "wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "webleads", "serve", "--db", str(db), "--port", str(port)],
                                stdout=out, stderr=subprocess.STDOUT,
                                env={**os.environ, "WEBLEADS_LOG_LEVEL": "warning"})
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"webleads serve exited:\n{log.read_text()}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    proc.kill()
    raise SystemExit("webleads serve did not answer in 60 s")


def last_day(db: Path) -> date | None:
    with duckdb.connect(str(db), read_only=True) as conn:
        row = conn.execute("SELECT CAST(max(ts) AS DATE) FROM event_log").fetchone()
        return row[0] if row else None


def pages(today: date, explicit: bool = False) -> list[tuple[str, str]]:
    q90 = f"from={(today - timedelta(days=90)).isoformat()}&to={today.isoformat()}"
    q30 = f"?from={(today - timedelta(days=30)).isoformat()}&to={today.isoformat()}" if explicit else ""
    funnel = "step=pageview:/&step=pageview:/formation*&step=pageview:/candidater&step=conversion:candidater"
    return [
        ("overview (30 days)", f"/dashboard{q30}"),
        ("overview (90 days)", f"/dashboard?{q90}"),
        ("attribution (30 days, 2 models)", f"/dashboard/attribution{q30}"),
        ("attribution (90 days, by campaign, 3 models)",
         f"/dashboard/attribution?{q90}&by=campaign&model=linear&compare=first_touch&compare=linear"
         "&compare=last_touch"),
        ("attribution (90 days, markov)", f"/dashboard/attribution?{q90}&model=markov&compared=1"),
        ("funnel (90 days, 4 steps)", f"/dashboard/funnel?{q90}&{funnel}&window=14d"),
        ("funnel (90 days, 4 steps, split by channel)", f"/dashboard/funnel?{q90}&{funnel}&window=14d&split=channel"),
        ("leads (90 days)", f"/dashboard/leads?{q90}"),
        ("links", "/dashboard/links"),
        ("attribution.csv (90 days)", f"/dashboard/attribution.csv?{q90}&model=position_based"),
        ("leads.csv (90 days)", f"/dashboard/leads.csv?{q90}"),
    ]


def timed(client: httpx.Client, path: str, repeat: int) -> list[float]:
    for _ in range(2):  # warm-up: derived sessions, caches
        response = client.get(path)
        if response.status_code != 200:
            raise SystemExit(f"{path}: {response.status_code}\n{response.text[:500]}")
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        response = client.get(path)
        response.read()
        times.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200
    return times


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--rebuild", action="store_true")
    parser.add_argument("--db", type=Path, default=None, help="an existing database to use as it is")
    args = parser.parse_args()
    OUT.mkdir(exist_ok=True)
    if args.db:
        db = args.db
        if not db.exists():
            raise SystemExit(f"{db}: no such database (python bench/reports.py --events N --db {db} builds one)")
        events = count_events(db)
    else:
        db = OUT / "dashboard.duckdb"
        events = build(db, args.events, args.rebuild)
    last = last_day(db) if args.db else None  # before the server holds the file
    token = webleads("token", "create", "--name", "bench", db=db).strip().splitlines()[-1]
    port = free_port()
    proc = start(db, port, OUT / "dashboard-serve.log")
    base = f"http://127.0.0.1:{port}"
    try:
        with httpx.Client(base_url=base, timeout=60) as client:
            signed = client.post("/dashboard/signin", data={"token": token}, headers={"Origin": base})
            if signed.status_code != 303 or "wl_session" not in client.cookies:
                raise SystemExit(f"sign-in failed: {signed.status_code} {signed.text[:300]}")
            today = datetime.now(ZoneInfo("Europe/Paris")).date()
            explicit = last is not None and last < today
            if explicit:
                today = last
            baseline = timed(client, "/healthz", args.repeat)
            base_median = statistics.median(baseline)
            print(f"\n{events:,} events, {args.repeat} loads per page after 2 warm-up loads; "
                  f"goal: {GOAL_MS:.0f} ms per page\n")
            print(f"{'page':48} {'median ms':>10} {'p95 ms':>8}  {'goal':6} {'x healthz':>9}")
            print(f"{'/healthz (baseline)':48} {base_median:10.1f} {p95(baseline):8.1f}  {'':6} {1.0:9.1f}")
            for name, path in pages(today, explicit):
                times = timed(client, path, args.repeat)
                median = statistics.median(times)
                verdict = "ok" if p95(times) <= GOAL_MS else "OVER"
                print(f"{name:48} {median:10.1f} {p95(times):8.1f}  {verdict:6} {median / base_median:9.1f}",
                      flush=True)
    finally:
        proc.terminate()
        proc.wait(60)


if __name__ == "__main__":
    main()
