"""A 2xx means committed: kill -9 under load loses nothing acknowledged; SIGTERM drains the queue;
the raw IP address never reaches the disk."""

from __future__ import annotations

import asyncio
import signal
import threading
import time
from pathlib import Path
from typing import Any

import duckdb
import httpx
import orjson
import pytest

from webleads.collector.fileformat import STORAGE_VERSION
from webleads.collector.store import Store

from conftest import ORIGIN, Server, webleads
from support import make_mmdb, pixel_load, run_async


def stored_names(db: Path) -> set[str]:
    with duckdb.connect(str(db)) as conn:  # read-write: replays the write-ahead log after a crash
        return {n for (n,) in conn.execute("SELECT name FROM event_log WHERE type = 'event'").fetchall()}


def signal_mid_load(server: Server, sig: int, count: int, acked_before_signal: int) -> set[str]:
    """Run a pixel load of `count` events and send `sig` to the server once `acked_before_signal`
    were acknowledged (whatever the machine's speed); return every name acknowledged."""
    acked_so_far: set[str] = set()

    async def scenario() -> set[str]:
        load = asyncio.create_task(pixel_load(server.url, count, 40, stop_after=30, acked=acked_so_far))
        for _ in range(200):
            await asyncio.sleep(0.05)
            if len(acked_so_far) >= acked_before_signal:
                break
        assert server.proc is not None
        server.proc.send_signal(sig)
        return await load

    return run_async(scenario())  # type: ignore[no-any-return]


def test_kill_9_under_load_loses_no_acknowledged_event(server: Server) -> None:
    acked = signal_mid_load(server, signal.SIGKILL, 20_000, 300)
    server.proc.wait(10)  # type: ignore[union-attr]
    assert len(acked) > 100, "the load did not get going before the kill"
    assert len(acked) < 20_000, "the kill came after the load ended"
    # after a restart (which moves what the journal holds into the database) and a clean stop
    server.start()
    assert server.stop() in (0, -signal.SIGTERM)
    stored = stored_names(server.db)
    assert acked - stored == set()


def test_sigterm_drains_requests_in_flight(server: Server) -> None:
    acked = signal_mid_load(server, signal.SIGTERM, 3000, 100)
    # uvicorn re-raises SIGTERM once its graceful shutdown (and ours: drain, checkpoint) is done
    assert server.proc is not None and server.proc.wait(60) in (0, -signal.SIGTERM)
    assert "collector stopped" in server.log()
    assert len(acked) > 50
    stored = stored_names(server.db)
    assert acked <= stored
    assert "Traceback" not in server.log()


def test_store_close_commits_everything_queued(tmp_path: Path) -> None:
    db = tmp_path / "drain.duckdb"
    webleads("site", "add", "ecloserie", "--origin", ORIGIN, db=db)
    store = Store(str(db))
    from webleads.collector.store import utcnow

    now = utcnow()
    futures = []
    for batch in range(200):
        rows = [(f"e{batch}-{i}", now, now, "ecloserie", "event", f"n{batch}-{i}", "v", "hash", None, None, None,
                 None, None, None, None, None, None, None, None, None, None, None, None, None, "desktop", False,
                 None, None, None, None, "import") for i in range(50)]
        futures.append(store.submit(rows))
    store.close()  # nothing awaited before: everything was still queued
    assert all(f.done() and f.result().stored == 50 for f in futures)
    assert store.stats["batches"] < 200, "queued batches should share transactions (group commit)"
    with duckdb.connect(str(db)) as conn:
        assert conn.execute("SELECT count(*) FROM event_log").fetchone() == (10_000,)


