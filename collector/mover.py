"""The mover: the journal's batches into the events table, many at a time, in a thread of its own.

The writer hands it each batch of new events (`accept`: one append to the journal and its sync, so
the batch is durable before its requests are answered). The mover takes what the journal holds into
the events table in one transaction at most `MovePolicy.seconds` after the first waiting batch was
acknowledged, or once `MovePolicy.events` are waiting: one INSERT of hundreds of rows costs DuckDB
little more than one of a few dozen. After a move it runs the after-commit hooks (derived tables)
and lets the checkpoint policy act; with nothing to move for a while, the idle checkpoint and the
idle hooks. A move that fails leaves its batches in memory and in the journal, and is tried again.

One lock (the condition `_cond`) guards the waiting batches, the counters and the journal file, so
that a segment the mover seals holds exactly the batches it takes."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from .checkpoint import Checkpoints
from .eventlog import EventLog, rows_to_arrow
from .journal import Journal

log = logging.getLogger("webleads.store")

CommitHook = Callable[[duckdb.DuckDBPyConnection, pa.Table], None]
IdleHook = Callable[[duckdb.DuckDBPyConnection], None]


@dataclass(frozen=True)
class MovePolicy:
    seconds: float = 0.2
    events: int = 10_000
    # rows per Arrow chunk of a move: DuckDB reads a table of many small chunks several times slower,
    # and Arrow holds the interpreter lock while it builds one
    chunk: int = 10_000
    retry_seconds: float = 1.0  # after a move that failed (the batches stay in the journal meanwhile)
    # The waiting batches are held in memory too; past this many bytes of journal (a checkpoint that
    # takes minutes: a stalled disk), the writer waits for the mover instead. Counted in bytes, not
    # events: an event may carry long addresses and kilobytes of properties.
    held_bytes_limit: int = 64 << 20


class Mover:
    def __init__(self, conn: duckdb.DuckDBPyConnection, journal: Journal, target: EventLog,
                 checkpoints: Checkpoints, policy: MovePolicy) -> None:
        self.journal = journal
        self.target = target
        self.checkpoints = checkpoints
        self.policy = policy
        # Called in the mover thread after each move into the table, with its cursor and the rows.
        self.on_commit: list[CommitHook] = []
        # Called in the mover thread after an idle spell of CheckpointPolicy.idle_seconds.
        self.on_idle: list[IdleHook] = []
        self._cond = threading.Condition()
        self._waiting: list[list[tuple[Any, ...]]] = []  # batches acknowledged, not yet taken
        self._waiting_since = 0.0
        self._waiting_bytes = 0
        self._journal_events = 0  # acknowledged, not yet in the table
        self._journal_bytes = 0
        self._drains = 0
        self._moving = False
        self._attempts = 0
        self._failed = False
        self._stop = False
        self.stats = {"moves": 0, "moved_events": 0, "move_seconds_total": 0.0}
        self._cursor = conn.cursor()
        self._thread = threading.Thread(target=self._loop, name="webleads-mover", daemon=True)
        self._thread.start()

    @property
    def journal_events(self) -> int:
        """Events acknowledged and not yet moved into the table."""
        return self._journal_events

    @property
    def over_limit(self) -> bool:
        return self._journal_bytes > self.policy.held_bytes_limit

    def accept(self, rows: list[tuple[Any, ...]]) -> None:
        """Make a batch durable in the journal (once this returns, it survives a crash) and queue it
        for the next move."""
        with self._cond:
            size = self.journal.append(rows)
            if not self._waiting:
                self._waiting_since = time.monotonic()
                self._cond.notify_all()
            self._waiting.append(rows)
            self._waiting_bytes += size
            self._journal_bytes += size
            self._journal_events += len(rows)
            if self._journal_events >= self.policy.events:
                self._cond.notify_all()

    def drain(self) -> None:
        """Wait until every batch accepted so far is in the table (and the mover is idle), or until a
        move tried since failed (the batches stay in the journal)."""
        with self._cond:
            if not self._journal_events and not self._moving:
                return
            attempts = self._attempts
            self._drains += 1
            self._cond.notify_all()
            try:
                while self._journal_events or self._moving:
                    if self._failed and self._attempts > attempts and not self._moving:
                        return
                    self._cond.wait()
            finally:
                self._drains -= 1

    def stop(self) -> None:
        """Move what is waiting, then end (what a failing move holds stays in the journal)."""
        with self._cond:
            self._stop = True
            self._cond.notify_all()

    def join(self) -> None:
        self._thread.join()

    # --- in the mover thread ---------------------------------------------------------------
    def _loop(self) -> None:
        cur = self._cursor
        segments: list[Path] = []  # sealed, their rows not yet in the table
        rows: list[tuple[Any, ...]] = []
        taken_bytes = 0  # the journal's bytes of those rows
        retry_at = 0.0
        try:
            while True:
                idle = self._wait(bool(rows), retry_at)
                if idle is None:
                    return
                if idle:
                    try:
                        self.checkpoints.when_idle(cur)
                        _run_hooks(self.on_idle, cur)
                    finally:
                        self._done(failed=False, counted=False)
                    continue
                moved = None
                try:
                    with self._cond:
                        sealed = self.journal.seal()
                        for batch in self._waiting:
                            rows += batch
                        self._waiting = []
                        taken_bytes += self._waiting_bytes
                        self._waiting_bytes = 0
                    if sealed is not None:
                        segments.append(sealed)
                    moved = self._move(cur, rows)
                    if moved is None:
                        retry_at = time.monotonic() + self.policy.retry_seconds
                    else:
                        with self._cond:
                            self._journal_events -= moved.num_rows
                            self._journal_bytes -= taken_bytes
                        try:
                            self.journal.discard(segments)
                        except OSError as exc:  # the next start skips the events the table holds
                            log.warning("deleting moved journal segments: %s", exc)
                        segments, rows, taken_bytes = [], [], 0
                        _run_hooks(self.on_commit, cur, moved)
                        self.checkpoints.after_move(cur)
                except Exception:  # noqa: BLE001 - the mover must go on; what it holds stays journaled
                    log.exception("the mover failed")
                    retry_at = time.monotonic() + self.policy.retry_seconds
                finally:
                    self._done(failed=moved is None, counted=True)
        finally:
            cur.close()

    def _wait(self, holding: bool, retry_at: float) -> bool | None:
        """Wait for work: False to move, True for the idle work, None to end. Marks the mover as
        moving (drains wait for what follows)."""
        idle_seconds = self.checkpoints.policy.idle_seconds
        with self._cond:
            idle_since = time.monotonic()
            while True:
                now = time.monotonic()
                timeout: float | None = None
                if self._waiting or holding:
                    if holding and now < retry_at:  # the last move failed
                        if self._stop:
                            return None  # the journal keeps them for the next start
                        timeout = retry_at - now
                    elif (self._drains or self._stop or not self._waiting
                          or self._journal_events >= self.policy.events):
                        self._moving = True
                        return False
                    else:
                        timeout = self._waiting_since + self.policy.seconds - now
                        if timeout <= 0:
                            self._moving = True
                            return False
                elif self._stop:
                    return None
                elif now - idle_since >= idle_seconds:
                    self._moving = True
                    return True
                else:
                    timeout = idle_since + idle_seconds - now
                self._cond.wait(timeout)

    def _done(self, failed: bool, counted: bool) -> None:
        with self._cond:
            if counted:
                self._failed = failed
                self._attempts += 1
            self._moving = False
            self._cond.notify_all()

    def _move(self, cur: duckdb.DuckDBPyConnection, rows: list[tuple[Any, ...]]) -> pa.Table | None:
        """One transaction: the rows into the table, as one Arrow table of large chunks. None if it
        failed (the rows stay journaled)."""
        started = time.perf_counter()
        chunk = self.policy.chunk
        try:
            moved = pa.concat_tables([rows_to_arrow(rows[i:i + chunk]) for i in range(0, len(rows), chunk)])
            self.target.insert(cur, moved)
        except Exception:  # noqa: BLE001 - the mover goes on; the batches are kept
            log.exception("moving %d events from the journal into the database failed (tried again in %.0f s)",
                          len(rows), self.policy.retry_seconds)
            rollback_quietly(cur)
            return None
        self.stats["moves"] += 1
        self.stats["moved_events"] += moved.num_rows
        self.stats["move_seconds_total"] += time.perf_counter() - started
        return moved


def _run_hooks(hooks: Sequence[Callable[..., None]], conn: duckdb.DuckDBPyConnection, *args: Any) -> None:
    for hook in hooks:
        try:
            hook(conn, *args)
        except Exception:  # a derived table must never stop ingest; it can be rebuilt
            log.exception("hook %r failed", hook)
            rollback_quietly(conn)


def rollback_quietly(conn: duckdb.DuckDBPyConnection) -> None:
    try:
        conn.execute("ROLLBACK")
    except duckdb.Error:
        pass
