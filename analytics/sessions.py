"""Sessions and touches: the derived table `sessions`, kept up to date from `event_log`.

Raw events are never rewritten. `sessions` (one row per session, described by its landing: source,
medium, campaign, term, content, click id, referrer domain, landing page, GA4 channel) is a derived
table: it is dropped and rebuilt whenever its version changes (a change to SESSIONS_VERSION, to the
SQL that builds it or to the referrer data), and otherwise maintained per visitor:

- In a process that has used the analytics once, an after-commit hook of the store notes the visitors
  of each batch of rows that reaches event_log (the store's mover puts them there). Their sessions
  are recomputed from all their events (so an event that comes late, or is imported with an old
  timestamp, lands in the right place) before the next report, and also from the hook itself once
  REFRESH_EVERY seconds have passed, so the `events` view's session_id stays current while the
  collector runs. While the writer is busy (Store.busy: it commits back to back), that refresh waits
  for a quieter moment or for the store's idle one: it would share the two cores with ingest. Past
  DIRTY_LIMIT visitors noted, the hook stops noting them and the next report finds them with the
  aggregate below.
- When a process starts using a database, it compares a fingerprint of event_log (row count, latest
  arrival) with the one stored at the last refresh. If they differ (another process wrote, the
  collector ran without anyone asking for a report), the visitors whose event count or latest arrival
  differ from their sessions' are found in one aggregate and recomputed. The same happens when the
  row count no longer adds up (the retention purge deleted events).

Everything runs in the store's writer thread (Store.run_write), in order with event batches and once
the mover has caught up, except the hook's periodic refresh: it begins its transaction in the mover
thread, then does the work in a background thread on its own connection, so that the moves are not
held up. Readers keep reading the last committed sessions meanwhile.

Public functions: prepare(source) before reading (returns nothing; raises nothing on an empty
database), rebuild(source) to force a full rebuild, open_dataset(path) for Parquet exports.
"""

from __future__ import annotations

import logging
import threading
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import duckdb
import pyarrow as pa

from webleads.collector.store import Store

from . import channels
from .queries import digest, sql
from .referrers import classify_referrer, source_category

log = logging.getLogger("webleads.analytics")

SESSIONS_VERSION = 2  # 2: conversions have a status
VERSION = f"{SESSIONS_VERSION}:" + digest("sessions_schema", "sessions_build", "sessions_landing", "sessions_insert",
                                          "sessions_conversions", "sessions_scope_todo", "macros",
                                          "data/referrers.tsv")
# Seconds between refreshes from the commit hook, and at least REFRESH_FACTOR times as long as the
# last refresh took: a refresh slows the commits made meanwhile (it shares the CPU and DuckDB's
# commit lock), so it may take at most 1% of the time. Reports refresh first in any case.
REFRESH_EVERY = 30.0
REFRESH_FACTOR = 100
FULL_REBUILD_SHARE = 0.2  # above this share of visitors to recompute, rebuild everything instead
DIRTY_LIMIT = 100_000  # visitors noted by the hook (about 20 MB); past it, reports find them in SQL
# A full rebuild works on slices of visitors of about this many events each: the memory it needs is
# that of one slice's window passes, and each slice scans event_log once more (a cheap scan).
SLICE_EVENTS = 3_000_000

Source = Store | duckdb.DuckDBPyConnection


@dataclass
class _Tracker:
    synced: bool = False
    hooked: bool = False
    dirty: set[tuple[str, str]] = field(default_factory=set)
    rows_since_fingerprint: int = 0  # rows committed (seen by the hook) since the stored fingerprint
    last_refresh: float = 0.0
    last_duration: float = 0.0
    # Held while the derived tables are written: by _sync in the writer thread, or by a refresh the
    # commit hook started in the background (released by that thread when it is done).
    busy: threading.Lock = field(default_factory=threading.Lock)
    cursor: duckdb.DuckDBPyConnection | None = None  # the background refreshes' own connection


_trackers: weakref.WeakKeyDictionary[Any, _Tracker] = weakref.WeakKeyDictionary()
_lock = threading.Lock()


def _tracker(owner: Any) -> _Tracker:
    with _lock:
        tracker = _trackers.get(owner)
        if tracker is None:
            tracker = _trackers[owner] = _Tracker()
        return tracker


