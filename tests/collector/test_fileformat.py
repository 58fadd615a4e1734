"""Every DuckDB file webleads creates names its storage format; a file of a newer DuckDB is refused
with one line naming `webleads migrate`; the command's own mistakes are one-line errors. (The whole
conversion of a first-release file is in test_migrate.py.)"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from webleads.collector import ops
from webleads.collector.fileformat import STORAGE_NUMBER, NeedsMigration, header_version, needs_migration
from webleads.collector.store import Store

from conftest import webleads


def test_the_store_and_its_backups_write_the_named_storage_format(tmp_path: Path) -> None:
    db = tmp_path / "fresh.duckdb"
    store = Store(str(db))
    try:
        ops.backup(store, str(tmp_path / "copy.duckdb"))
    finally:
        store.close()
    assert header_version(db) == STORAGE_NUMBER
    assert header_version(tmp_path / "copy.duckdb") == STORAGE_NUMBER
    assert header_version(tmp_path / "missing.duckdb") is None


def test_duckdb_s_words_for_a_newer_file_become_the_migrate_advice() -> None:
    error = OSError("IO Error: Trying to read a database file with version number 999, but we can only read "
                    "versions between 64 and 68.\nThe database file was created with an newer version of DuckDB.")
    found = needs_migration("/var/lib/webleads/webleads.duckdb", error)
    assert isinstance(found, NeedsMigration) and found.found == 999
    assert "`webleads migrate --db /var/lib/webleads/webleads.duckdb`" in str(found)
    assert "\n" not in str(found)
    assert needs_migration("x.duckdb", OSError("IO Error: Could not set lock on file")) is None


def test_migrate_leaves_a_file_it_reads_alone_and_says_so(db_path: Path) -> None:
    webleads("site", "add", "ecloserie", "--origin", "https://www.ecloserie.fr", db=db_path)
    before = db_path.read_bytes()
    assert "nothing to convert" in webleads("migrate", db=db_path).stdout
    assert db_path.read_bytes() == before
    assert not [p for p in db_path.parent.iterdir() if "before-migrate" in p.name]


@pytest.mark.parametrize("args, words", [
    pytest.param((), "no database file at", id="no-file"),
    pytest.param(("--duckdb", "latest; rm -rf /"), "is not a release number", id="bad-version"),
])
def test_migrate_mistakes_are_one_line_errors(tmp_path: Path, args: tuple[str, ...], words: str) -> None:
    result = webleads("migrate", *args, db=tmp_path / "absent.duckdb", check=False)
    assert result.returncode == 1 and words in result.stderr, result.stderr
    assert result.stderr.startswith("Error: ") and "Traceback" not in result.stderr


def test_migrate_refuses_while_a_collector_holds_the_file(db_path: Path) -> None:
    webleads("site", "add", "ecloserie", "--origin", "https://www.ecloserie.fr", db=db_path)
    holder = subprocess.Popen([sys.executable, "-c", f"import duckdb, time; c = duckdb.connect({str(db_path)!r}); "
                                                     "print('held', flush=True); time.sleep(60)"],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        result = webleads("migrate", db=db_path, check=False)
    finally:
        holder.kill()
        holder.wait()
        if holder.stdout is not None:
            holder.stdout.close()
    assert result.returncode == 1 and "a collector is running on" in result.stderr, result.stderr


def test_the_migrations_of_a_new_file_replay_from_the_log_after_a_crash(tmp_path: Path) -> None:
    """A crash before any checkpoint leaves the schema in DuckDB's write-ahead log only; DuckDB 1.5.5
    could not replay migration 3's ADD COLUMN while allowed_params' default was the literal `[]`."""
    db = tmp_path / "crash.duckdb"
    crash = ("import os, duckdb\n"
             "from webleads.collector.store import migrations\n"
             f"conn = duckdb.connect({str(db)!r})\n"
             "conn.execute('CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name VARCHAR, "
             "applied_at TIMESTAMP)')\n"
             "for version, name, sql in migrations():  # as store.migrate() does, without its checkpoint\n"
             "    conn.execute(sql)\n"
             "    conn.execute('INSERT INTO schema_migrations VALUES (?, ?, now())', [version, name])\n"
             "os._exit(9)\n")
    done = subprocess.run([sys.executable, "-c", crash], capture_output=True, text=True, timeout=60)
    assert done.returncode == 9, done.stderr
    assert Path(f"{db}.wal").stat().st_size > 0
    store = Store(str(db))
    try:
        columns = store.query("SELECT column_name AS c FROM duckdb_columns() WHERE table_name = 'sites'")
        assert {"allowed_params", "consent"} <= {r["c"] for r in columns}
    finally:
        store.close()
