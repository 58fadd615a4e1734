"""The events table as the store writes it: the Arrow form of event rows, and the two ways rows go
into event_log (a move from the journal; a recovery that skips what the table holds already).

`EventLog` is where the mover puts events. A lake backend puts its own table here: the journal and
the mover stay the same, the rows go elsewhere."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from .journal import read_segment
from .rows import COLUMN_NAMES, PUBLIC_ORIGINS

log = logging.getLogger("webleads.store")

_TYPES = {"received_at": pa.timestamp("us"), "ts": pa.timestamp("us"), "is_bot": pa.bool_()}
EVENT_COLUMNS: tuple[tuple[str, pa.DataType], ...] = tuple((name, _TYPES.get(name, pa.string()))
                                                          for name in COLUMN_NAMES)
EVENT_SCHEMA = pa.schema(list(EVENT_COLUMNS))


class EventLog:
    """event_log of the DuckDB file."""

    def insert(self, cur: duckdb.DuckDBPyConnection, moved: pa.Table) -> None:
        """The rows of `moved` (EVENT_SCHEMA), in the caller's transaction."""
        cur.execute("INSERT INTO event_log SELECT * FROM moved")  # the Arrow table, found by its name

    def insert_missing(self, cur: duckdb.DuckDBPyConnection, found: pa.Table) -> int:
        """Insert the rows of `found` (by column name) whose event id event_log does not hold in the
        same scope (site, way in: rows.id_key); returns how many were inserted."""
        row = cur.execute(
            "INSERT INTO event_log BY NAME SELECT f.* FROM found f ANTI JOIN "
            "(SELECT event_id, site, list_contains($public, origin) AS public FROM event_log "
            " WHERE received_at >= (SELECT min(received_at) FROM found)) e "
            "ON e.event_id = f.event_id AND e.site = f.site AND e.public = list_contains($public, f.origin)",
            {"public": list(PUBLIC_ORIGINS)}).fetchone()
        return int(row[0]) if row else 0


def rows_to_arrow(rows: Iterable[tuple[Any, ...]]) -> pa.Table:
    rows = list(rows)
    if not rows:
        return EVENT_SCHEMA.empty_table()
    columns = list(zip(*rows, strict=True))
    return pa.Table.from_arrays([pa.array(col, type=t) for col, (_, t) in zip(columns, EVENT_COLUMNS,
                                                                                 strict=True)],
                                schema=EVENT_SCHEMA)


def journal_table(columns: list[str], rows: list[list[Any]]) -> pa.Table:
    """Rows read from the journal (timestamps as ISO 8601 text) as an Arrow table, by column name;
    a column event_log does not have (a journal of a later version) is left out."""
    types = dict(EVENT_COLUMNS)
    names, arrays = [], []
    for i, name in enumerate(columns):
        if name not in types:
            log.warning("the journal has a column %r that event_log has not; left out", name)
            continue
        values = [row[i] for row in rows]
        kind = types[name]
        names.append(name)
        if pa.types.is_timestamp(kind):
            arrays.append(pa.array(values, pa.string()).cast(kind))
        else:
            arrays.append(pa.array(values, kind))
    return pa.Table.from_arrays(arrays, names=names)


def segment_table(path: Path) -> pa.Table | None:
    """A journal segment's rows as an Arrow table (None when it holds none); a batch torn by a crash was
    never acknowledged, so it is left out with a warning."""
    columns, rows, torn = read_segment(path)
    if torn:
        log.warning("%s: the last %d bytes were a batch being written when the collector stopped "
                    "(never acknowledged); skipped", path, torn)
    return journal_table(columns, rows) if rows else None
