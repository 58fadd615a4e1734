"""A DuckLake as the shared store of many collectors: its catalog in PostgreSQL (or a `.ducklake`
file for one machine), its data as Parquet files in a folder or an S3 bucket.

This module opens a lake (the extensions from their wheels, an S3 secret from the standard AWS
environment variables), creates the shared tables, and keeps the daily salt there. The move of the
local journal's batches into the lake is in lake_mover.py.

DuckLake has no primary keys, unique constraints or indexes. What a key would guarantee is obtained
otherwise: events are appended exactly once by the mover (a marker in the same lake transaction), and
the one salt per day by a table named after the day, because two transactions creating the same
name conflict and DuckLake refuses the second commit."""

from __future__ import annotations

import os
import re
import secrets
import time
from collections.abc import Callable, Mapping
from datetime import date, datetime
from pathlib import Path
from typing import TypeVar

import duckdb

from . import extensions
from .rows import COLUMN_NAMES

ALIAS = "lake"
# Rows of an insert up to this many are kept in the catalog (DuckLake's data inlining) rather than in a
# Parquet file of their own: the mover's one-row markers and the salts. The event batches it moves are
# larger and go to Parquet.
INLINING_ROW_LIMIT = 10
# Commits that lose a race to another collector and do not conflict are retried by DuckLake itself, up
# to ducklake_max_retry_count times (10 by default), its wait growing by half each time (100 ms first):
# about 11 s in all. That default is kept: a higher count makes the last waits minutes long. Past it,
# and for real conflicts (creating a table another collector created), the whole transaction is run
# again by retry_conflicts, at most CONFLICT_ATTEMPTS times.
CONFLICT_ATTEMPTS = 20
SALT_PREFIX = "daily_salt_"
ATTACH_ATTEMPTS = 5

_TIMESTAMPS = {"received_at", "ts"}
_BOOLEANS = {"is_bot"}
_REQUIRED = {"event_id", "received_at", "ts", "site", "type", "visitor_id", "visitor_kind", "is_bot", "origin"}


class LakeError(Exception):
    """The lake cannot be opened or used: a message for the user, no traceback."""


def event_columns_sql() -> str:
    """event_log's columns as in the local file (collector/sql/001_initial.sql), in journal order."""
    def kind(name: str) -> str:
        return "TIMESTAMP" if name in _TIMESTAMPS else "BOOLEAN" if name in _BOOLEANS else "VARCHAR"
    return ", ".join(f"{name} {kind(name)}{' NOT NULL' if name in _REQUIRED else ''}" for name in COLUMN_NAMES)


SCHEMA = (
    f"CREATE TABLE IF NOT EXISTS {ALIAS}.event_log ({event_columns_sql()})",
    # One row per move: which collector moved which of its journal claims (lake_mover.py).
    f"CREATE TABLE IF NOT EXISTS {ALIAS}.journal_moves (collector VARCHAR NOT NULL, seq BIGINT NOT NULL, "
    "events BIGINT NOT NULL, moved_at TIMESTAMP NOT NULL)",
    f"CREATE TABLE IF NOT EXISTS {ALIAS}.sites (name VARCHAR NOT NULL, origins VARCHAR[] NOT NULL, "
    "allowed_params VARCHAR[] NOT NULL, consent VARCHAR NOT NULL, retention_months INTEGER, "
    "created_at TIMESTAMP NOT NULL)",
    f"CREATE TABLE IF NOT EXISTS {ALIAS}.api_tokens (token_hash VARCHAR NOT NULL, name VARCHAR NOT NULL, "
    "created_at TIMESTAMP NOT NULL, last_used_at TIMESTAMP)",
)


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def s3_secret_sql(env: Mapping[str, str]) -> str | None:
    """CREATE SECRET for DuckDB's S3 client from the standard AWS variables, or None without a key.
    AWS_ENDPOINT_URL names a store other than AWS (MinIO, SeaweedFS, Garage...): those are addressed
    by path (bucket in the path, not in the host name), and plain http when the URL says so."""
    key, secret = env.get("AWS_ACCESS_KEY_ID"), env.get("AWS_SECRET_ACCESS_KEY")
    if not key or not secret:
        return None
    options = [f"KEY_ID {_quote(key)}", f"SECRET {_quote(secret)}"]
    region = env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION")
    if region:
        options.append(f"REGION {_quote(region)}")
    if env.get("AWS_SESSION_TOKEN"):
        options.append(f"SESSION_TOKEN {_quote(env['AWS_SESSION_TOKEN'])}")
    endpoint = env.get("AWS_ENDPOINT_URL_S3") or env.get("AWS_ENDPOINT_URL")
    if endpoint:
        match = re.match(r"^(https?)://([^/]+)/?$", endpoint.strip())
        if not match:
            raise LakeError(f"AWS_ENDPOINT_URL {endpoint!r}: expected http(s)://host[:port]")
        options += [f"ENDPOINT {_quote(match[2])}", "URL_STYLE 'path'",
                    f"USE_SSL {'true' if match[1] == 'https' else 'false'}"]
    return f"CREATE OR REPLACE SECRET webleads_s3 (TYPE s3, {', '.join(options)})"


