"""The DuckDB store: one connection, one writer thread, a bounded queue, group commit.

Every write goes through the writer thread. Batches of events waiting in the queue are written in
one transaction (group commit) as an Arrow table; each submitter's future resolves only after
COMMIT, so a 2xx answer means the event is in the file. Readers use cursors of the same
connection from any thread.

While the database file checkpoints (in a thread of its own), the writer commits the batches to a
small side file instead (`<db>.side`, a DuckDB file attached to the same connection), and moves them
into the database once the checkpoint is over: no request waits for a checkpoint.
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
# A checkpoint moves the write-ahead log into the file, and every commit to that file waits for it:
# about 0.3 s for 64 MB of log under load, more on a busy machine. DuckDB makes it inside the commit
# that finds the log too long, so every request waiting on that commit would wait as long. The store
# checkpoints itself instead, in a thread of its own, once the log passes CHECKPOINT_BYTES; meanwhile
# the writer commits the batches to the side file (SIDE_SUFFIX), which that checkpoint does not
# hold, and moves them into the database when it is over (40 to 60 ms for 2,000 events under load).
# DuckDB's own threshold stays as a backstop (BACKSTOP_THRESHOLD), far above ours.
# 64 MB (about 150,000 events) rather than DuckDB's 16 MB: fewer, fuller row groups. 16 MB makes the
# move at the end shorter (14 to 25 ms against 36 to 61 ms), but bench/ingest.py did not show it in
# p99 at half the peak (four runs at 16 MB: 49.9 to 62.9 ms; five at 64 MB: 40.8 to 58.7 ms).
# What made checkpoints long is their vacuum: DuckDB merges the row groups that earlier checkpoints
# wrote, and the work grows with the table (bench/checkpoint.py, 40,000 events between checkpoints:
# 256 ms at 80,000 events, 1,068 ms at 400,000). So checkpoints under traffic do not vacuum
# (max_vacuum_tasks = 0); row groups are merged at quiet moments: the checkpoint the writer makes
# after IDLE_CHECKPOINT_SECONDS with nothing to do (when the log holds IDLE_CHECKPOINT_BYTES or more),
# the one at close, and the one after a retention purge. A batch arriving then waits for it.
CHECKPOINT_BYTES = 64 << 20
BACKSTOP_THRESHOLD = "1GB"
SIDE_SUFFIX = ".side"
_SIDE = "webleads_side"  # the side file's name on the connection
SIDE_CHECKPOINT_BYTES = 8 << 20  # the side file's own log is checkpointed past this, after a move
# The batches in the side file are also kept in memory, to be moved in; past this many events (a
# checkpoint that takes minutes: a stalled disk), the writer waits for the checkpoint instead.
SIDE_EVENTS_LIMIT = 200_000
CHECKPOINT_RETRY_SECONDS = 60.0  # after a checkpoint that failed
IDLE_CHECKPOINT_SECONDS = 5.0
IDLE_CHECKPOINT_BYTES = 1 << 20
# The writer's load: the share of its time spent writing batches, a moving average over about
# LOAD_WINDOW seconds. Above BUSY_LOAD it commits back to back, and work that can wait (the refresh
# of derived tables) waits for a quieter moment rather than share the CPU with ingest.
LOAD_WINDOW = 2.0
BUSY_LOAD = 0.5
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


def _noop(conn: duckdb.DuckDBPyConnection) -> None:
    return None


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


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


class Store:
    def __init__(self, path: str, queue_events: int = 100_000, batch_events: int = 20_000,
                 linger_ms: float = 0.0) -> None:
        self.path = path
        self.conn = connect(path)
        self.conn.execute(f"SET checkpoint_threshold = '{BACKSTOP_THRESHOLD}'")
        # DuckDB's own number of vacuum tasks, used at quiet moments only (see CHECKPOINT_BYTES)
        self._vacuum_tasks = int(self.conn.execute("SELECT current_setting('max_vacuum_tasks')").fetchone()[0])  # type: ignore[index]
        self.conn.execute("SET max_vacuum_tasks = 0")
        self.applied_migrations = migrate(self.conn)
        self._main = _ident(str(self.conn.execute("SELECT current_database()").fetchone()[0]))  # type: ignore[index]
        self.side_path = path + SIDE_SUFFIX
        self.recovered_from_side = self._open_side()
        self._checkpointer: threading.Thread | None = None
        self._spilled: list[pa.Table] = []
        self._spilled_events = 0
        self._checkpoint_retry_at = 0.0
        self._recent_ids: dict[str, None] = {}
        self._load_recent_ids()
        self.queue_limit = queue_events
        self.batch_limit = batch_events
        self.linger = linger_ms / 1000
        self.on_commit: list[Callable[[duckdb.DuckDBPyConnection, pa.Table], None]] = []
        # Called in the writer thread after IDLE_CHECKPOINT_SECONDS with nothing to write.
        self.on_idle: list[Callable[[duckdb.DuckDBPyConnection], None]] = []
        self.load = 0.0
        self._last_batch_end = 0.0
        self._cond = threading.Condition()
        self._pending: deque[_Insert | _Job] = deque()
        self._pending_events = 0
        self._closing = False
        self.stats = {"batches": 0, "events": 0, "duplicates": 0, "last_batch_events": 0,
                      "last_commit_seconds": 0.0, "commit_seconds_total": 0.0, "idle_checkpoints": 0,
                      "commit_buckets": [0] * len(COMMIT_BUCKETS), "checkpoints": 0,
                      "last_checkpoint_seconds": 0.0, "checkpoint_seconds_total": 0.0,
                      "side_events": 0}
        self._background: set[threading.Thread] = set()
        self._thread = threading.Thread(target=self._run, name="webleads-writer", daemon=True)
        self._thread.start()

    def _open_side(self) -> int:
        """Attach the side file. Events it still holds (the collector stopped during a checkpoint
        without closing: a crash, kill -9) go into event_log now, those already there excepted;
        returns how many. Then the side table is made anew with event_log's columns."""
        self.conn.execute(f"ATTACH '{quote_literal(self.side_path)}' AS {_SIDE}")
        found = self.conn.execute("SELECT count(*) FROM duckdb_tables() WHERE database_name = $d AND "
                                  "table_name = 'event_log'", {"d": _SIDE}).fetchone()
        recovered = 0
        if found and found[0]:
            waiting = self.conn.execute(f"SELECT count(*) FROM {_SIDE}.event_log").fetchone()
            if waiting and waiting[0]:
                before = self.conn.execute("SELECT count(*) FROM event_log").fetchone()
                self.conn.execute(
                    f"INSERT INTO {self._main}.event_log BY NAME SELECT * FROM {_SIDE}.event_log s "
                    f"WHERE s.event_id NOT IN (SELECT event_id FROM {self._main}.event_log)")
                after = self.conn.execute("SELECT count(*) FROM event_log").fetchone()
                recovered = int(after[0]) - int(before[0])  # type: ignore[index]
                log.info("%d events committed to %s during a checkpoint moved into the database",
                         recovered, self.side_path)
            self.conn.execute(f"DROP TABLE {_SIDE}.event_log")
        self.conn.execute(f"CREATE TABLE {_SIDE}.event_log AS SELECT * FROM {self._main}.event_log LIMIT 0")
        self.conn.execute(f"CHECKPOINT {_SIDE}")
        return recovered

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

    def settle(self) -> None:
        """Return once every event acknowledged so far is in event_log (not in the side file)."""
        self.run_write(_noop)

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
                self._end_checkpoint()
                return
            if work is _IDLE:
                self._end_checkpoint()
                self._checkpoint_when_idle()
                self._run_hooks(self.on_idle)
                continue
            if isinstance(work, _Job):
                # Jobs (reports' derived tables, imports' checks, purges, backups) see every event
                # acknowledged so far in event_log: the side file is moved in first.
                self._end_checkpoint()
                try:
                    work.future.set_result(work.fn(self.conn))
                except BaseException as exc:  # noqa: BLE001 - handed to the caller
                    self._rollback_quietly()
                    work.future.set_exception(exc)
                continue
            if any(item.dedupe_all_time for item in work):
                self._end_checkpoint()  # the all-time check reads event_log
            started = time.monotonic()
            try:
                results, table, to_side = self._insert(work)
            except BaseException as exc:  # noqa: BLE001 - every waiting request learns of it
                log.exception("writing a batch of %d events failed", sum(len(i.rows) for i in work))
                self._rollback_quietly()
                _settle(work, [exc] * len(work))
            else:
                _settle(work, results)
                if to_side:
                    self._spilled.append(table)
                    self._spilled_events += table.num_rows
                    if self._spilled_events > SIDE_EVENTS_LIMIT:
                        self._end_checkpoint()
                else:
                    self._after_commit(table)
                    self._checkpoint_if_due()
            finally:
                with self._cond:
                    self._pending_events -= sum(len(i.rows) for i in work)
                self._note_load(started, time.monotonic())

    @property
    def busy(self) -> bool:
        """Whether the writer spends most of its time writing (see BUSY_LOAD)."""
        return self.load >= BUSY_LOAD

    def _note_load(self, started: float, ended: float) -> None:
        cycle = ended - self._last_batch_end  # since the end of the batch before
        self._last_batch_end = ended
        share = min(1.0, (ended - started) / cycle) if cycle > 0 else 1.0
        self.load += min(1.0, cycle / LOAD_WINDOW) * (share - self.load)

    # --- checkpoints under traffic (see CHECKPOINT_BYTES) -----------------------------------
    def _checkpoint_if_due(self) -> None:
        """After a commit to the database: once its log passes CHECKPOINT_BYTES, checkpoint it in a
        thread of its own; the next batches go to the side file until it is over."""
        if self._checkpointer is not None or time.monotonic() < self._checkpoint_retry_at:
            return
        try:
            if os.path.getsize(self.path + ".wal") < CHECKPOINT_BYTES:
                return
        except OSError:
            return
        self._checkpointer = threading.Thread(target=self._checkpoint_in_background,
                                              name="webleads-checkpoint", daemon=True)
        self._checkpointer.start()

    def _checkpoint_in_background(self) -> None:
        started = time.perf_counter()
        cur = self.conn.cursor()
        try:
            self._checkpoint_database(cur)
        except Exception as exc:  # noqa: BLE001 - ingest goes on; DuckDB's backstop is still there
            log.warning("checkpoint failed (tried again in %.0f s): %s", CHECKPOINT_RETRY_SECONDS, exc)
            self._checkpoint_retry_at = time.monotonic() + CHECKPOINT_RETRY_SECONDS
        else:
            elapsed = time.perf_counter() - started
            self.stats["checkpoints"] += 1
            self.stats["last_checkpoint_seconds"] = elapsed
            self.stats["checkpoint_seconds_total"] += elapsed
        finally:
            cur.close()
            with self._cond:  # wake the writer to move the side file in, before anything else
                self._pending.appendleft(_Job(_noop, concurrent.futures.Future()))
                self._cond.notify()

    def _checkpoint_database(self, cur: duckdb.DuckDBPyConnection) -> None:
        cur.execute(f"CHECKPOINT {self._main}")

    def _end_checkpoint(self) -> None:
        """Wait for the checkpoint running in the background, if any, then move the batches the side
        file took meanwhile into event_log (one transaction) and empty it (another). A crash
        between the two is mended at the next start (_open_side skips the ids already moved)."""
        if self._checkpointer is not None:
            self._checkpointer.join()
            self._checkpointer = None
        if not self._spilled:
            return
        moved = pa.concat_tables(self._spilled)  # noqa: F841 - read by DuckDB by name
        try:
            self.conn.execute(f"INSERT INTO {self._main}.event_log SELECT * FROM moved")
        except duckdb.Error:  # still in the side file, and in memory: tried again before the next job
            log.exception("moving %d events from the side file failed", moved.num_rows)
            self._rollback_quietly()
            return
        self._spilled = []
        self._spilled_events = 0
        try:
            self.conn.execute(f"DELETE FROM {_SIDE}.event_log")
            if os.path.getsize(self.side_path + ".wal") >= SIDE_CHECKPOINT_BYTES:
                self.conn.execute(f"CHECKPOINT {_SIDE}")
        except (duckdb.Error, OSError) as exc:  # the next start skips what event_log holds already
            log.debug("emptying the side file: %s", exc)
        self._after_commit(moved)

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
        """CHECKPOINT with DuckDB's vacuum, which merges the row groups earlier checkpoints wrote;
        the side file's log too."""
        conn.execute(f"SET max_vacuum_tasks = {self._vacuum_tasks}")
        try:
            conn.execute(f"CHECKPOINT {self._main}")
        finally:
            conn.execute("SET max_vacuum_tasks = 0")
        conn.execute(f"CHECKPOINT {_SIDE}")

    def compact(self) -> None:
        """Checkpoint now and merge the row groups (after a retention purge: the space of the deleted
        events is reused). In the writer thread, in order with the batches: they wait for it."""
        self.run_write(self._checkpoint_and_merge)

    def _rollback_quietly(self) -> None:
        try:
            self.conn.execute("ROLLBACK")
        except duckdb.Error:
            pass

    def _insert(self, work: list[_Insert]) -> tuple[list[WriteResult], pa.Table, bool]:
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
        to_side = self._checkpointer is not None
        if kept:
            # One statement in autocommit mode: the INSERT is its own transaction (one WAL sync).
            # DuckDB finds the Arrow table `new_rows` by its name in this frame (a replacement scan):
            # a millisecond cheaper per batch than register/unregister.
            new_rows = table  # noqa: F841 - read by DuckDB
            self.conn.execute(f"INSERT INTO {_SIDE if to_side else self._main}.event_log SELECT * FROM new_rows")
            if to_side:
                self.stats["side_events"] += len(kept)
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
        return results, table, to_side and bool(kept)

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
        self._run_hooks(self.on_commit, table)

    def _run_hooks(self, hooks: Sequence[Callable[..., None]], *args: Any) -> None:
        for hook in hooks:
            try:
                hook(self.conn, *args)
            except Exception:  # a derived table must never stop ingest; it can be rebuilt
                log.exception("hook %r failed", hook)
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


def quote_literal(text: str) -> str:
    """Text for inside a single-quoted SQL literal (ATTACH takes no parameters)."""
    return text.replace("'", "''")


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
