"""Reports read the file through a reader: no writer or mover thread, no migration on a read, the same
rows as through the collector's store."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import duckdb
import pytest

from webleads.analytics import reports
from webleads.collector.reader import Reader, ReadOnly
from webleads.collector.schema import SchemaBehind, latest_version, migrations
from webleads.collector.store import Store

from conftest import webleads

# Runs a `webleads` command and prints, on its last line of stderr, the names of the threads it started.
WATCHED = """
import json, sys, threading
started = []
threading.settrace(lambda *args: started.append(threading.current_thread().name))
from webleads.cli import main
try:
    main(sys.argv[1:])
finally:
    print(json.dumps(sorted(set(started))), file=sys.stderr)
"""
STORE_THREADS = {"webleads-writer", "webleads-mover", "webleads-background"}


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    db = tmp_path_factory.mktemp("reader") / "demo.duckdb"
    webleads("demo", "--visitors", "500", db=db)
    return db


def _watched(*args: str) -> tuple[subprocess.CompletedProcess[str], set[str]]:
    done = subprocess.run([sys.executable, "-c", WATCHED, *args], capture_output=True, text=True, timeout=120)
    return done, set(json.loads(done.stderr.strip().splitlines()[-1]))


def test_a_report_on_a_file_starts_no_writer_and_gives_the_rows_of_the_store(demo_db: Path) -> None:
    store = Store(str(demo_db))
    try:
        expected = reports.leads(store)
    finally:
        store.close()
    assert len(expected) >= 5
    done, threads = _watched("report", "leads", "--db", str(demo_db), "--format", "json")
    assert done.returncode == 0, done.stderr
    assert not threads & STORE_THREADS, threads
    rows = json.loads(done.stdout)
    rows = rows["rows"] if isinstance(rows, dict) else rows
    assert [r["lead_id"] for r in rows] == [r["lead_id"] for r in expected]
    assert [r["last_campaign"] for r in rows] == [r["last_campaign"] for r in expected]
    # and a command that writes still opens the store
    done, threads = _watched("token", "create", "--db", str(demo_db))
    assert done.returncode == 0, done.stderr
    assert {"webleads-writer", "webleads-mover"} <= threads


def test_the_reader_reads_what_the_store_reads(demo_db: Path) -> None:
    store = Store(str(demo_db))
    try:
        expected = [reports.attribution(store, "linear"), reports.funnel(store, ["pageview:*", "conversion:*"])]
    finally:
        store.close()
    before = {t.name for t in threading.enumerate()}
    reader = Reader(str(demo_db))
    try:
        assert {t.name for t in threading.enumerate()} == before
        got = [reports.attribution(reader, "linear"), reports.funnel(reader, ["pageview:*", "conversion:*"])]
        assert {t.name for t in threading.enumerate()} == before
        assert got == expected
        with pytest.raises(ReadOnly):
            reader.write([])
    finally:
        reader.close()


def _old_file(path: Path) -> int:
    """A file that saw every migration but the last: an earlier release's."""
    last = latest_version()
    with duckdb.connect(str(path)) as conn:
        conn.execute("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name VARCHAR, "
                     "applied_at TIMESTAMP)")
        for version, name, sql in migrations():
            if version == last:
                break
            conn.execute(sql)
            conn.execute("INSERT INTO schema_migrations VALUES (?, ?, now()::TIMESTAMP)", [version, name])
    return last


def _versions(path: Path) -> list[Any]:
    with duckdb.connect(str(path), read_only=True) as conn:
        return [v for (v,) in conn.execute("SELECT version FROM schema_migrations ORDER BY version").fetchall()]


def test_a_file_of_an_older_schema_is_refused_by_a_read_and_upgraded_by_migrate(tmp_path: Path) -> None:
    db = tmp_path / "old.duckdb"
    last = _old_file(db)
    with pytest.raises(SchemaBehind):
        Reader(str(db))
    result = webleads("report", "leads", db=db, check=False)
    assert result.returncode == 1
    assert f"webleads migrate --db {db}" in result.stderr and "Traceback" not in result.stderr
    assert last not in _versions(db), "a read must not migrate the file"
    out = webleads("migrate", db=db).stdout
    assert "nothing to convert" in out and "Schema upgraded" in out
    assert _versions(db)[-1] == last
    assert webleads("report", "leads", db=db).returncode == 0


CRASH = """
import os, sys
from webleads.collector.rows import utcnow
from webleads.collector.store import MovePolicy, Store
store = Store(sys.argv[1], moves=MovePolicy(seconds=3600))  # nothing reaches event_log: the journal holds it
now = utcnow()
store.write([(f"c{i}", now, now, "ecloserie", "pageview", None, f"v{i}", "consent", "https://x.test/", "/",
              *[None] * 14, "desktop", False, None, None, None, None, "beacon") for i in range(20)])
os._exit(9)  # no close: as kill -9
"""


def test_a_reader_counts_the_events_a_crash_left_in_the_journal(tmp_path: Path) -> None:
    db = tmp_path / "crash.duckdb"
    done = subprocess.run([sys.executable, "-c", CRASH, str(db)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 9, done.stderr
    assert list(Path(f"{db}.journal").glob("*.jsonl"))
    reader = Reader(str(db))
    try:
        assert reader.recovered_from_journal == 20
        assert reader.query("SELECT count(*) AS n FROM event_log") == [{"n": 20}]
    finally:
        reader.close()
    assert not Path(f"{db}.journal").exists()
    reader = Reader(str(db))  # nothing twice
    try:
        assert reader.recovered_from_journal == 0
        assert reader.query("SELECT count(*) AS n FROM event_log") == [{"n": 20}]
    finally:
        reader.close()
