"""Crash recovery: the events a journal still holds when the store opens (the collector stopped without
closing: a crash, kill -9) go into the events table, those already there excepted."""

from __future__ import annotations

import logging
from pathlib import Path

import duckdb

from .eventlog import EventLog, segment_table
from .journal import Journal

log = logging.getLogger("webleads.store")


def recover(conn: duckdb.DuckDBPyConnection, journal: Journal, target: EventLog) -> int:
    """Move what `journal` holds into `target`, then delete its segments; returns how many events
    were missing from the table."""
    segments = journal.segments()
    recovered = _replay(conn, segments, target)
    journal.discard(segments)
    return recovered


def recover_directory(conn: duckdb.DuckDBPyConnection, directory: str, target: EventLog) -> int:
    """The same for a store that writes no journal of its own (a reader): nothing is made on the disk
    when no journal is there."""
    if not Path(directory).is_dir():
        return 0
    journal = Journal(directory, ())
    try:
        return recover(conn, journal, target)
    finally:
        journal.close()


def _replay(conn: duckdb.DuckDBPyConnection, segments: list[Path], target: EventLog) -> int:
    recovered = 0
    for segment in segments:
        table = segment_table(segment)
        if table is not None:
            recovered += target.insert_missing(conn, table)
    if recovered:
        log.info("%d acknowledged events moved from the journal into the database", recovered)
    return recovered
