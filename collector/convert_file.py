"""Copy a DuckDB database into a new file of a given storage version: run by `webleads migrate`
(collector/migrate_file.py) as a script, under the DuckDB that can read the old file, in a temporary
environment. It imports nothing but the standard library and duckdb, so that it runs there.

    python -I convert_file.py OLD NEW STORAGE_VERSION

It reports on stdout, one JSON object per line: {"tables": [[name, rows], ...]}, then
{"table", "copied", "rows"} as the copy goes, then {"done": true, "counts": {...}, "checksum": ...};
or {"error": ..., "unreadable": bool} (exit code 1).

The old file is attached read-only: its write-ahead log, if any, is replayed in memory and the file
is left as it was. The schema (tables, views, macros, sequences) is copied by COPY FROM DATABASE, then
each table's rows in slices of its rowid, in order: a table's rowid order is the events' arrival
order, which the reports use to order events of one instant."""

from __future__ import annotations

import json
import sys
from typing import Any

import duckdb

SLICE_ROWS = 1_000_000


def emit(**fields: Any) -> None:
    print(json.dumps(fields), flush=True)


def literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def tables(conn: duckdb.DuckDBPyConnection, database: str) -> list[tuple[str, str]]:
    return [(s, t) for s, t in conn.execute(
        "SELECT schema_name, table_name FROM duckdb_tables() WHERE database_name = ? AND NOT temporary "
        "ORDER BY schema_name, table_name", [database]).fetchall()]


def counts(conn: duckdb.DuckDBPyConnection, database: str, names: list[tuple[str, str]]) -> dict[str, int]:
    found = {}
    for schema, table in names:
        row = conn.execute(f"SELECT count(*) FROM {ident(database)}.{ident(schema)}.{ident(table)}").fetchone()
        found[f"{schema}.{table}"] = int(row[0]) if row else 0
    return found


def checksum(conn: duckdb.DuckDBPyConnection, database: str) -> str | None:
    """The event ids in arrival order, hashed: the same in both files if nothing was lost or reordered."""
    present = conn.execute("SELECT count(*) FROM duckdb_tables() WHERE database_name = ? AND schema_name = 'main' "
                           "AND table_name = 'event_log'", [database]).fetchone()
    if not present or not present[0]:
        return None
    row = conn.execute(f"SELECT md5(coalesce(string_agg(event_id, ',' ORDER BY rowid), '')) "
                       f"FROM {ident(database)}.main.event_log").fetchone()
    return str(row[0]) if row else None


def convert(old: str, new: str, storage_version: str) -> None:
    conn = duckdb.connect()
    conn.execute("SET preserve_insertion_order = true")
    try:
        conn.execute(f"ATTACH {literal(old)} AS old_db (READ_ONLY)")
    except duckdb.Error as exc:
        emit(error=str(exc).splitlines()[0], unreadable="version number" in str(exc))
        sys.exit(1)
    names = tables(conn, "old_db")
    before = counts(conn, "old_db", names)
    emit(tables=[[name, rows] for name, rows in before.items()])
    conn.execute(f"ATTACH {literal(new)} AS new_db (STORAGE_VERSION {literal(storage_version)})")
    conn.execute("COPY FROM DATABASE old_db TO new_db (SCHEMA)")
    for schema, table in names:
        name = f"{schema}.{table}"
        source = f"old_db.{ident(schema)}.{ident(table)}"
        target = f"new_db.{ident(schema)}.{ident(table)}"
        row = conn.execute(f"SELECT max(rowid) FROM {source}").fetchone()
        last = row[0] if row and row[0] is not None else -1
        copied = 0
        for start in range(0, last + 1, SLICE_ROWS):
            row = conn.execute(f"INSERT INTO {target} SELECT * FROM {source} WHERE rowid >= ? AND rowid < ?",
                               [start, start + SLICE_ROWS]).fetchone()
            copied += int(row[0]) if row else 0
            emit(table=name, copied=copied, rows=before[name])
        if last < 0:
            emit(table=name, copied=0, rows=0)
    conn.execute("CHECKPOINT new_db")
    after = counts(conn, "new_db", names)
    sums = {"old": checksum(conn, "old_db"), "new": checksum(conn, "new_db")}
    conn.execute("DETACH new_db")
    conn.execute("DETACH old_db")
    conn.close()
    if after != before or sums["old"] != sums["new"]:
        emit(error=f"the copy differs from the original: {before} rows before, {after} after", unreadable=False)
        sys.exit(1)
    emit(done=True, counts=after, checksum=sums["new"], duckdb=duckdb.__version__)


def main() -> None:
    if len(sys.argv) != 4:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    try:
        convert(sys.argv[1], sys.argv[2], sys.argv[3])
    except duckdb.Error as exc:
        emit(error=str(exc).splitlines()[0], unreadable=False)
        sys.exit(1)


if __name__ == "__main__":
    main()
