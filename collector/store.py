"""The DuckDB store: one connection, one writer thread, a bounded queue, group commit.

Every write goes through the writer thread. Batches of events waiting in the queue are written in
one transaction (group commit) as an Arrow table; each submitter's future resolves only after
COMMIT, so a 2xx answer means the event is in the file. Readers use cursors of the same
connection from any thread.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import itertools
import logging
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from importlib import resources
from typing import Any

import duckdb
import pyarrow as pa

from .rows import COLUMN_INDEX, COLUMN_NAMES, Overloaded, StoreClosed, WriteResult, utcnow

log = logging.getLogger("webleads.store")

_TYPES = {"received_at": pa.timestamp("us"), "ts": pa.timestamp("us"), "is_bot": pa.bool_()}
EVENT_COLUMNS: tuple[tuple[str, pa.DataType], ...] = tuple((name, _TYPES.get(name, pa.string()))
                                                          for name in COLUMN_NAMES)
EVENT_SCHEMA = pa.schema(list(EVENT_COLUMNS))
_ID = COLUMN_INDEX["event_id"]

# Retried client-made event ids are recognised from memory on the live path: the ids of the last
# two days (by arrival), at most RECENT_IDS_LIMIT of them. Imports and API events check all time.
LIVE_DEDUPE_WINDOW = timedelta(days=2)
RECENT_IDS_LIMIT = 1_000_000
# Under load the writer waits up to `linger_ms` for this many events before a commit.
LINGER_ENOUGH = 1000
# DuckDB checkpoints (moves the write-ahead log into the file) inside the commit that makes the log
# pass CHECKPOINT_THRESHOLD, and every request waiting on that commit waits for it. What makes a
# checkpoint long is its vacuum: DuckDB merges the row groups that earlier checkpoints wrote, and the
# work grows with the table (bench/checkpoint.py, 40,000 events between checkpoints: 279 ms at 80,000
# events, 975 ms at 400,000). So checkpoints made under traffic do not vacuum (max_vacuum_tasks = 0):
# each then costs about 0.3 s at 64 MB of log (0.1 s at 16 MB), whatever the size of the table.
# 64 MB rather than DuckDB's 16 MB: under a sustained load, a pause four times less often (about
# 150,000 events apart) holds fewer requests in all, and the row groups it writes are full ones.
# Row groups are merged at quiet moments instead: the checkpoint the writer makes after
# IDLE_CHECKPOINT_SECONDS with nothing to do (when the log holds IDLE_CHECKPOINT_BYTES or more), the
# one at close, and the one after a retention purge.
CHECKPOINT_THRESHOLD = "64MB"
IDLE_CHECKPOINT_SECONDS = 5.0
IDLE_CHECKPOINT_BYTES = 1 << 20
# Upper bounds (seconds) of the commit-duration histogram in /metrics: a pause of the writer (a
# checkpoint, a refresh beside it) shows in the upper buckets.
COMMIT_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0)
# Ids made by the collector start with this (no client id can: it is refused by validation).
_SERVER_ID_PREFIX = "~"


class DatabaseLocked(Exception):
    """Another process holds the DuckDB file."""


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


# What _take returns when the writer has been idle IDLE_CHECKPOINT_SECONDS.
_IDLE = _Job(lambda conn: None, concurrent.futures.Future())


def migrations() -> list[tuple[int, str, str]]:
    """(version, name, sql) of every migration shipped in collector/sql, in order."""
    found = []
    for entry in resources.files("webleads.collector").joinpath("sql").iterdir():
        name = entry.name
        if name.endswith(".sql") and name[:3].isdigit():
            found.append((int(name[:3]), name, entry.read_text(encoding="utf-8")))
    return sorted(found)


def connect(path: str) -> duckdb.DuckDBPyConnection:
    try:
        return duckdb.connect(path)
    except duckdb.IOException as exc:
        if "lock" in str(exc).lower():
            raise DatabaseLocked(path) from None
        raise


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
    return applied


class Store:
    def __init__(self, path: str, queue_events: int = 100_000, batch_events: int = 20_000,
                 linger_ms: float = 0.0) -> None:
        self.path = path
        self.conn = connect(path)
        self.conn.execute(f"SET checkpoint_threshold = '{CHECKPOINT_THRESHOLD}'")
        # DuckDB's own number of vacuum tasks, used at quiet moments only (see CHECKPOINT_THRESHOLD)
        self._vacuum_tasks = int(self.conn.execute("SELECT current_setting('max_vacuum_tasks')").fetchone()[0])  # type: ignore[index]
        self.conn.execute("SET max_vacuum_tasks = 0")
        self.applied_migrations = migrate(self.conn)
        self._recent_ids: dict[str, None] = {}
        self._load_recent_ids()
        self.queue_limit = queue_events
        self.batch_limit = batch_events
        self.linger = linger_ms / 1000
        self.on_commit: list[Callable[[duckdb.DuckDBPyConnection, pa.Table], None]] = []
        self._cond = threading.Condition()
        self._pending: deque[_Insert | _Job] = deque()
        self._pending_events = 0
        self._closing = False
        self.stats = {"batches": 0, "events": 0, "duplicates": 0, "last_batch_events": 0,
                      "last_commit_seconds": 0.0, "commit_seconds_total": 0.0, "idle_checkpoints": 0,
                      "commit_buckets": [0] * len(COMMIT_BUCKETS)}
        self._background: set[threading.Thread] = set()
        self._thread = threading.Thread(target=self._run, name="webleads-writer", daemon=True)
        self._thread.start()

    def start_background(self, fn: Callable[[duckdb.DuckDBPyConnection], Any]) -> None:
        """Run fn(conn) in a thread of its own, beside the writer (derived tables that may take a
        while). It uses its own cursor for its own tables; close() waits for it."""
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
        """Wait for the background work started so far; False if some is still running at timeout."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            running = list(self._background)
        for thread in running:
            thread.join(None if deadline is None else max(0.0, deadline - time.monotonic()))
        return not any(t.is_alive() for t in running)

    # --- submitting -------------------------------------------------------------------------
    @property
    def queue_depth(self) -> int:
        return self._pending_events

    def submit(self, rows: Sequence[tuple[Any, ...]], dedupe_all_time: bool = False
               ) -> concurrent.futures.Future[WriteResult]:
        """Queue rows (tuples in EVENT_COLUMNS order); the future resolves after COMMIT."""
        fut: concurrent.futures.Future[WriteResult] = concurrent.futures.Future()
        self._enqueue(_Insert(rows, dedupe_all_time, fut))
        return fut

    def submit_async(self, rows: Sequence[tuple[Any, ...]]) -> asyncio.Future[WriteResult]:
        """Queue rows from the event loop; the asyncio future resolves after COMMIT. The writer wakes
        the loop once per batch, not once per request."""
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

    def write(self, rows: Sequence[tuple[Any, ...]], dedupe_all_time: bool = False) -> WriteResult:
        return self.submit(rows, dedupe_all_time).result()

    def run_write(self, fn: Callable[[duckdb.DuckDBPyConnection], Any]) -> Any:
        """Run fn(conn) in the writer thread, in order with the event batches; returns its result."""
        fut: concurrent.futures.Future[Any] = concurrent.futures.Future()
        with self._cond:
            if self._closing:
                raise StoreClosed()
            self._pending.append(_Job(fn, fut))
            self._cond.notify()
        return fut.result()

    def cursor(self) -> duckdb.DuckDBPyConnection:
        """A cursor for reading from any thread (each thread its own)."""
        return self.conn.cursor()

    def query(self, sql: str, params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        cur = self.cursor()
        try:
            rel = cur.execute(sql, params or {})
            names = [d[0] for d in rel.description]
            return [dict(zip(names, row, strict=True)) for row in rel.fetchall()]
        finally:
            cur.close()

    # --- the writer thread -----------------------------------------------------------------
    def _take(self) -> list[_Insert] | _Job | None:
        with self._cond:
            while not self._pending and not self._closing:
                if not self._cond.wait(IDLE_CHECKPOINT_SECONDS) and not self._pending and not self._closing:
                    return _IDLE
            if not self._pending:
                return None
            if isinstance(self._pending[0], _Job):
                return self._pending.popleft()  # type: ignore[return-value]
            # Under concurrent load (the last batch held several requests), wait a moment for more:
            # DuckDB spends about the same CPU on a commit of 5 rows as of 500, so larger batches are
            # what keeps up with many clients. A lone request is written at once.
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
        while True:
            work = self._take()
            if work is None:
                return
            if work is _IDLE:
                self._checkpoint_when_idle()
                continue
            if isinstance(work, _Job):
                try:
                    work.future.set_result(work.fn(self.conn))
                except BaseException as exc:  # noqa: BLE001 - handed to the caller
                    self._rollback_quietly()
                    work.future.set_exception(exc)
                continue
            try:
                results, table = self._insert(work)
            except BaseException as exc:  # noqa: BLE001 - every waiting request learns of it
                log.exception("writing a batch of %d events failed", sum(len(i.rows) for i in work))
                self._rollback_quietly()
                _settle(work, [exc] * len(work))
            else:
                _settle(work, results)
                self._after_commit(table)
            finally:
                with self._cond:
                    self._pending_events -= sum(len(i.rows) for i in work)

    def _checkpoint_when_idle(self) -> None:
        """The writer had nothing to do for a while: move the log into the file now, rather than in
        the commit of some request later. A batch arriving meanwhile waits for it, as it would."""
        try:
            if os.path.getsize(self.path + ".wal") < IDLE_CHECKPOINT_BYTES:
                return
        except OSError:  # no log at all
            return
        try:
            self._checkpoint_and_merge(self.conn)
        except duckdb.Error as exc:  # another transaction is open (a report, a refresh): next time
            log.debug("idle checkpoint skipped: %s", exc)
        else:
            self.stats["idle_checkpoints"] += 1

    def _checkpoint_and_merge(self, conn: duckdb.DuckDBPyConnection) -> None:
        """CHECKPOINT with DuckDB's vacuum, which merges the row groups earlier checkpoints wrote."""
        conn.execute(f"SET max_vacuum_tasks = {self._vacuum_tasks}")
        try:
            conn.execute("CHECKPOINT")
        finally:
            conn.execute("SET max_vacuum_tasks = 0")

    def compact(self) -> None:
        """Checkpoint now and merge the row groups (after a retention purge: the space of the deleted
        events is reused). In the writer thread, in order with the batches: they wait for it."""
        self.run_write(self._checkpoint_and_merge)

    def _rollback_quietly(self) -> None:
        try:
            self.conn.execute("ROLLBACK")
        except duckdb.Error:
            pass

    def _insert(self, work: list[_Insert]) -> tuple[list[WriteResult], pa.Table]:
        started = time.perf_counter()
        total = sum(len(item.rows) for item in work)
        if any(item.dedupe_all_time for item in work):
            seen = self._stored_ids([row[_ID] for item in work for row in item.rows])
        else:
            seen = set()
        recent = self._recent_ids
        kept: list[tuple[Any, ...]] = []
        results = []
        for item in work:
            stored = 0
            for row in item.rows:
                event_id = row[_ID]
                if event_id in seen or event_id in recent:
                    continue
                seen.add(event_id)
                kept.append(row)
                stored += 1
            results.append(WriteResult(stored, len(item.rows) - stored))
        table = rows_to_arrow(kept)
        if kept:
            # One statement in autocommit mode: the INSERT is its own transaction (one WAL sync).
            # DuckDB finds the Arrow table `new_rows` by its name in this frame (a replacement scan):
            # a millisecond cheaper per batch than register/unregister.
            new_rows = table  # noqa: F841 - read by DuckDB
            self.conn.execute("INSERT INTO event_log SELECT * FROM new_rows")
        self._remember([row[_ID] for row in kept if not row[_ID].startswith(_SERVER_ID_PREFIX)])
        self.stats["batches"] += 1
        self.stats["events"] += len(kept)
        self.stats["duplicates"] += total - len(kept)
        self.stats["last_batch_events"] = total
        self.stats["last_commit_seconds"] = elapsed = time.perf_counter() - started
        self.stats["commit_seconds_total"] += elapsed
        buckets = self.stats["commit_buckets"]
        for i, bound in enumerate(COMMIT_BUCKETS):  # cumulative, as Prometheus reads them
            if elapsed <= bound:
                buckets[i] += 1
        return results, table

    def _stored_ids(self, ids: list[str]) -> set[str]:
        """The ids among `ids` already in the table, over all time (imports, API events)."""
        batch_ids = pa.table({"event_id": pa.array(ids, pa.string())})  # noqa: F841 - read by DuckDB by name
        return {r for (r,) in self.conn.execute(
            "SELECT event_id FROM event_log WHERE event_id IN (SELECT event_id FROM batch_ids)").fetchall()}

    def _load_recent_ids(self) -> None:
        """Client-made ids of the last two days: a retried beacon is recognised without a query."""
        since = utcnow() - LIVE_DEDUPE_WINDOW
        rows = self.conn.execute(
            "SELECT event_id FROM event_log WHERE received_at >= $since AND NOT starts_with(event_id, $p) "
            "ORDER BY received_at DESC LIMIT $n", {"since": since, "p": _SERVER_ID_PREFIX,
                                                   "n": RECENT_IDS_LIMIT}).fetchall()
        self._recent_ids = dict.fromkeys(r for (r,) in reversed(rows))

    def _remember(self, ids: list[str]) -> None:
        recent = self._recent_ids
        for event_id in ids:
            recent[event_id] = None
        overflow = len(recent) - RECENT_IDS_LIMIT
        if overflow > 0:  # dicts keep insertion order: drop the oldest
            for key in list(itertools.islice(recent, overflow)):
                del recent[key]

    def _after_commit(self, table: pa.Table) -> None:
        for hook in self.on_commit:
            try:
                hook(self.conn, table)
            except Exception:  # a derived table must never stop ingest; it can be rebuilt
                log.exception("after-commit hook %r failed", hook)
                self._rollback_quietly()

    # --- shutting down ---------------------------------------------------------------------
    def close(self) -> None:
        """Drain the queue (every queued event is committed), then checkpoint and close."""
        with self._cond:
            if self._closing:
                return
            self._closing = True
            self._cond.notify_all()
        self._thread.join()
        self.wait_background()
        try:
            self._checkpoint_and_merge(self.conn)
        except duckdb.Error:
            log.warning("checkpoint at close failed; the write-ahead log will be replayed at next open")
        self.conn.close()


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


def rows_to_arrow(rows: Iterable[tuple[Any, ...]]) -> pa.Table:
    rows = list(rows)
    if not rows:
        return EVENT_SCHEMA.empty_table()
    columns = list(zip(*rows, strict=True))
    return pa.Table.from_arrays([pa.array(col, type=t) for col, (_, t) in zip(columns, EVENT_COLUMNS,
                                                                                 strict=True)],
                                schema=EVENT_SCHEMA)
