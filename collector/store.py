"""The DuckDB store: one connection, a writer thread, a mover thread, a bounded queue, group commit.

Every write goes through the writer thread. The batches of events waiting in the queue are
committed together (group commit) to the journal (collector/journal.py: one file append and its
sync), and each submitter's future resolves only then: a 2xx answer means the event is on the disk.
The mover takes what the journal holds into event_log every MOVE_SECONDS, in one DuckDB transaction
for hundreds of events, and checkpoints the database when its log is long: no request waits for
DuckDB. Jobs (reports' derived tables, imports' id checks, purges, backups) run in the writer
thread once the mover has caught up, so they see every event acknowledged so far. Readers use
cursors of the same connection from any thread; event_log holds the events acknowledged up to
MOVE_SECONDS ago (settle() for all of them)."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
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
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from .fileformat import STORAGE_VERSION, needs_migration
from .journal import SUFFIX as JOURNAL_SUFFIX
from .journal import Journal, read_segment
from .rows import (
    COLUMN_INDEX,
    COLUMN_NAMES,
    PUBLIC_ORIGINS,
    IdKey,
    Overloaded,
    StoreClosed,
    WriteResult,
    id_key,
    scoped_id,
    utcnow,
)

log = logging.getLogger("webleads.store")

_TYPES = {"received_at": pa.timestamp("us"), "ts": pa.timestamp("us"), "is_bot": pa.bool_()}
EVENT_COLUMNS: tuple[tuple[str, pa.DataType], ...] = tuple((name, _TYPES.get(name, pa.string()))
                                                          for name in COLUMN_NAMES)
EVENT_SCHEMA = pa.schema(list(EVENT_COLUMNS))
_ID = COLUMN_INDEX["event_id"]

# Retried client-made event ids are recognised from memory on the live path: the ids of the last
# two days (by arrival), at most RECENT_IDS_LIMIT of them. Imports and API events check all time.
# Either way an id counts within its scope only (rows.id_key: site, public or authenticated way in).
LIVE_DEDUPE_WINDOW = timedelta(days=2)
RECENT_IDS_LIMIT = 1_000_000
# Under load the writer waits up to `linger_ms` for this many events before a commit.
LINGER_ENOUGH = 1000
# The mover takes the journal's batches into event_log at most this long after the first of them
# was acknowledged, or once MOVE_EVENTS are waiting. An INSERT of 25 rows costs DuckDB about 5 ms, one
# of 600 about 10 ms (with Arrow's 0.3 and 3 ms to build the table): it pays to take many at once.
MOVE_SECONDS = 0.2
MOVE_EVENTS = 10_000
MOVE_CHUNK = 10_000  # rows per Arrow chunk of a move (about 50 ms to build)
MOVE_RETRY_SECONDS = 1.0  # after a move that failed (the batches stay in the journal meanwhile)
# The batches waiting for the mover are also held in memory; past this many bytes of journal (a
# checkpoint that takes minutes: a stalled disk), the writer waits for the mover instead. Counted in
# bytes, not events: an event may carry 2 KB addresses and 15 KB of properties.
JOURNAL_BYTES_LIMIT = 64 << 20
# A checkpoint moves DuckDB's write-ahead log into the file, and every commit to that file waits
# for it: 0.3 s for 64 MB of log under load, more on a busy machine. The mover checkpoints once the
# log passes CHECKPOINT_BYTES, after a move; the journal takes the batches meanwhile. DuckDB's own
# threshold stays as a backstop (BACKSTOP_THRESHOLD), far above ours. 64 MB (about 150,000 events)
# rather than DuckDB's 16 MB: fewer, fuller row groups.
# What made checkpoints long is their vacuum: DuckDB merges the row groups that earlier checkpoints
# wrote, and the work grows with the table (bench/checkpoint.py, 40,000 events between checkpoints:
# 256 ms at 80,000 events, 1,068 ms at 400,000). So checkpoints under traffic do not vacuum
# (max_vacuum_tasks = 0); row groups are merged at quiet moments: the checkpoint the mover makes
# after IDLE_CHECKPOINT_SECONDS with nothing to move (when the log holds IDLE_CHECKPOINT_BYTES or
# more), the one at close, and the one after a retention purge.
CHECKPOINT_BYTES = 64 << 20
BACKSTOP_THRESHOLD = "1GB"
CHECKPOINT_RETRY_SECONDS = 60.0  # after a checkpoint that failed
# An earlier version committed the batches made during a checkpoint to this DuckDB file beside the
# database; one left by a crash is read at start.
LEGACY_SIDE_SUFFIX = ".side"
IDLE_CHECKPOINT_SECONDS = 5.0
IDLE_CHECKPOINT_BYTES = 1 << 20
# The writer's load: the share of its time spent on event batches (not waiting for work, not running
# jobs), a moving average over about LOAD_WINDOW seconds. Above BUSY_LOAD it commits back to back,
# and work that can wait (the refresh of derived tables) waits for a quieter moment rather than
# share the CPU with ingest.
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
        # a new file gets the format this release names (collector/fileformat.py); a file keeps its own
        return duckdb.connect(path, config={"storage_compatibility_version": STORAGE_VERSION})
    except duckdb.IOException as exc:
        if "lock" in str(exc).lower():
            raise DatabaseLocked(path) from None
        too_new = needs_migration(path, exc)
        if too_new is not None:
            raise too_new from None
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
    if applied:  # schema changes go into the file at once: DuckDB 1.5.5 fails to replay some from its log
        conn.execute("CHECKPOINT")
    return applied


def make_private(*paths: str) -> None:
    """Owner-only access to files that hold salts and captured form fields (made by an earlier
    version, or under a loose umask; `webleads` itself adds 077 to the umask)."""
    for path in paths:
        with contextlib.suppress(OSError):  # absent, or not ours to change
            mode = os.stat(path).st_mode & 0o777
            if mode & 0o077:
                os.chmod(path, mode & 0o700)


class Store:
    def __init__(self, path: str, queue_events: int = 100_000, batch_events: int = 20_000,
                 linger_ms: float = 0.0) -> None:
        self.path = path
        self.conn = connect(path)
        make_private(path, path + ".wal")
        self.conn.execute(f"SET checkpoint_threshold = '{BACKSTOP_THRESHOLD}'")
        # DuckDB's own number of vacuum tasks, used at quiet moments only (see CHECKPOINT_BYTES)
        self._vacuum_tasks = int(self.conn.execute("SELECT current_setting('max_vacuum_tasks')").fetchone()[0])  # type: ignore[index]
        self.conn.execute("SET max_vacuum_tasks = 0")
        self.applied_migrations = migrate(self.conn)
        self.journal = Journal(path + JOURNAL_SUFFIX, COLUMN_NAMES)
        self.recovered_from_journal = self._recover()
        self._checkpoint_retry_at = 0.0
        self._recent_ids: dict[IdKey, None] = {}
        self._load_recent_ids()
        self.queue_limit = queue_events
        self.batch_limit = batch_events
        self.linger = linger_ms / 1000
        # Called in the mover thread after each move into event_log, with its cursor and the rows.
        self.on_commit: list[Callable[[duckdb.DuckDBPyConnection, pa.Table], None]] = []
        # Called in the mover thread after IDLE_CHECKPOINT_SECONDS with nothing to move.
        self.on_idle: list[Callable[[duckdb.DuckDBPyConnection], None]] = []
        self.load = 0.0
        self._last_batch_end = time.monotonic()
        self._off_batches = 0.0  # time spent waiting for work or running jobs since the last batch
        lock = threading.Lock()
        self._cond = threading.Condition(lock)  # the writer waits on it for work
        self._pending: deque[_Insert | _Job] = deque()
        self._pending_events = 0
        self._closing = False
        # The journal's side: batches acknowledged and not yet in event_log. The journal file is
        # written under _journal_lock (taken before _cond's lock), so that a segment sealed by the
        # mover holds exactly the batches it takes from _waiting.
        self._journal_lock = threading.Lock()
        self._moves = threading.Condition(lock)  # the mover and the writer's drains wait on it
        self._waiting: list[list[tuple[Any, ...]]] = []  # batches of rows
        self._waiting_since = 0.0
        self._journal_events = 0  # acknowledged, not yet in event_log
        self._journal_bytes = 0  # their size in the journal
        self._waiting_bytes = 0  # the part of it in _waiting
        self._drains = 0
        self._moving = False
        self._move_attempts = 0
        self._move_failed = False
        self._mover_stop = False
        self.stats = {"batches": 0, "events": 0, "duplicates": 0, "last_batch_events": 0,
                      "last_commit_seconds": 0.0, "commit_seconds_total": 0.0, "idle_checkpoints": 0,
                      "commit_buckets": [0] * len(COMMIT_BUCKETS), "checkpoints": 0,
                      "last_checkpoint_seconds": 0.0, "checkpoint_seconds_total": 0.0,
                      "moves": 0, "moved_events": 0, "move_seconds_total": 0.0}
        self._background: set[threading.Thread] = set()
        self._mover = threading.Thread(target=self._move_loop, name="webleads-mover", daemon=True)
        self._mover.start()
        self._thread = threading.Thread(target=self._run, name="webleads-writer", daemon=True)
        self._thread.start()

    def _recover(self) -> int:
        """Move into event_log what the journal still holds (the collector stopped without closing:
        a crash, kill -9), the events already there excepted; returns how many were missing."""
        recovered = self._recover_legacy_side_file()
        segments = self.journal.segments()
        for segment in segments:
            columns, rows, torn = read_segment(segment)
            if torn:
                log.warning("%s: the last %d bytes were a batch being written when the collector stopped "
                            "(never acknowledged); skipped", segment, torn)
            if rows:
                recovered += self._insert_missing(_journal_table(columns, rows))
        self.journal.discard(segments)
        if recovered:
            log.info("%d acknowledged events moved from the journal into the database", recovered)
        return recovered

    def _insert_missing(self, found: pa.Table) -> int:
        """Insert the rows of `found` (by column name) whose event id event_log does not hold in the
        same scope (site, way in: rows.id_key)."""
        row = self.conn.execute(
            "INSERT INTO event_log BY NAME SELECT f.* FROM found f ANTI JOIN "
            "(SELECT event_id, site, list_contains($public, origin) AS public FROM event_log "
            " WHERE received_at >= (SELECT min(received_at) FROM found)) e "
            "ON e.event_id = f.event_id AND e.site = f.site AND e.public = list_contains($public, f.origin)",
            {"public": list(PUBLIC_ORIGINS)}).fetchone()
        return int(row[0]) if row else 0

    def _recover_legacy_side_file(self) -> int:
        side = self.path + LEGACY_SIDE_SUFFIX
        if not os.path.exists(side):
            return 0
        self.conn.execute(f"ATTACH '{quote_literal(side)}' AS webleads_side")
        try:
            held = self.conn.execute("SELECT count(*) FROM duckdb_tables() WHERE database_name = 'webleads_side' "
                                     "AND table_name = 'event_log'").fetchall()[0][0]
            found = self.conn.sql("SELECT * FROM webleads_side.event_log").to_arrow_table() if held else None
        finally:
            self.conn.execute("DETACH webleads_side")
        recovered = self._insert_missing(found) if found is not None and found.num_rows else 0
        for name in (side, side + ".wal"):
            if os.path.exists(name):
                os.remove(name)
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

    @property
    def journal_events(self) -> int:
        """Events acknowledged and not yet moved into event_log."""
        return self._journal_events

    def submit(self, rows: Sequence[tuple[Any, ...]], dedupe_all_time: bool = False
               ) -> concurrent.futures.Future[WriteResult]:
        """Queue rows (tuples in EVENT_COLUMNS order); the future resolves once they are durable."""
        fut: concurrent.futures.Future[WriteResult] = concurrent.futures.Future()
        self._enqueue(_Insert(rows, dedupe_all_time, fut))
        return fut

    def submit_async(self, rows: Sequence[tuple[Any, ...]]) -> asyncio.Future[WriteResult]:
        """Queue rows from the event loop; the asyncio future resolves once they are durable. The
        writer wakes the loop once per batch, not once per request."""
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
        """Run fn(conn) in the writer thread, in order with the event batches, once every batch
        before it is in event_log; returns its result."""
        fut: concurrent.futures.Future[Any] = concurrent.futures.Future()
        with self._cond:
            if self._closing:
                raise StoreClosed()
            self._pending.append(_Job(fn, fut))
            self._cond.notify()
        return fut.result()

    def settle(self) -> None:
        """Return once every event acknowledged so far is in event_log."""
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
            with self._cond:
                self._mover_stop = True
                self._moves.notify_all()

    def _serve(self) -> None:
        while True:
            work = self._take()
            if work is None:
                self._drain()
                return
            if isinstance(work, _Job):
                # Jobs (reports' derived tables, imports' checks, purges, backups) see every event
                # acknowledged so far in event_log: the mover catches up first.
                began = time.monotonic()
                self._drain()
                try:
                    work.future.set_result(work.fn(self.conn))
                except BaseException as exc:  # noqa: BLE001 - handed to the caller
                    self._rollback_quietly(self.conn)
                    work.future.set_exception(exc)
                self._off_batches += time.monotonic() - began  # not ingest: the load leaves it out
                continue
            not_live = any(item.dedupe_all_time for item in work)
            if not_live:
                self._drain()  # the all-time check reads event_log
            try:
                results = self._insert(work)
                if not_live:  # imports and API events are answered once in event_log: read at once
                    self._drain()
            except BaseException as exc:  # noqa: BLE001 - every waiting request learns of it
                log.exception("writing a batch of %d events failed", sum(len(i.rows) for i in work))
                _settle(work, [exc] * len(work))
            else:
                _settle(work, results)
                if self._journal_bytes > JOURNAL_BYTES_LIMIT:
                    self._drain()
            finally:
                with self._cond:
                    self._pending_events -= sum(len(i.rows) for i in work)
                self._note_load(time.monotonic())

    @property
    def busy(self) -> bool:
        """Whether the writer spends most of its time writing (see BUSY_LOAD)."""
        return self.load >= BUSY_LOAD

    def _note_load(self, ended: float) -> None:
        cycle = ended - self._last_batch_end  # since the end of the batch before
        self._last_batch_end = ended
        off, self._off_batches = self._off_batches, 0.0
        share = max(0.0, min(1.0, 1.0 - off / cycle)) if cycle > 0 else 1.0
        self.load += min(1.0, cycle / LOAD_WINDOW) * (share - self.load)

    def _drain(self) -> None:
        """Wait until the mover has taken every batch journaled so far into event_log (and is idle),
        or until a move tried since failed (the batches stay in the journal)."""
        with self._moves:
            if not self._journal_events and not self._moving:
                return
            attempts = self._move_attempts
            self._drains += 1
            self._moves.notify_all()
            try:
                while self._journal_events or self._moving:
                    if self._move_failed and self._move_attempts > attempts and not self._moving:
                        return
                    self._moves.wait()
            finally:
                self._drains -= 1

    # --- the mover thread ------------------------------------------------------------------
    def _move_loop(self) -> None:
        cur = self.conn.cursor()
        segments: list[Path] = []  # sealed, their rows not yet in event_log
        rows: list[tuple[Any, ...]] = []
        taken_bytes = 0  # the journal's bytes of those rows
        retry_at = 0.0
        try:
            while True:
                with self._moves:
                    idle_since = time.monotonic()
                    idle = False
                    while True:
                        now = time.monotonic()
                        timeout: float | None = None
                        if self._waiting or rows:
                            if rows and now < retry_at:  # the last move failed
                                if self._mover_stop:
                                    return  # the journal keeps them for the next start
                                timeout = retry_at - now
                            elif (self._drains or self._mover_stop or not self._waiting
                                  or self._journal_events >= MOVE_EVENTS):
                                break
                            else:
                                timeout = self._waiting_since + MOVE_SECONDS - now
                                if timeout <= 0:
                                    break
                        elif self._mover_stop:
                            return
                        elif now - idle_since >= IDLE_CHECKPOINT_SECONDS:
                            idle = True
                            break
                        else:
                            timeout = idle_since + IDLE_CHECKPOINT_SECONDS - now
                        self._moves.wait(timeout)
                    self._moving = True  # jobs wait for what follows
                if idle:
                    try:
                        self._checkpoint_when_idle(cur)
                        self._run_hooks(self.on_idle, cur)
                    finally:
                        with self._moves:
                            self._moving = False
                            self._moves.notify_all()
                    continue
                moved = None
                try:
                    with self._journal_lock:
                        sealed = self.journal.seal()
                        with self._moves:
                            for batch in self._waiting:
                                rows += batch
                            self._waiting = []
                            taken_bytes += self._waiting_bytes
                            self._waiting_bytes = 0
                    if sealed is not None:
                        segments.append(sealed)
                    moved = self._move(cur, rows)
                    if moved is None:
                        retry_at = time.monotonic() + MOVE_RETRY_SECONDS
                    else:
                        with self._moves:
                            self._journal_events -= moved.num_rows
                            self._journal_bytes -= taken_bytes
                        try:
                            self.journal.discard(segments)
                        except OSError as exc:  # the next start skips the events event_log holds
                            log.warning("deleting moved journal segments: %s", exc)
                        segments, rows, taken_bytes = [], [], 0
                        self._run_hooks(self.on_commit, cur, moved)
                        self._checkpoint_if_due(cur)
                except Exception:  # noqa: BLE001 - the mover must go on; what it holds stays journaled
                    log.exception("the mover failed")
                    retry_at = time.monotonic() + MOVE_RETRY_SECONDS
                finally:
                    with self._moves:
                        self._move_failed = moved is None
                        self._move_attempts += 1
                        self._moving = False
                        self._moves.notify_all()
        finally:
            cur.close()

    def _move(self, cur: duckdb.DuckDBPyConnection, rows: list[tuple[Any, ...]]) -> pa.Table | None:
        """One transaction: the rows into event_log, as one Arrow table of large chunks (DuckDB reads
        a table of 100 small chunks about six times slower; and Arrow holds the interpreter lock while
        it builds a chunk). None if it failed (the rows stay journaled)."""
        started = time.perf_counter()
        try:
            moved = pa.concat_tables([rows_to_arrow(rows[i:i + MOVE_CHUNK]) for i in range(0, len(rows), MOVE_CHUNK)])
            self._insert_moved(cur, moved)
        except Exception:  # noqa: BLE001 - the mover goes on; the batches are kept
            log.exception("moving %d events from the journal into the database failed (tried again in %.0f s)",
                          len(rows), MOVE_RETRY_SECONDS)
            self._rollback_quietly(cur)
            return None
        self.stats["moves"] += 1
        self.stats["moved_events"] += moved.num_rows
        self.stats["move_seconds_total"] += time.perf_counter() - started
        return moved

    @staticmethod
    def _insert_moved(cur: duckdb.DuckDBPyConnection, moved: pa.Table) -> None:
        cur.execute("INSERT INTO event_log SELECT * FROM moved")  # the Arrow table, found by its name

    # --- checkpoints under traffic (see CHECKPOINT_BYTES) -----------------------------------
    def _checkpoint_if_due(self, cur: duckdb.DuckDBPyConnection) -> None:
        """After a move: once the database's log passes CHECKPOINT_BYTES, checkpoint it, without the
        vacuum. The journal takes the batches meanwhile; jobs wait for it."""
        if time.monotonic() < self._checkpoint_retry_at:
            return
        try:
            if os.path.getsize(self.path + ".wal") < CHECKPOINT_BYTES:
                return
        except OSError:
            return
        started = time.perf_counter()
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

    def _checkpoint_database(self, cur: duckdb.DuckDBPyConnection) -> None:
        cur.execute("CHECKPOINT")

    def _checkpoint_when_idle(self, cur: duckdb.DuckDBPyConnection) -> None:
        """The mover had nothing to do for a while: move the log into the file now, with the vacuum,
        rather than under traffic later. A batch arriving meanwhile is journaled and acknowledged;
        jobs wait for it."""
        try:
            if os.path.getsize(self.path + ".wal") < IDLE_CHECKPOINT_BYTES:
                return
        except OSError:  # no log at all
            return
        try:
            self._checkpoint_and_merge(cur)
        except Exception as exc:  # noqa: BLE001 - another transaction is open (a report, a refresh): next time
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

    @staticmethod
    def _rollback_quietly(conn: duckdb.DuckDBPyConnection) -> None:
        try:
            conn.execute("ROLLBACK")
        except duckdb.Error:
            pass

    def _insert(self, work: list[_Insert]) -> list[WriteResult]:
        """Journal the batch's new events (one append, one sync) and hand them to the mover."""
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
                key = id_key(row)
                if key in seen or key in recent:
                    continue
                seen.add(key)
                kept.append(row)
                stored += 1
            results.append(WriteResult(stored, len(item.rows) - stored))
        if kept:
            with self._journal_lock:
                size = self.journal.append(kept)
                with self._moves:
                    if not self._waiting:
                        self._waiting_since = time.monotonic()
                        self._moves.notify_all()
                    self._waiting.append(kept)
                    self._waiting_bytes += size
                    self._journal_bytes += size
                    self._journal_events += len(kept)
                    if self._journal_events >= MOVE_EVENTS:
                        self._moves.notify_all()
        self._remember([id_key(row) for row in kept if not row[_ID].startswith(_SERVER_ID_PREFIX)])
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
        return results

    def _stored_ids(self, ids: list[str]) -> set[IdKey]:
        """The scoped ids (rows.id_key) the table holds for any of `ids`, over all time (imports, API
        events)."""
        batch_ids = pa.table({"event_id": pa.array(ids, pa.string())})  # noqa: F841 - read by DuckDB by name
        return {scoped_id(site, public, event_id) for site, public, event_id in self.conn.execute(
            "SELECT site, list_contains($public, origin), event_id FROM event_log "
            "WHERE event_id IN (SELECT event_id FROM batch_ids)", {"public": list(PUBLIC_ORIGINS)}).fetchall()}

    def _load_recent_ids(self) -> None:
        """Client-made ids of the last two days: a retried beacon is recognised without a query."""
        since = utcnow() - LIVE_DEDUPE_WINDOW
        rows = self.conn.execute(
            "SELECT site, list_contains($public, origin), event_id FROM event_log "
            "WHERE received_at >= $since AND NOT starts_with(event_id, $p) "
            "ORDER BY received_at DESC LIMIT $n", {"since": since, "p": _SERVER_ID_PREFIX, "n": RECENT_IDS_LIMIT,
                                                   "public": list(PUBLIC_ORIGINS)}).fetchall()
        self._recent_ids = dict.fromkeys(scoped_id(site, public, event_id) for site, public, event_id in reversed(rows))

    def _remember(self, ids: list[IdKey]) -> None:
        recent = self._recent_ids
        for event_id in ids:
            recent[event_id] = None
        overflow = len(recent) - RECENT_IDS_LIMIT
        if overflow > 0:  # dicts keep insertion order: drop the oldest
            for key in list(itertools.islice(recent, overflow)):
                del recent[key]

    def _run_hooks(self, hooks: Sequence[Callable[..., None]], conn: duckdb.DuckDBPyConnection,
                   *args: Any) -> None:
        for hook in hooks:
            try:
                hook(conn, *args)
            except Exception:  # a derived table must never stop ingest; it can be rebuilt
                log.exception("hook %r failed", hook)
                self._rollback_quietly(conn)

    # --- shutting down ---------------------------------------------------------------------
    def close(self) -> None:
        """Drain the queue (every queued event is journaled, then moved into event_log), then
        checkpoint and close."""
        with self._cond:
            if self._closing:
                return
            self._closing = True
            self._cond.notify_all()
        self._thread.join()
        self._mover.join()
        self.wait_background()
        self.journal.close()
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


def _journal_table(columns: list[str], rows: list[list[Any]]) -> pa.Table:
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


def rows_to_arrow(rows: Iterable[tuple[Any, ...]]) -> pa.Table:
    rows = list(rows)
    if not rows:
        return EVENT_SCHEMA.empty_table()
    columns = list(zip(*rows, strict=True))
    return pa.Table.from_arrays([pa.array(col, type=t) for col, (_, t) in zip(columns, EVENT_COLUMNS,
                                                                                 strict=True)],
                                schema=EVENT_SCHEMA)
