"""Copy a local database file's events, sites and API tokens into a lake (`webleads lake push --db FILE`),
idempotently: run again, after a failure or on purpose, it adds only what the lake lacks.

The events go month by month (of their `ts`), one lake transaction each, so that an interrupted push
keeps the months it committed and the progress can be told. An event is in the lake already when one
with the same site, scope (public or authenticated way in: rows.PUBLIC_ORIGINS) and id has the same
`ts`: an event keeps its `ts` wherever it is stored, which lets each month compare itself with that
month of the lake only."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path

import duckdb

from .lake import ALIAS, LakeError, retry_conflicts
from .lake_shared import lock_table
from .rows import COLUMN_NAMES, PUBLIC_ORIGINS

SOURCE = "webleads_push_source"
_PUBLIC = ", ".join(f"'{o}'" for o in PUBLIC_ORIGINS)


def push_file(conn: duckdb.DuckDBPyConnection, db_path: str | Path,
              progress: Callable[[date, int, int], None] | None = None) -> dict[str, int]:
    """Copy the file's events, sites and tokens into the lake attached to `conn`. `progress` is told
    each month: its first day, the events added, and the events of that month in the file. Returns the
    counts added."""
    path = Path(db_path)
    if not path.is_file():
        raise LakeError(f"{path}: no such database file")
    quoted = str(path).replace("'", "''")
    try:
        conn.execute(f"ATTACH '{quoted}' AS {SOURCE} (READ_ONLY)")
    except duckdb.Error as exc:
        raise LakeError(f"cannot open {path}: {exc}") from None
    try:
        return {"events": _push_events(conn, progress), "sites": _push_sites(conn), "tokens": _push_tokens(conn)}
    finally:
        conn.execute(f"DETACH {SOURCE}")


def _push_events(conn: duckdb.DuckDBPyConnection, progress: Callable[[date, int, int], None] | None) -> int:
    present = {c for (c,) in conn.execute(
        "SELECT column_name FROM duckdb_columns() WHERE database_name = $d AND table_name = 'event_log'",
        {"d": SOURCE}).fetchall()}
    if not present:
        raise LakeError("the file has no event_log table: not a webleads database")
    columns = ", ".join(f"s.{c}" for c in COLUMN_NAMES if c in present)
    months = conn.execute(f"SELECT date_trunc('month', ts)::DATE AS m, count(*) FROM {SOURCE}.event_log "
                          "GROUP BY m ORDER BY m").fetchall()
    added = 0
    for month, in_file in months:
        def insert(c: duckdb.DuckDBPyConnection, month: date = month) -> int:
            row = c.execute(f"""
                INSERT INTO {ALIAS}.event_log ({', '.join(c for c in COLUMN_NAMES if c in present)})
                SELECT {columns} FROM {SOURCE}.event_log s
                WHERE s.ts >= $m AND s.ts < $m + INTERVAL 1 MONTH
                  AND NOT EXISTS (
                    SELECT 1 FROM {ALIAS}.event_log l
                    WHERE l.ts >= $m AND l.ts < $m + INTERVAL 1 MONTH
                      AND l.site = s.site AND l.event_id = s.event_id AND l.ts = s.ts
                      AND (l.origin IN ({_PUBLIC})) = (s.origin IN ({_PUBLIC})))""", {"m": month}).fetchone()
            return int(row[0]) if row else 0
        count = retry_conflicts(conn, insert)
        added += count
        if progress:
            progress(month, count, int(in_file))
    return added


def _push_sites(conn: duckdb.DuckDBPyConnection) -> int:
    def insert(c: duckdb.DuckDBPyConnection) -> int:
        lock_table(c, "sites")
        row = c.execute(f"""
            INSERT INTO {ALIAS}.sites
            SELECT s.name, s.origins, s.allowed_params, s.consent, s.retention_months, s.created_at
            FROM {SOURCE}.sites s WHERE s.name NOT IN (SELECT name FROM {ALIAS}.sites)""").fetchone()
        return int(row[0]) if row else 0
    return retry_conflicts(conn, insert)


def _push_tokens(conn: duckdb.DuckDBPyConnection) -> int:
    row = retry_conflicts(conn, lambda c: c.execute(f"""
        INSERT INTO {ALIAS}.api_tokens
        SELECT t.token_hash, t.name, t.created_at, t.last_used_at FROM {SOURCE}.api_tokens t
        WHERE t.token_hash NOT IN (SELECT token_hash FROM {ALIAS}.api_tokens)""").fetchone())
    return int(row[0]) if row else 0
