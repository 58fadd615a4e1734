"""The move of journaled events into a DuckLake with a real PostgreSQL catalog: exactly once, with
collectors in processes of their own, concurrent, and killed with SIGKILL in the middle."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import duckdb

from webleads.collector import lake
from webleads.collector.journal import Journal
from webleads.collector.lake_mover import CLAIM, LakeMover, collector_id
from webleads.collector.rows import COLUMN_NAMES

from .worker import event

WORKER = str(Path(__file__).with_name("worker.py"))


def _ids(conn: duckdb.DuckDBPyConnection) -> list[str]:
    return [i for (i,) in conn.execute("SELECT event_id FROM lake.event_log").fetchall()]


def _spawn(*args: object, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, WORKER, *map(str, args)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env={**os.environ, **(env or {})})


def _finish(process: subprocess.Popen[str], timeout: float = 120) -> str:
    out, err = process.communicate(timeout=timeout)
    assert process.returncode == 0, err
    return out


def test_a_move_puts_the_journal_in_the_lake_with_the_same_columns(pg_catalog: str, lake_data: str,
                                                                    tmp_path: Path) -> None:
    conn = lake.connect(pg_catalog, lake_data)
    journal = Journal(tmp_path / "j", COLUMN_NAMES)
    now = datetime(2026, 12, 4, 10, 30, 1, 250000)
    journal.append([event("a", i, now) for i in range(300)])
    sealed = journal.seal()
    assert sealed is not None
    mover = LakeMover(conn, tmp_path / "j", "a")
    assert mover.move([sealed]) == 300
    assert not list((tmp_path / "j").iterdir()), "the moved segment is deleted"
    columns = [c for (c,) in conn.execute("SELECT column_name FROM duckdb_columns() WHERE database_name = 'lake' "
                                          "AND table_name = 'event_log' ORDER BY column_index").fetchall()]
    assert tuple(columns) == COLUMN_NAMES
    row = conn.execute("SELECT ts, is_bot, utm_source, path FROM lake.event_log WHERE event_id = 'a-5'").fetchone()
    assert row == (now, False, "newsletter", "/p5")
    assert mover.committed() == 1 and list(Path(lake_data).rglob("*.parquet"))


def test_a_claim_the_lake_has_is_deleted_and_one_it_has_not_is_moved(pg_catalog: str, lake_data: str,
                                                                       tmp_path: Path) -> None:
    """The two states a SIGKILL can leave behind, made on disk as the kill leaves them."""
    conn = lake.connect(pg_catalog, lake_data)
    folder = tmp_path / "j"
    journal = Journal(folder, COLUMN_NAMES)
    now = datetime(2026, 12, 4, 10, 0)
    journal.append([event("a", i, now) for i in range(10)])
    first = journal.seal()
    journal.append([event("a", i, now) for i in range(10, 25)])
    second = journal.seal()
    assert first and second
    kept = tmp_path / "copy"
    shutil.copy(first, kept)
    mover = LakeMover(conn, folder, "a")
    assert mover.move([first]) == 10
    # killed after the lake's commit, before the claim was deleted:
    shutil.copy(kept, folder / f"{first.name}{CLAIM}1")
    # killed after claiming the second segment, before the lake's commit:
    os.replace(second, folder / f"{second.name}{CLAIM}2")
    restarted = LakeMover(conn, folder, "a")
    assert restarted.recover() == 15
    assert sorted(_ids(conn)) == sorted(f"a-{i}" for i in range(25))
    assert not list(folder.iterdir())
    assert restarted.prune() == 1 and restarted.committed() == 2


def test_two_collectors_appending_at_once_lose_nothing_and_duplicate_nothing(pg_catalog: str, lake_data: str,
                                                                             tmp_path: Path) -> None:
    batches, rows = 30, 200
    workers = [_spawn("append", pg_catalog, lake_data, tmp_path / name, name, batches, rows)
               for name in ("one", "two")]
    for worker in workers:
        assert "done" in _finish(worker)
    conn = lake.connect(pg_catalog, lake_data)
    ids = _ids(conn)
    assert len(ids) == len(set(ids)) == 2 * batches * rows
    assert set(ids) == {f"{name}-{i}" for name in ("one", "two") for i in range(batches * rows)}


def test_a_collector_killed_while_moving_moves_the_rest_exactly_once_on_restart(pg_catalog: str, lake_data: str,
                                                                                tmp_path: Path) -> None:
    """SIGKILL at several points of a run of moves; after each, the restart moves what was left. In
    the end the lake holds every acknowledged event once (and no event never acknowledged)."""
    folder = tmp_path / "j"
    acked: set[str] = set()
    written: set[str] = set()
    for round_ in range(4):
        prefix = f"r{round_}"
        worker = _spawn("append", pg_catalog, lake_data, folder, "k", 400, 50, 1, prefix)
        assert worker.stdout is not None
        moves = 0
        count = 0
        for line in worker.stdout:
            if line.startswith("acked"):
                count = int(line.split()[1])
            elif line.startswith("moved"):
                moves += 1
                if moves == 5 + 7 * round_:
                    break
        # the kill lands wherever the worker is now: journaling, claiming, committing or deleting
        worker.send_signal(signal.SIGKILL)
        worker.communicate()
        acked |= {f"{prefix}-{i}" for i in range(count)}
        # a batch synced but not yet reported when the kill came is in the journal too
        written |= {f"{prefix}-{i}" for i in range(count + 50)}
    restarted = _finish(_spawn("recover", pg_catalog, lake_data, folder, "k"))
    assert restarted.startswith("moved")
    conn = lake.connect(pg_catalog, lake_data)
    ids = _ids(conn)
    assert len(ids) == len(set(ids)), "an event moved twice"
    assert acked <= set(ids) <= written
    assert not [p for p in folder.iterdir() if CLAIM in p.name], "a claim left behind"
    assert not Journal(folder, COLUMN_NAMES).segments(), "a segment left behind"


def test_the_collector_id_survives_a_restart(tmp_path: Path) -> None:
    made = collector_id(tmp_path / "lake-id")
    assert made == collector_id(tmp_path / "lake-id") and len(made) == 32
