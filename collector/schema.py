"""Opening a webleads database file and its schema: the connection, the migrations shipped in
collector/sql, owner-only file modes."""

from __future__ import annotations

import contextlib
import os
from importlib import resources

import duckdb

from .fileformat import STORAGE_VERSION, needs_migration
from .rows import utcnow


class DatabaseLocked(Exception):
    """Another process holds the DuckDB file."""


class SchemaBehind(Exception):
    """The file's schema is older than this release's; a read does not upgrade it."""

    def __init__(self, path: str, found: int, needed: int) -> None:
        self.path = path
        self.found = found
        self.needed = needed
        super().__init__(f"{path} has schema version {found}, this release reads version {needed}: upgrade it "
                         f"once with `webleads migrate --db {path}` (or start `webleads serve` on it, which "
                         "upgrades it too)")


def migrations() -> list[tuple[int, str, str]]:
    """(version, name, sql) of every migration shipped in collector/sql, in order."""
    found = []
    for entry in resources.files("webleads.collector").joinpath("sql").iterdir():
        name = entry.name
        if name.endswith(".sql") and name[:3].isdigit():
            found.append((int(name[:3]), name, entry.read_text(encoding="utf-8")))
    return sorted(found)


def latest_version() -> int:
    """The schema version this release's code reads and writes."""
    return max(version for version, _, _ in migrations())


def connect(path: str) -> duckdb.DuckDBPyConnection:
    try:
        # a new file gets the format this release names (collector/fileformat.py); a file keeps its own
        return duckdb.connect(path, config={"storage_compatibility_version": STORAGE_VERSION})
    except duckdb.IOException as exc:
        if "lock" in str(exc).lower():
            raise DatabaseLocked(path) from None
        too_new = needs_migration(path, exc)
        if too_new is not None:
            raise too_new from None
        raise


def schema_version(conn: duckdb.DuckDBPyConnection) -> int:
    """The newest migration this database has seen; 0 for a file without any."""
    held = conn.execute("SELECT count(*) FROM duckdb_tables() WHERE database_name = current_database() "
                        "AND schema_name = 'main' AND table_name = 'schema_migrations'").fetchone()
    if not held or not held[0]:
        return 0
    row = conn.execute("SELECT max(version) FROM schema_migrations").fetchone()
    return int(row[0]) if row and row[0] is not None else 0


def migrate(conn: duckdb.DuckDBPyConnection) -> list[str]:
    """Apply the migrations this database has not seen; returns their names."""
    conn.execute("CREATE TABLE IF NOT EXISTS schema_migrations "
                 "(version INTEGER PRIMARY KEY, name VARCHAR, applied_at TIMESTAMP)")
    done = {v for (v,) in conn.execute("SELECT version FROM schema_migrations").fetchall()}
    applied = []
    for version, name, sql in migrations():
        if version in done:
            continue
        conn.execute("BEGIN")
        try:
            conn.execute(sql)
            conn.execute("INSERT INTO schema_migrations VALUES ($v, $n, $t)",
                         {"v": version, "n": name, "t": utcnow()})
            conn.execute("COMMIT")
        except Exception:
            conn.execute("ROLLBACK")
            raise
        applied.append(name)
    if applied:  # schema changes go into the file at once: DuckDB 1.5.5 fails to replay some from its log
        conn.execute("CHECKPOINT")
    return applied


def make_private(*paths: str) -> None:
    """Owner-only access to files that hold salts and captured form fields (made by an earlier
    version, or under a loose umask; `webleads` itself adds 077 to the umask)."""
    for path in paths:
        with contextlib.suppress(OSError):  # absent, or not ours to change
            mode = os.stat(path).st_mode & 0o777
            if mode & 0o077:
                os.chmod(path, mode & 0o700)


def quote_literal(text: str) -> str:
    """Text for inside a single-quoted SQL literal (ATTACH takes no parameters)."""
    return text.replace("'", "''")
