"""How long a checkpoint holds the writer, with and without DuckDB's vacuum, as the table grows;
and how long a commit waits when the store checkpoints in the background, as it does.

    python bench/checkpoint.py [--events 400000] [--every 40000] [--batch 25]

Writes events through the real store (collector/store.py) in batches of --batch, as live traffic
does, and checkpoints in the writer thread every --every events, timing each checkpoint. Twice, on
fresh files: with DuckDB's default vacuum (the baseline: a checkpoint also merges the row groups
that earlier checkpoints wrote), then without it, as under traffic (the merge waits for a quiet
moment). A checkpoint inside a commit holds every request waiting on that commit as long.
Then a third time as the store runs: each write is committed to the journal, the mover takes the
journal's batches into the database and checkpoints it when the log reaches the size it had every
--every events above, while writes go on; each write is timed.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import duckdb

from webleads.collector.store import EVENT_COLUMNS, CheckpointPolicy, Store, utcnow


def rows(start: int, n: int) -> list[tuple[Any, ...]]:
    now = utcnow()
    pages = ["/", "/formation-developpeur-web", "/candidater?utm_source=newsletter&utm_medium=email",
             "/coworking", "/fablab"]
    out = []
    for i in range(start, start + n):
        values = {"event_id": f"e{i}", "received_at": now, "ts": now, "site": "ecloserie", "type": "pageview",
                  "visitor_id": f"v{i // 5}", "visitor_kind": "consent",
                  "url": f"https://www.ecloserie.test{pages[i % 5]}", "path": pages[i % 5].split("?")[0],
                  "referrer": "https://www.google.fr/", "referrer_domain": "google.fr",
                  "utm_source": "newsletter" if i % 5 == 2 else None, "browser": "Chrome",
                  "browser_version": str(100 + i % 30), "os": "Windows", "device": "desktop", "is_bot": False,
                  "origin": "beacon"}
        out.append(tuple(values.get(name) for name, _ in EVENT_COLUMNS))
    return out


def measure(db: Path, events: int, every: int, batch: int, vacuum: bool,
            log_sizes: list[int] | None = None) -> list[tuple[int, float]]:
    store = Store(str(db), checkpoints=CheckpointPolicy(under_traffic_bytes=1 << 40))  # only the checkpoints made here
    try:
        if vacuum:  # the baseline: DuckDB's default number of vacuum tasks
            tasks = duckdb.connect().execute("SELECT current_setting('max_vacuum_tasks')").fetchone()[0]  # type: ignore[index]
            store.run_write(lambda conn: conn.execute(f"SET max_vacuum_tasks = {tasks}"))
        store.run_write(lambda conn: conn.execute("SET checkpoint_threshold = '10GB'"))  # only ours
        pauses = []
        written = 0
        while written < events:
            store.write(rows(written, batch))
            written += batch
            if written % every == 0:
                if log_sizes is not None:
                    log_sizes.append(os.path.getsize(str(db) + ".wal"))
                store.settle()  # the journal's batches into the database first: not timed
                started = time.perf_counter()
                store.run_write(lambda conn: conn.execute("CHECKPOINT"))
                pauses.append((written, time.perf_counter() - started))
        return pauses
    finally:
        store.close()


def measure_background(db: Path, events: int, batch: int, log_bytes: int) -> dict[str, float]:
    """Write as the store runs, the mover checkpointing past `log_bytes` of log."""
    store = Store(str(db), checkpoints=CheckpointPolicy(under_traffic_bytes=log_bytes))
    try:
        waits = []
        held = 0
        written = 0
        while written < events:
            started = time.perf_counter()
            store.write(rows(written, batch))
            waits.append(time.perf_counter() - started)
            held = max(held, store.journal_events)
            written += batch
        store.settle()
        return {"checkpoints": store.stats["checkpoints"], "seconds": store.stats["checkpoint_seconds_total"],
                "moves": store.stats["moves"], "held": held, "longest": max(waits),
                "over_50ms": sum(w > 0.05 for w in waits), "writes": len(waits)}
    finally:
        store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=400_000)
    parser.add_argument("--every", type=int, default=40_000, help="events between checkpoints")
    parser.add_argument("--batch", type=int, default=25, help="events per commit")
    args = parser.parse_args()
    if args.batch < 1 or args.every < args.batch or args.every % args.batch or args.events < args.every:
        raise SystemExit("--every must be a multiple of --batch, and --events at least --every")
    sizes: list[int] = []
    with tempfile.TemporaryDirectory(prefix="webleads-bench-") as tmp:
        base = measure(Path(tmp) / "vacuum.duckdb", args.events, args.every, args.batch, vacuum=True)
        ours = measure(Path(tmp) / "store.duckdb", args.events, args.every, args.batch, vacuum=False,
                       log_sizes=sizes)
        log_bytes = sorted(sizes)[len(sizes) // 2]
        bg = measure_background(Path(tmp) / "background.duckdb", args.events, args.batch, log_bytes)
    print(f"checkpoint every {args.every:,} events, written {args.batch} per commit\n")
    print(f"{'events':>9}  {'with vacuum (DuckDB default)':>29}  {'without (under traffic)':>24}")
    for (n, a), (_, b) in zip(base, ours, strict=True):
        print(f"{n:>9,}  {a * 1000:>26.0f} ms  {b * 1000:>21.0f} ms")
    worst_a, worst_b = max(p for _, p in base), max(p for _, p in ours)
    total_a, total_b = sum(p for _, p in base), sum(p for _, p in ours)
    print(f"\nlongest pause: {worst_a * 1000:.0f} ms with vacuum, {worst_b * 1000:.0f} ms without "
          f"(ratio {worst_b / worst_a:.2f}); all pauses: {total_a:.2f} s against {total_b:.2f} s "
          f"(ratio {total_b / total_a:.2f})")
    print(f"\nas the store runs (the mover checkpoints past {log_bytes / 1e6:.1f} MB of log): "
          f"{bg['checkpoints']:.0f} checkpoints, {bg['seconds']:.2f} s in all; {bg['moves']:,.0f} moves "
          f"from the journal, at most {bg['held']:,.0f} events waiting in it")
    print(f"longest write: {bg['longest'] * 1000:.0f} ms, against {worst_b * 1000:.0f} ms for the longest "
          f"checkpoint inside a commit (ratio {bg['longest'] / worst_b:.2f}); "
          f"{bg['over_50ms']:.0f} of {bg['writes']:,.0f} writes over 50 ms")


if __name__ == "__main__":
    main()
