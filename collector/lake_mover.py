"""The move of a collector's journal into the lake, exactly once, kill -9 or not.

A collector answers 2xx once a batch is in its local journal (journal.py); the mover then takes
sealed segments into the lake's event_log. The lake has no unique key to drop a batch moved twice, so
each move is numbered and the number recorded in the lake, in the same transaction as the rows:

1. claim: the segments to move are renamed `<segment>.lake-<N>` (and the directory synced), N being
   one more than the last move of this collector; the journal no longer counts them as its own;
2. commit, in one lake transaction, their rows and the marker (collector, N) in journal_moves;
3. delete the claimed files.

A collector stopped anywhere in between finds its claims at start: a claim whose N the lake has was
committed (step 3 was cut short) and is deleted; one the lake has not is moved now, under the same N.
Claims are made one move at a time, after the previous move's commit, so a claim's N is never below
the collector's last committed move, and the lake keeps only that last number per collector."""

from __future__ import annotations

import logging
import os
import uuid
from collections import defaultdict
from pathlib import Path

import duckdb

from .eventlog import segment_table
from .journal import sync_directory
from .lake import ALIAS, retry_conflicts
from .rows import utcnow

log = logging.getLogger("webleads.lake")

CLAIM = ".lake-"


def collector_id(path: str | Path) -> str:
    """This collector's name in the lake, kept in a file (made on first use) so that it survives
    restarts: its moves are numbered under it. Two collectors must never share one."""
    path = Path(path)
    try:
        found = path.read_text().strip()
        if found:
            return found
    except FileNotFoundError:
        pass
    made = uuid.uuid4().hex
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(made + "\n")
    os.replace(tmp, path)
    sync_directory(path.parent)
    return made


class LakeMover:
    """Moves sealed journal segments of one collector into the lake. One mover per collector and
    journal; not thread-safe."""

    def __init__(self, conn: duckdb.DuckDBPyConnection, journal_dir: str | Path, collector: str) -> None:
        self.conn = conn
        self.directory = Path(journal_dir)
        self.collector = collector
        self.last = self.committed()

    def committed(self) -> int:
        """The number of this collector's last move the lake has (0 before the first)."""
        row = self.conn.execute(f"SELECT coalesce(max(seq), 0) FROM {ALIAS}.journal_moves WHERE collector = $c",
                                {"c": self.collector}).fetchone()
        return int(row[0]) if row else 0

    def claims(self) -> dict[int, list[Path]]:
        """The claimed files present, by move number."""
        found: dict[int, list[Path]] = defaultdict(list)
        for path in self.directory.glob(f"*{CLAIM}*"):
            number = path.name.rpartition(CLAIM)[2]
            if number.isdigit():
                found[int(number)].append(path)
        return {n: sorted(paths) for n, paths in sorted(found.items())}

    def recover(self) -> int:
        """Finish the moves a stopped collector left claimed; returns how many events were moved now."""
        moved = 0
        claims = self.claims()
        if claims:
            self.last = self.committed()
        for number, paths in claims.items():
            if number <= self.last:
                log.info("move %d of %d file(s) was in the lake already; deleting its claim", number, len(paths))
                self._forget(paths)
            else:
                moved += self._move(number, paths)
        return moved

    def move(self, segments: list[Path]) -> int:
        """Move these sealed segments (none of them still being written) into the lake, in one
        transaction; returns how many events. On an error they stay claimed, and the next move or
        recover() finishes the job (after checking whether the failed commit went through)."""
        moved = self.recover()
        segments = [s for s in segments if s.exists()]
        if not segments:
            return moved
        number = self.last + 1
        claimed = []
        for segment in segments:
            target = segment.with_name(f"{segment.name}{CLAIM}{number}")
            os.replace(segment, target)
            claimed.append(target)
        sync_directory(self.directory)
        return moved + self._move(number, claimed)

    def _move(self, number: int, paths: list[Path]) -> int:
        tables = []
        for path in paths:
            table = segment_table(path)
            if table is not None:
                tables.append(table)
        count = sum(t.num_rows for t in tables)

        def insert(c: duckdb.DuckDBPyConnection) -> None:
            # An attempt after a commit that failed may follow one that went through nonetheless (a
            # connection lost after the catalog committed): the marker tells.
            if c.execute(f"SELECT 1 FROM {ALIAS}.journal_moves WHERE collector = $c AND seq = $n",
                         {"c": self.collector, "n": number}).fetchone():
                return
            for table in tables:
                c.register("webleads_moving", table)
                try:
                    c.execute(f"INSERT INTO {ALIAS}.event_log BY NAME SELECT * FROM webleads_moving")
                finally:
                    c.unregister("webleads_moving")
            c.execute(f"INSERT INTO {ALIAS}.journal_moves VALUES ($c, $n, $e, $t)",
                      {"c": self.collector, "n": number, "e": count, "t": utcnow()})
        retry_conflicts(self.conn, insert)
        self.last = number
        self._forget(paths)
        return count

    def _forget(self, paths: list[Path]) -> None:
        # No directory sync: a deletion lost in a crash brings back a claim the lake has, which the
        # next recover() deletes again. (The claim's rename, on the other hand, is synced before the
        # commit: lost, it would bring back a segment the lake has, under no number, moved again.)
        for path in paths:
            path.unlink(missing_ok=True)

    def prune(self) -> int:
        """Delete this collector's markers older than its last move (only the last is ever read)."""
        last = self.committed()
        row = retry_conflicts(self.conn, lambda c: c.execute(
            f"DELETE FROM {ALIAS}.journal_moves WHERE collector = $c AND seq < $n",
            {"c": self.collector, "n": last}).fetchone())
        return int(row[0]) if row else 0