def test_an_idle_store_moves_the_log_into_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The mover checkpoints when idle (and after a move past 64 MB of log; DuckDB's own, inside a
    commit, is only a backstop far above)."""
    import webleads.collector.store as store_module

    monkeypatch.setattr(store_module, "IDLE_CHECKPOINT_SECONDS", 0.2)
    monkeypatch.setattr(store_module, "IDLE_CHECKPOINT_BYTES", 1)
    db = tmp_path / "idle.duckdb"
    store = Store(str(db))
    try:
        now = store_module.utcnow()
        store.write([(f"i{i}", now, now, "ecloserie", "event", "n", "v", "hash", *[None] * 16, "desktop", False,
                      None, None, None, None, "import") for i in range(100)])
        store.settle()  # moved into event_log: in DuckDB's log (the schema was checkpointed at start)
        wal = Path(str(db) + ".wal")
        assert wal.exists() and wal.stat().st_size > 0
        deadline = time.monotonic() + 10
        while store.stats["idle_checkpoints"] == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert store.stats["idle_checkpoints"] >= 1
        assert not wal.exists() or wal.stat().st_size == 0
        assert store.query("SELECT current_setting('checkpoint_threshold') AS t") == [{"t": "953.6 MiB"}]  # 1 GB
        # idle and nothing new: no further checkpoint
        done = store.stats["idle_checkpoints"]
        time.sleep(0.6)
        assert store.stats["idle_checkpoints"] == done
    finally:
        store.close()
    with duckdb.connect(str(db)) as conn:
        assert conn.execute("SELECT count(*) FROM event_log").fetchone() == (100,)


def _row_groups(store: Store) -> int:
    return int(store.query("SELECT count(DISTINCT row_group_id) AS n FROM pragma_storage_info('event_log')")[0]["n"])


def test_a_batch_arriving_during_the_idle_checkpoint_is_acknowledged_at_once(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The merge at a quiet moment can take a second or two after a busy spell: the mover makes it,
    and the writer keeps answering from the journal meanwhile; a report waits for it."""
    import webleads.collector.store as store_module

    monkeypatch.setattr(store_module, "IDLE_CHECKPOINT_SECONDS", 0.2)
    monkeypatch.setattr(store_module, "IDLE_CHECKPOINT_BYTES", 1)
    started, release = _gate_checkpoints(monkeypatch, "_checkpoint_and_merge")  # the one with the merge
    store = Store(str(tmp_path / "quiet.duckdb"))
    try:
        store.write(_events("a", 100))
        assert started.wait(10), "no checkpoint at the quiet moment"
        began = time.monotonic()
        assert store.write(_events("b", 20)).stored == 20
        assert time.monotonic() - began < 1.0
        assert store.journal_events == 20
        threading.Timer(0.3, release.set).start()
        store.settle()  # waits for the checkpoint, then the move
        assert store.stats["idle_checkpoints"] == 1
        assert store.query("SELECT count(*) AS n FROM event_log") == [{"n": 120}]
    finally:
        release.set()
        store.close()


