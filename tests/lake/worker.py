"""A collector's write path in a process of its own, for the lake's tests and benchmark:

    python worker.py append CATALOG DATA_PATH JOURNAL_DIR NAME BATCHES ROWS [MOVE_EVERY [ID_PREFIX]]
        journals BATCHES batches of ROWS events (each batch synced: what a 2xx promises), sealing a
        segment every MOVE_EVERY batches and moving it into the lake; prints `acked N` after each
        batch and `moved N` after each move, then `done`. Event ids are `ID_PREFIX-<n>` (NAME by default).
    python worker.py recover CATALOG DATA_PATH JOURNAL_DIR NAME
        what a restarted collector does first: moves what its journal holds; prints `moved N`.
    python worker.py salt CATALOG DATA_PATH DAY GO
        prints the day's salt (hex), asked for at the time GO (seconds since the epoch): every
        process connected by then, so that all ask at once.
    python worker.py site CATALOG DATA_PATH NAME ORIGIN GO
        adds the site at the time GO; prints `added` or `refused: <reason>`.

The lake's S3 credentials come from the AWS environment variables, as in production."""

from __future__ import annotations

import sys
import time
from datetime import date, datetime

from webleads.collector import lake
from webleads.collector.journal import Journal
from webleads.collector.lake_mover import LakeMover
from webleads.collector.lake_shared import LakeSite, add_site
from webleads.collector.rows import COLUMN_NAMES


def event(name: str, n: int, now: datetime) -> list[object]:
    values: dict[str, object] = {
        "event_id": f"{name}-{n}", "received_at": now, "ts": now, "site": "demo", "type": "pageview",
        "visitor_id": f"v{n % 97}", "visitor_kind": "hash", "url": f"https://example.org/p{n % 13}",
        "path": f"/p{n % 13}", "is_bot": False, "origin": "beacon", "utm_source": "newsletter" if n % 5 == 0 else None,
    }
    return [values.get(column) for column in COLUMN_NAMES]


def append(catalog: str, data_path: str, journal_dir: str, name: str, batches: int, rows: int,
           move_every: int = 1, prefix: str = "") -> None:
    conn = lake.connect(catalog, data_path or None, threads=1)
    journal = Journal(journal_dir, COLUMN_NAMES)
    mover = LakeMover(conn, journal_dir, name)
    moved = mover.recover()
    if moved:
        print(f"moved {moved}", flush=True)
    n = 0
    for batch in range(1, batches + 1):
        now = datetime.utcnow()
        journal.append([event(prefix or name, n + i, now) for i in range(rows)])
        n += rows
        print(f"acked {n}", flush=True)
        if batch % move_every == 0 or batch == batches:
            sealed = journal.seal()
            print(f"moved {mover.move([sealed] if sealed else [])}", flush=True)
    journal.close()
    print("done", flush=True)


def recover(catalog: str, data_path: str, journal_dir: str, name: str) -> None:
    conn = lake.connect(catalog, data_path or None, threads=1)
    mover = LakeMover(conn, journal_dir, name)
    moved = mover.recover()
    # Segments the stopped collector had not claimed yet: a restarted store moves all it finds.
    journal = Journal(journal_dir, COLUMN_NAMES)
    moved += mover.move(journal.segments())
    print(f"moved {moved}", flush=True)


def salt(catalog: str, data_path: str, day: str, go: str) -> None:
    conn = lake.connect(catalog, data_path or None, threads=1)
    time.sleep(max(0.0, float(go) - time.time()))
    started = time.monotonic()
    value = lake.salt_for(conn, date.fromisoformat(day))
    print(value.hex(), f"{time.monotonic() - started:.3f}", flush=True)


def site(catalog: str, data_path: str, name: str, origin: str, go: str) -> None:
    conn = lake.connect(catalog, data_path or None, threads=1)
    time.sleep(max(0.0, float(go) - time.time()))
    try:
        add_site(conn, LakeSite(name, (origin,), (), "optional", None))
        print("added", flush=True)
    except lake.LakeError as exc:
        print(f"refused: {exc}", flush=True)


if __name__ == "__main__":
    command, args = sys.argv[1], sys.argv[2:]
    if command == "append":
        append(args[0], args[1], args[2], args[3], int(args[4]), int(args[5]), int(args[6]) if len(args) > 6 else 1,
               args[7] if len(args) > 7 else "")
    elif command == "recover":
        recover(*args[:4])
    elif command == "site":
        site(*args[:5])
    elif command == "salt":
        salt(*args[:4])
    else:
        sys.exit(f"unknown command {command}")