def write(source: Source, fn: Callable[[duckdb.DuckDBPyConnection], Any]) -> Any:
    """Run fn(conn) where writes belong: the store's writer thread, or the connection itself."""
    if isinstance(source, Store):
        return source.run_write(fn)
    return fn(source)


def prepare(source: Source) -> None:
    """Bring the derived tables up to date with event_log (called before every report)."""
    tracker = _tracker(source)
    if isinstance(source, Store):
        source.run_write(lambda conn: _sync(conn, tracker, source))
    else:
        _sync(source, tracker, None)


def rebuild(source: Source) -> None:
    """Drop and rebuild every derived table from event_log."""
    tracker = _tracker(source)

    def run(conn: duckdb.DuckDBPyConnection) -> None:
        with tracker.busy:  # waits for a background refresh to end
            _rebuild(conn, tracker)

    write(source, run)


# --- in the writer thread ---------------------------------------------------------------------------
def _sync(conn: duckdb.DuckDBPyConnection, tracker: _Tracker, store: Store | None) -> None:
    if store is not None and not tracker.hooked:
        store.on_commit.append(_make_hook(tracker, store))
        store.on_idle.append(_make_idle_hook(tracker, store))
        tracker.hooked = True
    with tracker.busy:  # waits for a background refresh to end
        _sync_now(conn, tracker)


def _sync_now(conn: duckdb.DuckDBPyConnection, tracker: _Tracker) -> None:
    if _stored_version(conn) != VERSION:
        _rebuild(conn, tracker)
        return
    if tracker.synced and not _only_tracked_changes(conn, tracker):
        tracker.synced = False  # rows went away (the retention purge) or came by another path
    if not tracker.synced:
        if _fingerprint(conn) != _state(conn, "fingerprint"):
            changed = _changed_visitors(conn)
            if changed > FULL_REBUILD_SHARE * max(_visitor_count(conn), 1) and changed > 1000:
                _rebuild(conn, tracker)
                return
            _refresh(conn, tracker, from_temp=True)
        tracker.synced = True
    if tracker.dirty:
        _refresh(conn, tracker)


def _make_hook(tracker: _Tracker, store: Store) -> Callable[[duckdb.DuckDBPyConnection, pa.Table], None]:
    def after_commit(conn: duckdb.DuckDBPyConnection, table: pa.Table) -> None:
        if table.num_rows == 0:
            return
        tracker.rows_since_fingerprint += table.num_rows
        if not tracker.synced:  # the next sync compares event_log with the sessions anyway
            return
        # A plain set of the batch's (site, visitor) pairs: a few microseconds for a live batch of
        # hundreds of rows, where an Arrow group-by costs about a millisecond of the mover's time.
        tracker.dirty.update(zip(table.column("site").to_pylist(), table.column("visitor_id").to_pylist(),
                                 strict=True))
        if len(tracker.dirty) > DIRTY_LIMIT:
            tracker.dirty = set()
            tracker.synced = False
            return
        if not store.busy and _refresh_due(tracker):
            _refresh_in_background(store, tracker)

    return after_commit


def _make_idle_hook(tracker: _Tracker, store: Store) -> Callable[[duckdb.DuckDBPyConnection], None]:
    def when_idle(conn: duckdb.DuckDBPyConnection) -> None:
        if tracker.synced and tracker.dirty and _refresh_due(tracker):
            _refresh_in_background(store, tracker)

    return when_idle


def _refresh_due(tracker: _Tracker) -> bool:
    return time.monotonic() - tracker.last_refresh >= max(REFRESH_EVERY, REFRESH_FACTOR * tracker.last_duration)