def attach_target(catalog: str) -> str:
    """What follows `ducklake:` in ATTACH: a PostgreSQL connection string as given, or a file path."""
    if catalog.startswith("postgres:"):
        return catalog
    if catalog.startswith("ducklake:"):
        catalog = catalog[len("ducklake:"):]
    return str(Path(catalog).expanduser())


def connect(catalog: str, data_path: str | None = None, env: Mapping[str, str] | None = None,
            threads: int | None = None) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection with the lake attached as `lake` and its tables created. `data_path` is
    needed when the lake is created (DuckLake keeps it in the catalog afterwards)."""
    env = os.environ if env is None else env
    config: dict[str, object] = dict(extensions.NO_DOWNLOADS)
    if threads:
        config["threads"] = threads
    conn = duckdb.connect(config=config)
    try:
        # httpfs even without a data path given: an existing lake's path, kept in its catalog, may be
        # on S3.
        needed = ["ducklake", "httpfs"]
        if catalog.startswith("postgres:"):
            needed.append("postgres_scanner")
        extensions.load(conn, *needed)
        secret = s3_secret_sql(env)
        if secret:
            conn.execute(secret)
        elif data_path and data_path.startswith("s3://"):
            raise LakeError(f"the lake's data path {data_path} needs AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY")
        remote = bool(data_path and "://" in data_path)
        options = [f"DATA_INLINING_ROW_LIMIT {INLINING_ROW_LIMIT}"]
        if data_path:
            if not remote:
                Path(data_path).mkdir(parents=True, exist_ok=True)
            options.insert(0, f"DATA_PATH {_quote(data_path)}")
        _attach(conn, f"ATTACH {_quote('ducklake:' + attach_target(catalog))} AS {ALIAS} ({', '.join(options)})")
        retry_conflicts(conn, lambda c: [c.execute(sql) for sql in SCHEMA])
    except extensions.ExtensionMissing as exc:
        conn.close()
        raise LakeError(str(exc)) from None
    except duckdb.Error as exc:
        conn.close()
        raise LakeError(f"cannot open the lake {catalog}: {exc}") from None
    except BaseException:
        conn.close()
        raise
    return conn


def _attach(conn: duckdb.DuckDBPyConnection, sql: str) -> None:
    """ATTACH, again when another collector was creating the same new lake at that moment: DuckLake
    creates its catalog tables without guarding against a concurrent creation, and the loser's
    CREATE TABLE fails; once the winner's are committed, ATTACH finds them and works."""
    for attempt in range(ATTACH_ATTEMPTS):
        try:
            conn.execute(sql)
            return
        except duckdb.Error as exc:
            if "initialize DuckLake" not in str(exc) or attempt == ATTACH_ATTEMPTS - 1:
                raise
            time.sleep(0.2 + secrets.randbelow(200) / 1000)


T = TypeVar("T")


def retry_conflicts(conn: duckdb.DuckDBPyConnection, work: Callable[[duckdb.DuckDBPyConnection], T],
                    attempts: int = CONFLICT_ATTEMPTS) -> T:
    """Run `work` in one transaction; when its commit conflicts with another collector's (both
    created the same table, say), roll back and run it again on the newer snapshot."""
    for attempt in range(attempts):
        conn.execute("BEGIN TRANSACTION")
        try:
            result = work(conn)
            conn.execute("COMMIT")
            return result
        except duckdb.TransactionException:
            _rollback(conn)
            if attempt == attempts - 1:
                raise
            time.sleep(min(0.5, 0.01 * (attempt + 1)) + secrets.randbelow(10) / 1000)
        except BaseException:
            _rollback(conn)
            raise
    raise AssertionError("unreachable")


def _rollback(conn: duckdb.DuckDBPyConnection) -> None:
    try:
        conn.execute("ROLLBACK")
    except duckdb.Error:
        pass  # a failed COMMIT has ended the transaction already


# --- the daily salt -------------------------------------------------------------------------------
def _salt_table(day: date) -> str:
    return f"{ALIAS}.{SALT_PREFIX}{day:%Y%m%d}"


def _read_salt(conn: duckdb.DuckDBPyConnection, day: date) -> bytes | None:
    name = f"{SALT_PREFIX}{day:%Y%m%d}"
    exists = conn.execute("SELECT count(*) FROM duckdb_tables() WHERE database_name = $db AND table_name = $t",
                          {"db": ALIAS, "t": name}).fetchone()
    if not exists or not exists[0]:
        return None
    row = conn.execute(f"SELECT salt FROM {_salt_table(day)}").fetchone()
    return bytes(row[0]) if row else None


