"""Reports over a lake: a Reader whose events come from a DuckLake instead of a local file.

The connection holds the lake (attached as `lake`, collector/lake.py) and an in-memory database laid
out by the local file's own migrations, so that the analytics' SQL (the `events` view, `sessions`,
`conversions`, `sites`, ...) runs on it unchanged:

- `event_log` is a local copy of the lake's, taken at one snapshot, in the lake's insertion order (the
  analytics order events of one instant by arrival: rowid), with each (site, scope, event id) once: two
  collectors may each have stored a retried beacon, and the first one stored is kept, as a file keeps
  the first of two deliveries.
- the shared tables the lake holds (sites, api_tokens, and short links, costs, outcomes once the lake
  has them) are views over the lake at that same snapshot, with the local columns the lake lacks as
  NULL; those it does not hold stay the migrations' empty local tables.
- the derived sessions are computed here, per report, from those events (analytics/sessions.py, as on
  a file): no collector keeps them up to date in the lake, so nothing has to be locked or agreed on,
  and a report always sees the sessions of exactly the events it reads. The cost is a full build when
  the reader opens and a refresh of the visitors that changed when the lake moved on.

Before each derived-table write (sessions.prepare: before every report), run_write first moves the copy
to the lake's latest snapshot if there is a newer one. Events cannot be submitted here (ReadOnly)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from typing import Any

import duckdb

from . import lake
from .reader import Reader, ReadOnly
from .rows import COLUMN_NAMES, PUBLIC_ORIGINS
from .schema import migrate

__all__ = ["LakeReader", "ReadOnly", "SHARED_TABLES"]

# Local tables that are read from the lake when it has them.
SHARED_TABLES = ("sites", "api_tokens", "short_links", "link_scans", "campaign_costs", "lead_outcomes")
_PUBLIC = ", ".join(f"'{o}'" for o in PUBLIC_ORIGINS)


class LakeReader(Reader):
    def __init__(self, catalog: str, data_path: str | None = None, env: Mapping[str, str] | None = None,
                 threads: int | None = None) -> None:  # noqa: D107 - not Reader.__init__: no file here
        self.path = f"the lake {catalog}"
        self.catalog = catalog
        self.conn = conn = lake.connect(catalog, data_path, env, threads)
        try:
            conn.execute("SET enable_progress_bar = false")
            self.applied_migrations = migrate(conn)
            self.recovered_from_journal = 0
            self.snapshot: int | None = None
            self._views: set[str] = set()
            self._refresh()
        except BaseException:
            conn.close()
            raise
        self._lock = threading.Lock()
        self.on_commit = []  # no mover: never called
        self.on_idle = []
        self._closed = False

    def _latest(self) -> int:
        row = self.conn.execute(f"SELECT id FROM {lake.ALIAS}.current_snapshot()").fetchone()
        assert row is not None
        return int(row[0])

    def _refresh(self) -> None:
        """Bring the local copy to the lake's latest snapshot, if it moved on."""
        latest = self._latest()
        if latest == self.snapshot:
            return
        conn = self.conn
        at = f"AT (VERSION => {latest})"
        lake_tables = {t for (t,) in conn.execute(
            "SELECT table_name FROM duckdb_tables() WHERE database_name = $d", {"d": lake.ALIAS}).fetchall()}
        conn.execute("BEGIN")
        try:
            for table in SHARED_TABLES:
                if table in lake_tables:
                    select = self._columns(table)
                    conn.execute(f"DROP {'VIEW' if table in self._views else 'TABLE'} {table}")
                    conn.execute(f"CREATE VIEW {table} AS SELECT {select} FROM {lake.ALIAS}.{table} {at}")
                    self._views.add(table)
            columns = ", ".join(COLUMN_NAMES)
            conn.execute("DELETE FROM event_log")
            # The first stored of each (site, scope, id): lake rowids grow with each insert.
            conn.execute(f"""
                INSERT INTO event_log ({columns})
                WITH stored AS (SELECT rowid AS r, * FROM {lake.ALIAS}.event_log {at}),
                repeated AS (
                    SELECT site, origin IN ({_PUBLIC}) AS public, event_id, min(r) AS first FROM stored
                    GROUP BY ALL HAVING count(*) > 1)
                SELECT {columns} FROM stored s
                WHERE NOT EXISTS (SELECT 1 FROM repeated d WHERE d.site = s.site AND d.event_id = s.event_id
                                  AND d.public = (s.origin IN ({_PUBLIC})) AND d.first <> s.r)
                ORDER BY r""")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        self.snapshot = latest

    def _columns(self, table: str) -> str:
        """The local table's columns in its order, each from the lake's table or NULL of its type."""
        local = self.conn.execute(
            "SELECT column_name, data_type FROM duckdb_columns() WHERE database_name = current_database() "
            "AND table_name = $t ORDER BY column_index", {"t": table}).fetchall()
        remote = {c for (c,) in self.conn.execute(
            "SELECT column_name FROM duckdb_columns() WHERE database_name = $d AND table_name = $t",
            {"d": lake.ALIAS, "t": table}).fetchall()}
        return ", ".join(name if name in remote else f"CAST(NULL AS {kind}) AS {name}" for name, kind in local)

    def run_write(self, fn: Callable[[duckdb.DuckDBPyConnection], Any]) -> Any:
        """Run fn(conn) here, on the lake's latest events (a failed one's transaction is rolled back)."""
        with self._lock:
            self._refresh()
        return super().run_write(fn)

    def settle(self) -> None:
        """The lake's latest snapshot becomes what the reports read."""
        with self._lock:
            self._refresh()

    def compact(self) -> None:
        """Nothing local to reclaim: the lake's own maintenance is lake.compact()."""

    def write(self, rows: Any, dedupe_all_time: bool = False) -> Any:
        raise ReadOnly(f"{self.path} is open for reading: events reach a lake through a collector or `lake push`")

    submit = write

    def submit_async(self, rows: Any) -> Any:
        return self.write(rows)
