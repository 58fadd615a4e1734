"""The writer: one thread through which every write goes, in order.

Submitted batches of events wait in a bounded queue (a full queue refuses: Overloaded, a 503). The
writer takes every batch waiting, up to `batch_events`, and commits them together (group commit): it
drops the ids already stored (collector/dedupe.py), hands the new rows to the mover, which makes them
durable in the journal, and resolves each submitter's future only then. Jobs (reports' derived tables,
imports' checks, purges, backups) run in the same thread, in order with the batches, once the mover
has caught up, so they see every event acknowledged before them. Longer derived work runs beside it
(start_background), and close() waits for that too.

The writer knows its load: the share of its time spent on event batches (not waiting for work, not
running jobs), a moving average over about `load_window` seconds. Above BUSY_LOAD it commits back to
back, and work that can wait (the refresh of derived tables) waits for a quieter moment rather than
share the CPU with ingest."""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import duckdb

from .dedupe import SERVER_ID_PREFIX, RecentIds, stored_ids
from .mover import Mover, rollback_quietly
from .rows import COLUMN_INDEX, Overloaded, StoreClosed, WriteResult, id_key

log = logging.getLogger("webleads.store")

# Under load the writer waits up to `linger_ms` for this many events before a commit.
LINGER_ENOUGH = 1000
LOAD_WINDOW = 2.0
BUSY_LOAD = 0.5
# Upper bounds (seconds) of the commit-duration histogram in /metrics: a pause of the writer (a
# checkpoint, a refresh beside it) shows in the upper buckets.
COMMIT_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0)
_ID = COLUMN_INDEX["event_id"]


@dataclass
class _Insert:
    rows: Sequence[tuple[Any, ...]]
    dedupe_all_time: bool
    # Either a thread future (CLI, imports) or an asyncio future of the collector's event loop.
    future: concurrent.futures.Future[WriteResult] | asyncio.Future[WriteResult]


@dataclass
class _Job:
    fn: Callable[[duckdb.DuckDBPyConnection], Any]
    future: concurrent.futures.Future[Any]