def salt_for(conn: duckdb.DuckDBPyConnection, day: date) -> bytes:
    """The day's salt, made by whichever collector asks first. Every collector creates the day's
    table in its own transaction; DuckLake lets exactly one such commit through and refuses the
    others as conflicting, which then read the winner's salt."""
    def create_or_read(c: duckdb.DuckDBPyConnection) -> bytes:
        found = _read_salt(c, day)
        if found is not None:
            return found
        salt = secrets.token_bytes(32)
        c.execute(f"CREATE TABLE {_salt_table(day)} AS SELECT $s::BLOB AS salt", {"s": salt})
        return salt
    return retry_conflicts(conn, create_or_read)


def forget_old_salts(conn: duckdb.DuckDBPyConnection, oldest: date) -> int:
    """Drop the salts of days before `oldest`; returns how many."""
    names = [n for (n,) in conn.execute(
        "SELECT table_name FROM duckdb_tables() WHERE database_name = $db AND starts_with(table_name, $p)",
        {"db": ALIAS, "p": SALT_PREFIX}).fetchall()]
    old = [n for n in names if n[len(SALT_PREFIX):].isdigit() and n[len(SALT_PREFIX):] < f"{oldest:%Y%m%d}"]

    def drop(c: duckdb.DuckDBPyConnection) -> int:
        for name in old:
            c.execute(f"DROP TABLE IF EXISTS {ALIAS}.{name}")
        return len(old)
    return retry_conflicts(conn, drop) if old else 0


# --- maintenance ------------------------------------------------------------------------------------
def data_files(conn: duckdb.DuckDBPyConnection, table: str = "event_log") -> int:
    """How many Parquet files the table's current snapshot reads."""
    row = conn.execute(f"SELECT count(*) FROM ducklake_list_files({_quote(ALIAS)}, {_quote(table)})").fetchone()
    return int(row[0]) if row else 0


def compact(conn: duckdb.DuckDBPyConnection, delete_threshold: float | None = None) -> None:
    """DuckLake's own maintenance: rewrite the files whose rows are mostly deleted (any share above
    `delete_threshold`, DuckLake's default when None), merge the small files the moves wrote, expire
    the snapshots that referenced the old files, and delete the files no snapshot needs any more."""
    threshold = "" if delete_threshold is None else f", delete_threshold => {float(delete_threshold)}"
    conn.execute(f"CALL ducklake_rewrite_data_files({_quote(ALIAS)}{threshold})")
    conn.execute(f"CALL ducklake_merge_adjacent_files({_quote(ALIAS)})")
    conn.execute(f"CALL ducklake_expire_snapshots({_quote(ALIAS)}, older_than => now())")
    conn.execute(f"CALL ducklake_cleanup_old_files({_quote(ALIAS)}, cleanup_all => true)")


def purge_before(conn: duckdb.DuckDBPyConnection, cutoff: datetime, site: str | None = None) -> int:
    """Delete the events (of one site, or all) older than `cutoff`, then rewrite every file that held
    one, so that they are gone from the Parquet files (a deletion is otherwise a list of positions
    beside a file that keeps the rows). Returns how many."""
    where = "ts < $cutoff" + (" AND site = $site" if site is not None else "")
    params: dict[str, object] = {"cutoff": cutoff} | ({"site": site} if site is not None else {})
    row = retry_conflicts(conn, lambda c: c.execute(f"DELETE FROM {ALIAS}.event_log WHERE {where}", params)
                          .fetchone())
    deleted = int(row[0]) if row else 0
    if deleted:
        compact(conn, delete_threshold=0.0)
    return deleted


def check(catalog: str, data_path: str | None = None,
          env: Mapping[str, str] | None = None) -> list[tuple[str, bool, str]]:
    """What `doctor` reports about a lake: each extension, the catalog, the data path (listed with the
    credentials in use). Each line is (what, fine, detail); nothing raises."""
    lines: list[tuple[str, bool, str]] = []
    for name in ("ducklake", "postgres_scanner", "httpfs"):
        try:
            lines.append((f"extension {name}", True, str(extensions.extension_path(name))))
        except extensions.ExtensionMissing as exc:
            lines.append((f"extension {name}", False, str(exc)))
    try:
        conn = connect(catalog, data_path, env)
    except LakeError as exc:
        return [*lines, ("catalog", False, str(exc))]
    try:
        snapshot = conn.execute(f"SELECT max(snapshot_id) FROM ducklake_snapshots({_quote(ALIAS)})").fetchone()
        lines.append(("catalog", True, f"{catalog} (snapshot {snapshot[0] if snapshot else '?'})"))
        where = conn.execute(f"SELECT value FROM ducklake_options({_quote(ALIAS)}) WHERE option_name = 'data_path'"
                             ).fetchone()
        path = str(where[0]) if where else (data_path or "?")
        try:
            files = conn.execute("SELECT count(*) FROM glob($p)", {"p": path.rstrip("/") + "/**"}).fetchone()
            lines.append(("data path", True, f"{path} ({files[0] if files else 0} file(s))"))
        except duckdb.Error as exc:
            lines.append(("data path", False, f"{path}: {str(exc).splitlines()[0]}"))
    finally:
        conn.close()
    return lines