def _refresh_in_background(store: Store, tracker: _Tracker) -> None:
    """Start a refresh without holding up the next moves (a refresh takes 0.1-0.5 s under load).

    Its transaction begins here, in the mover thread between two moves (the only writes to
    event_log while jobs wait): its snapshot holds exactly the rows whose visitors are taken from
    the dirty set, so the fingerprint it stores and the hook's row count stay in step. The heavy part
    runs in a thread of its own, on its own connection; rows keep being moved in meanwhile (DuckDB's
    MVCC)."""
    if not tracker.busy.acquire(blocking=False):
        return  # the last one is still running
    try:
        if tracker.cursor is None:
            tracker.cursor = store.conn.cursor()
        cur = tracker.cursor
        cur.execute("BEGIN")
        fingerprint = _fingerprint(cur)  # pins the snapshot
    except BaseException:
        tracker.busy.release()
        raise
    taken, tracker.dirty = tracker.dirty, set()
    tracker.rows_since_fingerprint = 0
    tracker.last_refresh = time.monotonic()

    def run(_: duckdb.DuckDBPyConnection) -> None:
        try:
            _refresh(cur, tracker, begun=(taken, fingerprint))
            log.debug("sessions of %d visitors refreshed in the background in %.0f ms", len(taken),
                      tracker.last_duration * 1000)
        except Exception:  # the visitors are dirty again; the next report recomputes from scratch
            log.exception("refreshing sessions in the background failed")
            tracker.dirty |= taken
            tracker.synced = False
        finally:
            tracker.busy.release()

    store.start_background(run)


def _stored_version(conn: duckdb.DuckDBPyConnection) -> str | None:
    conn.execute("CREATE TABLE IF NOT EXISTS analytics_state (key VARCHAR PRIMARY KEY, value VARCHAR)")
    return _state(conn, "sessions_version")


def _state(conn: duckdb.DuckDBPyConnection, key: str) -> str | None:
    row = conn.execute("SELECT value FROM analytics_state WHERE key = $k", {"k": key}).fetchone()
    return None if row is None else str(row[0])


def _set_state(conn: duckdb.DuckDBPyConnection, key: str, value: str) -> None:
    conn.execute("INSERT OR REPLACE INTO analytics_state VALUES ($k, $v)", {"k": key, "v": value})


def _fingerprint(conn: duckdb.DuckDBPyConnection) -> str:
    row = conn.execute("SELECT count(*), max(received_at) FROM event_log").fetchone()
    assert row is not None
    return f"{row[0]}|{row[1]}"


def _only_tracked_changes(conn: duckdb.DuckDBPyConnection, tracker: _Tracker) -> bool:
    """Whether event_log holds exactly the rows of the stored fingerprint plus those the hook saw (a
    count, cheap), so that the dirty visitors are all there is to recompute."""
    stored = _state(conn, "fingerprint")
    row = conn.execute("SELECT count(*) FROM event_log").fetchone()
    if stored is None or row is None:
        return False
    return int(stored.split("|")[0]) + tracker.rows_since_fingerprint == row[0]


def _visitor_count(conn: duckdb.DuckDBPyConnection) -> int:
    row = conn.execute("SELECT count(*) FROM (SELECT DISTINCT site, visitor_id FROM sessions)").fetchone()
    return int(row[0]) if row else 0


def _changed_visitors(conn: duckdb.DuckDBPyConnection) -> int:
    conn.execute(sql("sessions_changed"))
    row = conn.execute("SELECT count(*) FROM wl_todo").fetchone()
    return int(row[0]) if row else 0


def _rebuild(conn: duckdb.DuckDBPyConnection, tracker: _Tracker) -> None:
    started = time.perf_counter()
    _stored_version(conn)  # creates analytics_state where no report ran yet
    conn.execute("BEGIN")
    try:
        for table in ("sessions", "conversions", "referrer_classes", "source_classes"):
            conn.execute(f"DROP TABLE IF EXISTS {table}")
        conn.execute(sql("sessions_schema"))
        channels.install(conn)
        slices = _slice_count(conn)
        for slice_ in range(slices):
            conn.execute(sql("sessions_scope_all").format(slices=slices, slice=slice_))
            _build(conn)
        _set_state(conn, "sessions_version", VERSION)
        _set_state(conn, "fingerprint", _fingerprint(conn))
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    tracker.rows_since_fingerprint = 0
    tracker.dirty.clear()
    tracker.synced = True
    tracker.last_refresh = time.monotonic()
    tracker.last_duration = time.perf_counter() - started
    log.info("sessions rebuilt in %.2fs", tracker.last_duration)


