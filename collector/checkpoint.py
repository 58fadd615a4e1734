"""When the DuckDB file's write-ahead log goes into the file (a checkpoint), and how.

A checkpoint holds every commit to the file while it runs, so the store does not leave it to DuckDB,
which would make one inside whichever commit passes its threshold: the mover checkpoints after a move
once the log passes `CheckpointPolicy.under_traffic_bytes`, while the journal keeps acknowledging
batches; DuckDB's own threshold stays as a backstop far above ours (BACKSTOP_THRESHOLD). Ours is above
DuckDB's default too: fewer, fuller row groups.

What makes a checkpoint long is its vacuum: DuckDB merges the row groups earlier checkpoints wrote,
and that work grows with the table (bench/checkpoint.py measures it). So checkpoints under traffic do
not vacuum (max_vacuum_tasks = 0); row groups are merged at quiet moments: the checkpoint the mover
makes after `idle_seconds` with nothing to move (when the log holds `idle_bytes` or more), the one at
close, and the one after a retention purge (Store.compact)."""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass

import duckdb

log = logging.getLogger("webleads.store")

BACKSTOP_THRESHOLD = "1GB"


@dataclass(frozen=True)
class CheckpointPolicy:
    under_traffic_bytes: int = 64 << 20
    idle_seconds: float = 5.0
    idle_bytes: int = 1 << 20
    retry_seconds: float = 60.0  # after a checkpoint that failed


class Checkpoints:
    """The checkpoints of one database file. `after_move` and `when_idle` run in the mover thread,
    `merge` wherever nothing else writes (the writer thread, close)."""

    def __init__(self, path: str, conn: duckdb.DuckDBPyConnection, policy: CheckpointPolicy) -> None:
        self.wal = path + ".wal"
        self.policy = policy
        conn.execute(f"SET checkpoint_threshold = '{BACKSTOP_THRESHOLD}'")
        # DuckDB's own number of vacuum tasks, for the checkpoints at quiet moments only
        row = conn.execute("SELECT current_setting('max_vacuum_tasks')").fetchone()
        self._vacuum_tasks = int(row[0]) if row else 1
        conn.execute("SET max_vacuum_tasks = 0")
        self._retry_at = 0.0
        self.stats = {"checkpoints": 0, "last_checkpoint_seconds": 0.0, "checkpoint_seconds_total": 0.0,
                      "idle_checkpoints": 0}

    def _log_bytes(self) -> int:
        try:
            return os.path.getsize(self.wal)
        except OSError:  # no log at all
            return 0

    def after_move(self, cur: duckdb.DuckDBPyConnection) -> None:
        """Once the log passes the threshold, checkpoint it, without the vacuum."""
        if time.monotonic() < self._retry_at or self._log_bytes() < self.policy.under_traffic_bytes:
            return
        started = time.perf_counter()
        try:
            cur.execute("CHECKPOINT")
        except Exception as exc:  # noqa: BLE001 - ingest goes on; DuckDB's backstop is still there
            log.warning("checkpoint failed (tried again in %.0f s): %s", self.policy.retry_seconds, exc)
            self._retry_at = time.monotonic() + self.policy.retry_seconds
        else:
            elapsed = time.perf_counter() - started
            self.stats["checkpoints"] += 1
            self.stats["last_checkpoint_seconds"] = elapsed
            self.stats["checkpoint_seconds_total"] += elapsed

    def when_idle(self, cur: duckdb.DuckDBPyConnection) -> None:
        """Nothing to move for a while: move the log into the file now, with the vacuum, rather than
        under traffic later."""
        if self._log_bytes() < self.policy.idle_bytes:
            return
        try:
            self.merge(cur)
        except Exception as exc:  # noqa: BLE001 - another transaction is open (a report, a refresh): next time
            log.debug("idle checkpoint skipped: %s", exc)
        else:
            self.stats["idle_checkpoints"] += 1

    def merge(self, conn: duckdb.DuckDBPyConnection) -> None:
        """CHECKPOINT with DuckDB's vacuum, which merges the row groups earlier checkpoints wrote."""
        conn.execute(f"SET max_vacuum_tasks = {self._vacuum_tasks}")
        try:
            conn.execute("CHECKPOINT")
        finally:
            conn.execute("SET max_vacuum_tasks = 0")