def test_checkpoints_under_traffic_leave_the_merging_of_row_groups_to_a_quiet_moment(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """DuckDB's vacuum (merging the row groups earlier checkpoints wrote) is what makes a checkpoint
    long, and it grows with the table: the checkpoints made under traffic skip it, and the mover's
    idle checkpoint does it."""
    import webleads.collector.store as store_module

    monkeypatch.setattr(store_module, "CHECKPOINT_BYTES", 256 << 10)
    monkeypatch.setattr(store_module, "IDLE_CHECKPOINT_SECONDS", 1.0)
    monkeypatch.setattr(store_module, "IDLE_CHECKPOINT_BYTES", 1)
    db = tmp_path / "busy.duckdb"
    store = Store(str(db))
    try:
        now = store_module.utcnow()

        def batch(n: int, tag: str) -> list[tuple[Any, ...]]:
            return [(f"{tag}-{i}", now, now, "ecloserie", "pageview", None, f"v{i}", "hash",
                     f"https://www.ecloserie.test/{tag}/{i}", "/p", *[None] * 14, "desktop", False,
                     None, None, None, None, "beacon") for i in range(n)]

        for b in range(8):  # each batch passes the threshold: a checkpoint follows its commit
            store.write(batch(2000, f"b{b}"))
            store.settle()  # that checkpoint is over
            assert store.stats["checkpoints"] == b + 1
        assert store.stats["idle_checkpoints"] == 0
        assert _row_groups(store) >= 6  # one per checkpoint, not merged (8 x 2,000 rows fit in one)
        store.write(batch(10, "last"))  # a little log for the idle checkpoint to move
        deadline = time.monotonic() + 20
        while store.stats["idle_checkpoints"] == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert store.stats["idle_checkpoints"] >= 1
        assert _row_groups(store) == 1
        assert store.query("SELECT current_setting('max_vacuum_tasks') AS n") == [{"n": 0}]  # back for traffic
    finally:
        store.close()
    with duckdb.connect(str(db)) as conn:
        assert conn.execute("SELECT count(*) FROM event_log").fetchone() == (16_010,)


def test_the_writer_knows_when_it_is_busy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Its load is the share of time spent writing: near 1 when batches come back to back, near 0
    after a quiet spell."""
    import webleads.collector.store as store_module

    monkeypatch.setattr(store_module, "LOAD_WINDOW", 0.02)
    store = Store(str(tmp_path / "load.duckdb"), batch_events=20)
    try:
        # 300 batches queued at once: the writer commits them back to back, 20 events each
        futures = [store.submit(_events(f"c{b}", 20)) for b in range(300)]
        assert all(f.result().stored == 20 for f in futures)
        store.settle()  # past the bookkeeping of the last batch
        assert store.busy and store.load > 0.8
        time.sleep(1.0)
        store.write(_events("alone", 1))
        store.settle()
        assert not store.busy and store.load < 0.2
    finally:
        store.close()


def _gate_checkpoints(monkeypatch: pytest.MonkeyPatch, method: str = "_checkpoint_database"
                      ) -> tuple[threading.Event, threading.Event]:
    """Hold each checkpoint the store makes through `method` (by default the mover's, under traffic)
    until `release` is set; `started` is set when one begins."""
    started, release = threading.Event(), threading.Event()
    real = getattr(Store, method)

    def gated(self: Store, cur: duckdb.DuckDBPyConnection) -> None:
        started.set()
        assert release.wait(30)
        real(self, cur)

    monkeypatch.setattr(Store, method, gated)
    return started, release


def _events(tag: str, n: int) -> list[tuple[Any, ...]]:
    import webleads.collector.store as store_module

    now = store_module.utcnow()
    return [(f"{tag}-{i}", now, now, "ecloserie", "pageview", None, f"v{i}", "consent",
             f"https://www.ecloserie.test/{tag}/{i}", "/p", *[None] * 14, "desktop", False,
             None, None, None, None, "beacon") for i in range(n)]


def test_batches_are_acknowledged_from_the_journal_while_the_database_checkpoints(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A batch is answered once in the journal; the mover takes the journal's batches into
    event_log and checkpoints the database past the log's threshold. While it checkpoints, batches
    are still acknowledged at once; they reach event_log after it, and a report (through the writer)
    sees them all."""
    import webleads.collector.store as store_module

    monkeypatch.setattr(store_module, "CHECKPOINT_BYTES", 64 << 10)
    started, release = _gate_checkpoints(monkeypatch)
    db = tmp_path / "journal.duckdb"
    store = Store(str(db))
    seen: list[int] = []
    store.on_commit.append(lambda conn, table: seen.append(table.num_rows))
    try:
        assert store.write(_events("a", 500)).stored == 500  # moved, then past 64 KB of log
        assert started.wait(10), "no checkpoint started past the threshold"
        began = time.monotonic()
        for b in range(5):  # acknowledged while the checkpoint is held
            assert store.write(_events(f"b{b}", 20)).stored == 20
        assert time.monotonic() - began < 5
        assert store.journal_events == 100
        assert store.journal.segments(), "the batches are on the disk, in the journal"
        assert store.query("SELECT count(*) AS n FROM event_log") == [{"n": 500}]
        assert seen == [500]  # derived tables hear of rows when they reach event_log
        release.set()
        store.settle()
        assert store.stats["checkpoints"] == 1
        assert store.query("SELECT count(*) AS n FROM event_log") == [{"n": 600}]
        assert store.journal_events == 0 and not store.journal.segments()
        assert seen == [500, 100]
        assert store.write(_events("b0", 20)).duplicates == 20  # retried ids are still recognised
    finally:
        release.set()
        store.close()
    assert not Path(str(db) + ".journal").exists(), "a clean stop leaves no journal"
    with duckdb.connect(str(db)) as conn:
        assert conn.execute("SELECT count(*), count(DISTINCT event_id) FROM event_log").fetchone() == (600, 600)


def test_live_events_reach_event_log_within_moments_imports_at_once(tmp_path: Path) -> None:
    import webleads.collector.store as store_module

    store = Store(str(tmp_path / "visible.duckdb"))
    try:
        store.write(_events("live", 10))
        deadline = time.monotonic() + 10 * store_module.MOVE_SECONDS
        while store.query("SELECT count(*) AS n FROM event_log") != [{"n": 10}]:
            assert time.monotonic() < deadline, "live events never reached event_log"
            time.sleep(0.02)
        assert store.stats["moves"] == 1
        store.write(_events("import", 10), dedupe_all_time=True)
        assert store.query("SELECT count(*) AS n FROM event_log") == [{"n": 20}]  # no wait
    finally:
        store.close()


def test_a_checkpoint_that_never_ends_holds_at_most_so_many_bytes_in_memory(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import webleads.collector.store as store_module

    monkeypatch.setattr(store_module, "CHECKPOINT_BYTES", 64 << 10)
    started, release = _gate_checkpoints(monkeypatch)
    store = Store(str(tmp_path / "limit.duckdb"))
    try:
        store.write(_events("a", 500))
        assert started.wait(10)  # those 500 are in event_log; the checkpoint after their move is held
        batch_bytes = len(orjson.dumps(_events("b0", 20)))
        monkeypatch.setattr(store_module, "JOURNAL_BYTES_LIMIT", int(2.5 * batch_bytes))
        for b in range(3):
            store.write(_events(f"b{b}", 20))  # acknowledged at once; past 2.5 batches, the writer stops
        threading.Timer(0.5, release.set).start()
        began = time.monotonic()
        store.write(_events("c", 20))  # waits for the end of the checkpoint
        assert time.monotonic() - began >= 0.4
        store.settle()
        assert store.query("SELECT count(*) AS n FROM event_log") == [{"n": 580}]
    finally:
        release.set()
        store.close()


def test_a_move_that_fails_is_tried_again_and_loses_nothing(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The batches stay in memory and in the journal; a report waits for one attempt, not forever."""
    import webleads.collector.store as store_module

    monkeypatch.setattr(store_module, "MOVE_RETRY_SECONDS", 0.5)
    real = Store._insert_moved
    failures: list[int] = []

    def failing_twice(cur: duckdb.DuckDBPyConnection, moved: Any) -> None:
        if len(failures) < 2:
            failures.append(moved.num_rows)
            raise duckdb.IOException("No space left on device")
        real(cur, moved)

    monkeypatch.setattr(Store, "_insert_moved", staticmethod(failing_twice))
    store = Store(str(tmp_path / "retry.duckdb"))
    try:
        store.write(_events("a", 30))
        store.write(_events("b", 20))
        began = time.monotonic()
        store.settle()  # one attempt, which fails
        assert time.monotonic() - began < 5
        assert failures and store.journal_events == 50
        assert store.query("SELECT count(*) AS n FROM event_log") == [{"n": 0}]
        deadline = time.monotonic() + 10
        while store.journal_events:
            assert time.monotonic() < deadline, "the move was never tried again"
            time.sleep(0.05)
        assert failures == [50, 50]  # the same batches each time
        assert store.query("SELECT count(*) AS n, count(DISTINCT event_id) AS d FROM event_log") == [{"n": 50, "d": 50}]
    finally:
        store.close()


CRASH_BEFORE_A_MOVE = """
import os
from typing import Any
import webleads.collector.store as store_module
from webleads.collector.store import Store
{events}
store_module.MOVE_SECONDS = 3600  # nothing reaches event_log: the journal holds every batch
store = Store({db!r})
for b in range(6):
    store.write(_events(f"b{{b}}", 20))
print(store.journal_events, flush=True)
os._exit(9)  # no close: as kill -9
"""


def test_events_left_in_the_journal_by_a_crash_are_moved_in_at_the_next_start(tmp_path: Path) -> None:
    import inspect
    import subprocess
    import sys

    from webleads.collector.journal import read_segment
    from webleads.collector.store import rows_to_arrow

    db = tmp_path / "crash.duckdb"
    script = CRASH_BEFORE_A_MOVE.format(events=inspect.getsource(_events), db=str(db))
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert out.returncode == 9, out.stderr
    assert out.stdout.strip() == "120"
    segments = sorted(Path(str(db) + ".journal").glob("*.jsonl"))
    assert len(segments) == 1
    columns, rows, torn = read_segment(segments[0])
    assert (len(rows), torn) == (120, 0)
    # as if the crash had come after a move's commit, before the segment's deletion: one batch is
    # in event_log already; and the next batch was being written: a torn record at the end
    with duckdb.connect(str(db)) as conn:
        first = rows_to_arrow([r for r in _events("b0", 20)])  # noqa: F841 - read by DuckDB by name
        conn.execute("INSERT INTO event_log SELECT * FROM first")
    with open(segments[0], "ab") as fh:
        fh.write(b"\x40\x00\x00\x00\x12\x34\x56\x78partial")
    store = Store(str(db))
    try:
        assert store.recovered_from_journal == 100  # the batch already there is not stored twice
        counts = store.query("SELECT count(*) AS n, count(DISTINCT event_id) AS d FROM event_log")
        assert counts == [{"n": 120, "d": 120}]
        assert not store.journal.segments()
    finally:
        store.close()
    reopened = Store(str(db))
    try:
        assert reopened.recovered_from_journal == 0
        assert reopened.query("SELECT count(*) AS n FROM event_log") == [{"n": 120}]
        assert reopened.write(_events("b3", 20)).duplicates == 20  # recovered ids are known again
    finally:
        reopened.close()


def test_a_side_file_left_by_the_earlier_version_is_moved_in(tmp_path: Path) -> None:
    """The version before the journal committed the batches made during a checkpoint to <db>.side;
    one left by a crash is read at the next start."""
    db = tmp_path / "legacy.duckdb"
    Store(str(db)).close()
    rows = _events("old", 30)
    with duckdb.connect(str(db)) as conn:
        conn.execute(f"ATTACH '{db}.side' AS side (STORAGE_VERSION '{STORAGE_VERSION}')")
        conn.execute("CREATE TABLE side.event_log AS SELECT * FROM event_log LIMIT 0")
        placeholders = ", ".join(["?"] * len(rows[0]))
        conn.executemany(f"INSERT INTO side.event_log VALUES ({placeholders})", rows)
        conn.executemany(f"INSERT INTO event_log VALUES ({placeholders})", rows[:10])  # moved before the crash
    store = Store(str(db))
    try:
        assert store.recovered_from_journal == 20
        assert store.query("SELECT count(*) AS n, count(DISTINCT event_id) AS d FROM event_log") == [{"n": 30, "d": 30}]
    finally:
        store.close()
    assert not Path(str(db) + ".side").exists()


def test_raw_ip_never_reaches_the_disk(tmp_path: Path, site_db: Path, make_server) -> None:  # type: ignore[no-untyped-def]
    mmdb = make_mmdb(tmp_path / "city.mmdb")
    srv = make_server(site_db, "--geoip", str(mmdb), "--trusted-proxy", "127.0.0.0/8")
    for i in range(20):
        r = httpx.post(srv.url + "/e", content='{"site":"ecloserie","url":"%s/p%d"}' % (ORIGIN, i),
                       headers={"Origin": ORIGIN, "X-Forwarded-For": "203.0.113.77"})
        assert r.status_code == 204
        assert httpx.get(srv.url + "/p.gif", params={"site": "ecloserie"},
                         headers={"X-Forwarded-For": "198.51.100.42"}).status_code == 200
    srv.stop()
    assert srv.query("SELECT count(*), count(country) FROM events") == [(40, 40)]  # the IPs were used...
    files = [p for p in tmp_path.iterdir() if p.name.startswith(site_db.name)]
    assert files
    for path in files:  # ...and are nowhere in the database file or its log
        data = path.read_bytes()
        for ip in (b"203.0.113.77", b"198.51.100.42", b"127.0.0.1"):
            assert ip not in data, f"{ip!r} found in {path.name}"


def test_overload_answers_503_and_never_drops_what_it_accepted(site_db: Path, make_server) -> None:  # type: ignore[no-untyped-def]
    srv = make_server(site_db, env={"WEBLEADS_QUEUE_EVENTS": "2", "WEBLEADS_BATCH_EVENTS": "1"})

    async def burst() -> tuple[set[str], int, set[str]]:
        acked: set[str] = set()
        refused = 0
        retry_after: set[str] = set()

        async def one(client: httpx.AsyncClient, i: int) -> None:
            nonlocal refused
            r = await client.get(srv.url + "/p.gif", params={"site": "ecloserie", "type": "event", "name": f"n{i}"})
            if r.status_code == 200:
                acked.add(f"n{i}")
            else:
                assert r.status_code == 503 and r.headers["x-webleads-reason"] == "overloaded"
                refused += 1
                retry_after.add(r.headers["retry-after"])

        async with httpx.AsyncClient(limits=httpx.Limits(max_connections=100), timeout=30) as client:
            await asyncio.gather(*(one(client, i) for i in range(400)))
        return acked, refused, retry_after

    acked, refused, retry_after = run_async(burst())
    srv.stop()
    assert refused > 0, "a queue of 2 events should overflow under 100 concurrent requests"
    assert retry_after == {"2"}
    assert stored_names(srv.db) == acked  # everything acknowledged, nothing refused
