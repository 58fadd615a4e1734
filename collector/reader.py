"""A database file opened for reading: reports, lists, exports.

It starts no thread and never migrates: a file whose schema is older than this release's is refused
(SchemaBehind, naming `webleads migrate`), not upgraded as a side effect of a read. The events a
crash left in the journal are moved in first, as a store would (a report must count every
acknowledged event). Writes that reads need, the derived tables a report keeps up to date
(analytics' sessions), run through run_write in the calling thread; events cannot be submitted.

A Reader is a Store to the code that takes one (analytics keys its derived tables' bookkeeping on
isinstance(source, Store)), with the Store's write machinery left out: its __init__ is its own."""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Callable, Sequence
from typing import Any

import duckdb

from .eventlog import EventLog
from .journal import SUFFIX as JOURNAL_SUFFIX
from .recovery import recover_directory
from .rows import WriteResult
from .schema import SchemaBehind, connect, latest_version, make_private, schema_version
from .store import Store


class ReadOnly(Exception):
    """Events were submitted to a reader."""


class Reader(Store):
    def __init__(self, path: str) -> None:  # noqa: D107 - deliberately not Store.__init__ (see above)
        self.path = path
        self.conn = conn = connect(path)
        try:
            make_private(path, path + ".wal")
            found, needed = schema_version(conn), latest_version()
            if found < needed:
                raise SchemaBehind(path, found, needed)
            self.applied_migrations: list[str] = []
            self.recovered_from_journal = recover_directory(conn, path + JOURNAL_SUFFIX, EventLog())
        except BaseException:
            conn.close()
            raise
        self._lock = threading.Lock()  # run_write's functions, one at a time, as in a writer thread
        self.on_commit = []  # no mover: never called
        self.on_idle = []
        self._closed = False

    def submit(self, rows: Sequence[tuple[Any, ...]], dedupe_all_time: bool = False
               ) -> concurrent.futures.Future[WriteResult]:
        raise ReadOnly(f"{self.path} is open for reading: events are written by a store")

    def submit_async(self, rows: Sequence[tuple[Any, ...]]) -> asyncio.Future[WriteResult]:
        raise ReadOnly(f"{self.path} is open for reading: events are written by a store")

    def write(self, rows: Sequence[tuple[Any, ...]], dedupe_all_time: bool = False) -> WriteResult:
        raise ReadOnly(f"{self.path} is open for reading: events are written by a store")

    def run_write(self, fn: Callable[[duckdb.DuckDBPyConnection], Any]) -> Any:
        """Run fn(conn) here, in the calling thread (a failed one's transaction is rolled back)."""
        with self._lock:
            try:
                return fn(self.conn)
            except BaseException:
                try:
                    self.conn.execute("ROLLBACK")
                except duckdb.Error:
                    pass
                raise

    def settle(self) -> None:
        """Nothing is pending: every event the file holds is readable."""

    def compact(self) -> None:
        self.run_write(lambda conn: conn.execute("CHECKPOINT"))

    def start_background(self, fn: Callable[[duckdb.DuckDBPyConnection], Any]) -> None:
        """No thread here: the work runs now."""
        self.run_write(fn)

    def wait_background(self, timeout: float | None = None) -> bool:
        return True

    @property
    def queue_depth(self) -> int:
        return 0

    @property
    def journal_events(self) -> int:
        return 0

    @property
    def busy(self) -> bool:
        return False

    @property
    def load(self) -> float:
        return 0.0

    @property
    def stats(self) -> dict[str, Any]:
        return {}

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self.conn.close()