def _slice_count(conn: duckdb.DuckDBPyConnection) -> int:
    row = conn.execute("SELECT count(*) FROM event_log").fetchone()
    events = int(row[0]) if row else 0
    return max(1, -(-events // SLICE_EVENTS))


def _refresh(conn: duckdb.DuckDBPyConnection, tracker: _Tracker, from_temp: bool = False,
             begun: tuple[set[tuple[str, str]], str] | None = None) -> None:
    """Recompute the sessions of the dirty visitors (or of those already in wl_todo). `begun`: the
    transaction is open already, with the visitors it was begun for and its fingerprint."""
    started = time.perf_counter()
    if begun is None:
        taken = set(tracker.dirty)
        conn.execute("BEGIN")
        fingerprint = None
    else:
        taken, fingerprint = begun
    try:
        if not from_temp:
            conn.execute("CREATE OR REPLACE TEMP TABLE wl_todo (site VARCHAR, visitor_id VARCHAR)")
        if taken:
            todo = pa.table({"site": [s for s, _ in taken], "visitor_id": [v for _, v in taken]})
            conn.register("wl_dirty", todo)
            try:
                conn.execute("INSERT INTO wl_todo SELECT site, visitor_id FROM wl_dirty")
            finally:
                conn.unregister("wl_dirty")
        conn.execute(sql("sessions_scope_todo"))
        for table in ("sessions", "conversions"):
            conn.execute(f"DELETE FROM {table} WHERE (site, visitor_id) IN (SELECT site, visitor_id FROM wl_todo)")
        _build(conn)
        _set_state(conn, "fingerprint", fingerprint or _fingerprint(conn))
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    if begun is None:  # in the writer thread: nothing was committed meanwhile
        tracker.dirty -= taken
        tracker.rows_since_fingerprint = 0
        tracker.last_refresh = time.monotonic()
    tracker.last_duration = time.perf_counter() - started


def _build(conn: duckdb.DuckDBPyConnection) -> None:
    """Sessions of the events in wl_scope, into `sessions` (inside the caller's transaction)."""
    domains = [r[0] for r in conn.execute(sql("sessions_new_domains")).fetchall()]
    if domains:
        classes = [(d, *classify_referrer(d)[:2]) for d in domains]
        conn.register("wl_classes", pa.table({"domain": [c[0] for c in classes], "source": [c[1] for c in classes],
                                              "medium": [c[2] for c in classes]}))
        try:
            conn.execute("INSERT INTO referrer_classes SELECT domain, source, medium FROM wl_classes")
        finally:
            conn.unregister("wl_classes")
    conn.execute(sql("sessions_conversions"))  # first: sessions count the accepted conversions
    conn.execute(sql("sessions_build"))
    conn.execute(sql("sessions_landing"))
    conn.execute("DROP TABLE wl_cut")
    sources = [r[0] for r in conn.execute(sql("sessions_new_sources")).fetchall()]
    if sources:
        conn.register("wl_classes", pa.table({"source": sources,
                                              "category": pa.array([source_category(s) for s in sources],
                                                                   pa.string())}))
        try:
            conn.execute("INSERT INTO source_classes SELECT source, category FROM wl_classes")
        finally:
            conn.unregister("wl_classes")
    conn.execute(sql("sessions_insert"))
    conn.execute("DROP TABLE wl_new_sessions")


# --- Parquet exports --------------------------------------------------------------------------------
def open_dataset(path: str) -> duckdb.DuckDBPyConnection:
    """An in-memory database over a Hive-partitioned Parquet export (webleads export): its events
    become `event_log` (in file order, so events of one instant keep their order), its sessions are
    built here. Raises ValueError when no Parquet file is found."""
    import glob
    import os

    pattern = os.path.join(path, "**", "*.parquet") if os.path.isdir(path) else path
    if not glob.glob(pattern, recursive=True):
        raise ValueError(f"no Parquet file under {path} (write one with: webleads export --format parquet --out DIR)")
    conn = duckdb.connect()
    conn.execute("SET enable_progress_bar = false")
    conn.execute(sql("dataset_open"), {"files": pattern})
    conn.execute("CREATE TABLE sites (name VARCHAR, origins VARCHAR[])")
    # an export holds events only: no outcome or cost is known from it
    conn.execute("CREATE TABLE lead_outcomes (lead_id VARCHAR, outcome VARCHAR, value DECIMAL(14, 2), "
                 "ts TIMESTAMP, recorded_at TIMESTAMP, origin VARCHAR)")
    conn.execute("CREATE TABLE campaign_costs (site VARCHAR, day DATE, source VARCHAR, medium VARCHAR, "
                 "campaign VARCHAR, cost DECIMAL(14, 2), imported_at TIMESTAMP)")
    prepare(conn)
    return conn