class Writer:
    def __init__(self, conn: duckdb.DuckDBPyConnection, mover: Mover, recent: RecentIds,
                 queue_events: int, batch_events: int, linger_ms: float, load_window: float = LOAD_WINDOW) -> None:
        self.conn = conn
        self.mover = mover
        self.recent = recent
        self.queue_limit = queue_events
        self.batch_limit = batch_events
        self.linger = linger_ms / 1000
        self.load_window = load_window
        self.load = 0.0
        self._last_batch_end = time.monotonic()
        self._off_batches = 0.0  # time spent waiting for work or running jobs since the last batch
        # One lock for the queue and the background threads; the writer waits on it for work.
        self._cond = threading.Condition()
        self._pending: deque[_Insert | _Job] = deque()
        self._pending_events = 0
        self._closing = False
        self._background: set[threading.Thread] = set()
        self.stats = {"batches": 0, "events": 0, "duplicates": 0, "last_batch_events": 0,
                      "last_commit_seconds": 0.0, "commit_seconds_total": 0.0,
                      "commit_buckets": [0] * len(COMMIT_BUCKETS)}
        self._thread = threading.Thread(target=self._run, name="webleads-writer", daemon=True)
        self._thread.start()

    @property
    def queue_depth(self) -> int:
        return self._pending_events

    @property
    def busy(self) -> bool:
        """Whether the writer spends most of its time writing (see BUSY_LOAD)."""
        return self.load >= BUSY_LOAD

    def submit(self, rows: Sequence[tuple[Any, ...]], dedupe_all_time: bool = False
               ) -> concurrent.futures.Future[WriteResult]:
        fut: concurrent.futures.Future[WriteResult] = concurrent.futures.Future()
        self._enqueue(_Insert(rows, dedupe_all_time, fut))
        return fut

    def submit_async(self, rows: Sequence[tuple[Any, ...]]) -> asyncio.Future[WriteResult]:
        fut: asyncio.Future[WriteResult] = asyncio.get_running_loop().create_future()
        self._enqueue(_Insert(rows, False, fut))
        return fut

    def _enqueue(self, item: _Insert) -> None:
        with self._cond:
            if self._closing:
                raise StoreClosed()
            if self._pending_events + len(item.rows) > self.queue_limit and self._pending_events > 0:
                raise Overloaded()
            self._pending.append(item)
            self._pending_events += len(item.rows)
            self._cond.notify()

    def run(self, fn: Callable[[duckdb.DuckDBPyConnection], Any]) -> Any:
        fut: concurrent.futures.Future[Any] = concurrent.futures.Future()
        with self._cond:
            if self._closing:
                raise StoreClosed()
            self._pending.append(_Job(fn, fut))
            self._cond.notify()
        return fut.result()

    def start_background(self, fn: Callable[[duckdb.DuckDBPyConnection], Any]) -> None:
        def run() -> None:
            try:
                fn(self.conn)
            finally:
                with self._cond:
                    self._background.discard(thread)

        thread = threading.Thread(target=run, name="webleads-background", daemon=True)
        with self._cond:
            self._background.add(thread)
        thread.start()

    def wait_background(self, timeout: float | None = None) -> bool:
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            running = list(self._background)
        for thread in running:
            thread.join(None if deadline is None else max(0.0, deadline - time.monotonic()))
        return not any(t.is_alive() for t in running)

    def close(self) -> bool:
        """Refuse new work, write what is queued, and end the thread (the mover is told to end
        after it); False if it was closed already."""
        with self._cond:
            if self._closing:
                return False
            self._closing = True
            self._cond.notify_all()
        self._thread.join()
        return True

    # --- in the writer thread ---------------------------------------------------------------
    def _take(self) -> list[_Insert] | _Job | None:
        with self._cond:
            if not self._pending and not self._closing:
                waiting_since = time.monotonic()
                while not self._pending and not self._closing:
                    self._cond.wait()
                self._off_batches += time.monotonic() - waiting_since
            if not self._pending:
                return None
            if isinstance(self._pending[0], _Job):
                return self._pending.popleft()  # type: ignore[return-value]
            # Under concurrent load (the last batch held several requests), wait a moment for more.
            # A lone request is written at once.
            if self.linger and self.stats["last_batch_events"] > 1:
                deadline = time.monotonic() + self.linger
                while (self._pending_events < LINGER_ENOUGH and not self._closing
                       and (left := deadline - time.monotonic()) > 0):
                    self._cond.wait(left)
            batch: list[_Insert] = []
            count = 0
            while self._pending and isinstance(self._pending[0], _Insert):
                item = self._pending[0]
                if batch and count + len(item.rows) > self.batch_limit:
                    break
                self._pending.popleft()
                batch.append(item)
                count += len(item.rows)
            return batch

    def _run(self) -> None:
        try:
            self._serve()
        finally:
            self.mover.stop()

    def _serve(self) -> None:
        drain = self.mover.drain
        while True:
            work = self._take()
            if work is None:
                drain()
                return
            if isinstance(work, _Job):
                began = time.monotonic()
                drain()
                try:
                    work.future.set_result(work.fn(self.conn))
                except BaseException as exc:  # noqa: BLE001 - handed to the caller
                    rollback_quietly(self.conn)
                    work.future.set_exception(exc)
                self._off_batches += time.monotonic() - began  # not ingest: the load leaves it out
                continue
            not_live = any(item.dedupe_all_time for item in work)
            if not_live:
                drain()  # the all-time check reads the table
            try:
                results = self._insert(work)
                if not_live:  # imports and API events are answered once in the table: read at once
                    drain()
            except BaseException as exc:  # noqa: BLE001 - every waiting request learns of it
                log.exception("writing a batch of %d events failed", sum(len(i.rows) for i in work))
                _settle(work, [exc] * len(work))
            else:
                _settle(work, results)
                if self.mover.over_limit:
                    drain()
            finally:
                with self._cond:
                    self._pending_events -= sum(len(i.rows) for i in work)
                self._note_load(time.monotonic())

    def _note_load(self, ended: float) -> None:
        cycle = ended - self._last_batch_end  # since the end of the batch before
        self._last_batch_end = ended
        off, self._off_batches = self._off_batches, 0.0
        share = max(0.0, min(1.0, 1.0 - off / cycle)) if cycle > 0 else 1.0
        self.load += min(1.0, cycle / self.load_window) * (share - self.load)

    def _insert(self, work: list[_Insert]) -> list[WriteResult]:
        """Hand the batch's new events to the mover (one journal append, one sync)."""
        started = time.perf_counter()
        total = sum(len(item.rows) for item in work)
        if any(item.dedupe_all_time for item in work):
            seen = stored_ids(self.conn, [row[_ID] for item in work for row in item.rows])
        else:
            seen = set()
        recent = self.recent
        kept: list[tuple[Any, ...]] = []
        results = []
        for item in work:
            stored = 0
            for row in item.rows:
                key = id_key(row)
                if key in seen or key in recent:
                    continue
                seen.add(key)
                kept.append(row)
                stored += 1
            results.append(WriteResult(stored, len(item.rows) - stored))
        if kept:
            self.mover.accept(kept)
        recent.remember(id_key(row) for row in kept if not row[_ID].startswith(SERVER_ID_PREFIX))
        stats = self.stats
        stats["batches"] += 1
        stats["events"] += len(kept)
        stats["duplicates"] += total - len(kept)
        stats["last_batch_events"] = total
        stats["last_commit_seconds"] = elapsed = time.perf_counter() - started
        stats["commit_seconds_total"] += elapsed
        buckets = stats["commit_buckets"]
        for i, bound in enumerate(COMMIT_BUCKETS):  # cumulative, as Prometheus reads them
            if elapsed <= bound:
                buckets[i] += 1
        return results


def _settle(work: list[_Insert], outcomes: Sequence[WriteResult | BaseException]) -> None:
    """Resolve the futures of a batch: thread futures here, asyncio ones in one call per loop."""
    by_loop: dict[asyncio.AbstractEventLoop, list[tuple[asyncio.Future[WriteResult], Any]]] = {}
    for item, outcome in zip(work, outcomes, strict=True):
        fut = item.future
        if isinstance(fut, asyncio.Future):
            by_loop.setdefault(fut.get_loop(), []).append((fut, outcome))
        elif isinstance(outcome, BaseException):
            fut.set_exception(outcome)
        else:
            fut.set_result(outcome)
    for loop, pairs in by_loop.items():
        try:
            loop.call_soon_threadsafe(_settle_in_loop, pairs)
        except RuntimeError:  # the loop is closed: nobody is waiting any more
            pass


def _settle_in_loop(pairs: list[tuple[asyncio.Future[WriteResult], Any]]) -> None:
    for fut, outcome in pairs:
        if fut.done():
            continue
        if isinstance(outcome, BaseException):
            fut.set_exception(outcome)
        else:
            fut.set_result(outcome)
