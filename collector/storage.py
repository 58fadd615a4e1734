"""What the rest of webleads uses of a store: the typed seam a second backend implements.

Two implement it today: `store.Store` (the DuckDB file: writer and mover threads, the collector and
every command that writes) and `reader.Reader` (the same file opened for reading: no thread, no
migration). A lake backend (DuckLake: a catalog in PostgreSQL, Parquet files in a shared folder or
an S3 bucket; issue #18) keeps the local journal and writer of `Store` and moves the events into
the lake instead of the local events table (collector/eventlog.py is where the rows go).

What a backend must guarantee:

- Durability before the answer: the future of `submit`/`submit_async` (and `write`) resolves only
  once the rows are durably committed on this machine (the journal's fsync): a 2xx is never sent for
  a row that a kill -9 could lose. A full queue raises `rows.Overloaded` at once (a 503), a closing
  store `rows.StoreClosed`; nothing accepted is ever dropped.
- Exactly-once moves: every acknowledged row reaches the events table exactly once, across crashes
  and restarts (recovery skips the rows already moved) and, for a shared lake, across collectors.
  Event ids are unique per scope (`rows.id_key`): a retried id is counted in `WriteResult.duplicates`.
- Read-your-writes for `run_write` (and `settle`): the function runs after every row acknowledged
  before it is visible in the events table, in order with the other writes; `query` and `cursor`
  read what was committed, events acknowledged up to a moment ago included once `settle()` returned.
- Writes to the shared tables (sites, tokens, links, costs, outcomes, salts) go through `run_write`,
  one at a time.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

import duckdb

from .rows import WriteResult

Job = Callable[[duckdb.DuckDBPyConnection], Any]


class Storage(Protocol):
    path: str

    # --- events in -------------------------------------------------------------------------
    def submit(self, rows: Sequence[tuple[Any, ...]], dedupe_all_time: bool = False
               ) -> concurrent.futures.Future[WriteResult]:
        """Queue event rows (tuples in rows.COLUMN_NAMES order); the future resolves once they are
        durable. `dedupe_all_time`: check their ids against every stored event (imports, API), not
        only the recent ones."""
        ...

    def submit_async(self, rows: Sequence[tuple[Any, ...]]) -> asyncio.Future[WriteResult]:
        """The same from the event loop: an asyncio future of the running loop."""
        ...

    def write(self, rows: Sequence[tuple[Any, ...]], dedupe_all_time: bool = False) -> WriteResult:
        """submit(), then wait for it."""
        ...

    # --- other writes ----------------------------------------------------------------------
    def run_write(self, fn: Job) -> Any:
        """Run fn(conn) where writes belong, once every event acknowledged before is readable;
        returns its result (or raises its exception)."""
        ...

    def settle(self) -> None:
        """Return once every event acknowledged so far is readable."""
        ...

    def compact(self) -> None:
        """Reclaim the space of deleted rows (after a retention purge)."""
        ...

    def start_background(self, fn: Job) -> None:
        """Run fn(conn) beside the writes (derived tables that may take a while); close() waits."""
        ...

    def wait_background(self, timeout: float | None = None) -> bool:
        """Wait for the background work started so far; False if some still runs at timeout."""
        ...

    # --- reads -----------------------------------------------------------------------------
    def query(self, sql: str, params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        """Rows as dicts, from any thread."""
        ...

    def cursor(self) -> duckdb.DuckDBPyConnection:
        """A cursor for reading from the calling thread (each thread its own); close it after use."""
        ...

    # --- state ------------------------------------------------------------------------------
    @property
    def queue_depth(self) -> int:
        """Events submitted and not yet durable."""
        ...

    @property
    def journal_events(self) -> int:
        """Events durable and not yet in the events table."""
        ...

    @property
    def busy(self) -> bool:
        """Whether the writes keep the writer busy (work that can wait should)."""
        ...

    @property
    def stats(self) -> Mapping[str, Any]:
        """Counters for /metrics and the health check (batches, events, duplicates, commit times...)."""
        ...

    def close(self) -> None:
        """Write everything accepted, wait for the background work, release the database."""
        ...
