"""The DuckDB store: a database file, its journal, a writer thread and a mover thread.

Every write goes through the writer (collector/writer.py): batches of events waiting in its queue
are committed together to the journal (collector/journal.py: one append and its sync), and each
submitter's future resolves only then: a 2xx answer means the event is on the disk. The mover
(collector/mover.py) takes what the journal holds into event_log, hundreds of events in one DuckDB
transaction, and the checkpoint policy (collector/checkpoint.py) moves DuckDB's log into the file at
moments of its choosing: no request waits for DuckDB. Jobs (reports' derived tables, imports' id
checks, purges, backups) run in the writer thread once the mover has caught up, so they see every
event acknowledged so far. Readers use cursors of the same connection from any thread; event_log
holds the events acknowledged up to MovePolicy.seconds ago (settle() for all of them).

Opening a store migrates the schema (collector/schema.py), moves in what a crash left in the
journal (collector/recovery.py) and loads the recent event ids (collector/dedupe.py). A command that
only reads opens a reader instead (collector/reader.py). Both are collector/storage.py's Storage."""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
from collections.abc import Callable, Sequence
from typing import Any

import duckdb
import pyarrow as pa

from .checkpoint import CheckpointPolicy, Checkpoints
from .dedupe import RecentIds
from .eventlog import EVENT_COLUMNS, EVENT_SCHEMA, EventLog, rows_to_arrow
from .journal import SUFFIX as JOURNAL_SUFFIX
from .journal import Journal
from .mover import MovePolicy, Mover
from .recovery import recover
from .rows import COLUMN_NAMES, WriteResult, utcnow
from .schema import DatabaseLocked, connect, make_private, migrate, migrations
from .writer import COMMIT_BUCKETS, LOAD_WINDOW, Writer

# Names other modules import from here (the store's public face; the parts may move).
__all__ = ["COMMIT_BUCKETS", "EVENT_COLUMNS", "EVENT_SCHEMA", "CheckpointPolicy", "DatabaseLocked",
           "MovePolicy", "Store", "migrate", "migrations", "rows_to_arrow", "utcnow"]

log = logging.getLogger("webleads.store")
DEFAULT_MOVES = MovePolicy()
DEFAULT_CHECKPOINTS = CheckpointPolicy()


def _noop(conn: duckdb.DuckDBPyConnection) -> None:
    return None


class Store:
    def __init__(self, path: str, queue_events: int = 100_000, batch_events: int = 20_000,
                 linger_ms: float = 0.0, *, moves: MovePolicy = DEFAULT_MOVES,
                 checkpoints: CheckpointPolicy = DEFAULT_CHECKPOINTS, load_window: float = LOAD_WINDOW) -> None:
        self.path = path
        self.conn = conn = connect(path)
        try:
            make_private(path, path + ".wal")
            self._checkpoints = Checkpoints(path, conn, checkpoints)
            self.applied_migrations = migrate(conn)
            target = EventLog()
            self.journal = Journal(path + JOURNAL_SUFFIX, COLUMN_NAMES)
            self.recovered_from_journal = recover(conn, self.journal, target)
            recent = RecentIds(conn)
        except BaseException:
            conn.close()
            raise
        self._mover = Mover(conn, self.journal, target, self._checkpoints, moves)
        self._writer = Writer(conn, self._mover, recent, queue_events, batch_events, linger_ms, load_window)
        # Called in the mover thread after each move into event_log, with its cursor and the rows;
        # and after an idle spell (CheckpointPolicy.idle_seconds), with its cursor.
        self.on_commit: list[Callable[[duckdb.DuckDBPyConnection, pa.Table], None]] = self._mover.on_commit
        self.on_idle: list[Callable[[duckdb.DuckDBPyConnection], None]] = self._mover.on_idle

    # --- writing --------------------------------------------------------------------------
    def submit(self, rows: Sequence[tuple[Any, ...]], dedupe_all_time: bool = False
               ) -> concurrent.futures.Future[WriteResult]:
        """Queue rows (tuples in EVENT_COLUMNS order); the future resolves once they are durable."""
        return self._writer.submit(rows, dedupe_all_time)

    def submit_async(self, rows: Sequence[tuple[Any, ...]]) -> asyncio.Future[WriteResult]:
        """Queue rows from the event loop; the asyncio future resolves once they are durable. The
        writer wakes the loop once per batch, not once per request."""
        return self._writer.submit_async(rows)

    def write(self, rows: Sequence[tuple[Any, ...]], dedupe_all_time: bool = False) -> WriteResult:
        return self._writer.submit(rows, dedupe_all_time).result()

    def run_write(self, fn: Callable[[duckdb.DuckDBPyConnection], Any]) -> Any:
        """Run fn(conn) in the writer thread, in order with the event batches, once every batch
        before it is in event_log; returns its result."""
        return self._writer.run(fn)

    def settle(self) -> None:
        """Return once every event acknowledged so far is in event_log."""
        self._writer.run(_noop)

    def compact(self) -> None:
        """Checkpoint now and merge the row groups (after a retention purge: the space of the deleted
        events is reused). In the writer thread, in order with the batches: they wait for it."""
        self._writer.run(self._checkpoints.merge)

    def start_background(self, fn: Callable[[duckdb.DuckDBPyConnection], Any]) -> None:
        """Run fn(conn) in a thread of its own, beside the writer (derived tables that may take a
        while). It uses its own cursor for its own tables; close() waits for it."""
        self._writer.start_background(fn)

    def wait_background(self, timeout: float | None = None) -> bool:
        """Wait for the background work started so far; False if some is still running at timeout."""
        return self._writer.wait_background(timeout)

    # --- reading --------------------------------------------------------------------------
    def cursor(self) -> duckdb.DuckDBPyConnection:
        """A cursor for reading from any thread (each thread its own)."""
        return self.conn.cursor()

    def query(self, sql: str, params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        return query(self.conn, sql, params)

    # --- state ----------------------------------------------------------------------------
    @property
    def queue_depth(self) -> int:
        return self._writer.queue_depth

    @property
    def journal_events(self) -> int:
        """Events acknowledged and not yet moved into event_log."""
        return self._mover.journal_events

    @property
    def busy(self) -> bool:
        """Whether the writer spends most of its time writing (writer.BUSY_LOAD)."""
        return self._writer.busy

    @property
    def load(self) -> float:
        return self._writer.load

    @property
    def stats(self) -> dict[str, Any]:
        return {**self._writer.stats, **self._mover.stats, **self._checkpoints.stats}

    # --- shutting down --------------------------------------------------------------------
    def close(self) -> None:
        """Drain the queue (every queued event is journaled, then moved into event_log), then
        checkpoint and close."""
        if not self._writer.close():
            return
        self._mover.join()
        self._writer.wait_background()
        self.journal.close()
        try:
            self._checkpoints.merge(self.conn)
        except duckdb.Error:
            log.warning("checkpoint at close failed; the write-ahead log will be replayed at next open")
        self.conn.close()


def query(conn: duckdb.DuckDBPyConnection, sql: str, params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """Rows as dicts, on a cursor of its own."""
    cur = conn.cursor()
    try:
        rel = cur.execute(sql, params or {})
        names = [d[0] for d in rel.description]
        return [dict(zip(names, row, strict=True)) for row in rel.fetchall()]
    finally:
        cur.close()
