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
import pytest

from webleads.collector.store import Store

from conftest import ORIGIN, Server, webleads
from test_ingest import make_mmdb


async def pixel_load(url: str, count: int, concurrency: int, stop_after: float | None = None,
                     acked: set[str] | None = None) -> set[str]:
    """Send `count` pixel events named n0..n{count-1}; return (and fill) the names answered 200."""
    acked = set() if acked is None else acked
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(count):
        queue.put_nowait(i)
    started = time.monotonic()

    async def worker(client: httpx.AsyncClient) -> None:
        while not queue.empty():
            if stop_after is not None and time.monotonic() - started > stop_after:
                return
            i = queue.get_nowait()
            try:
                r = await client.get(url + "/p.gif", params={"site": "ecloserie", "type": "event", "name": f"n{i}"})
            except httpx.HTTPError:
                continue
            if r.status_code == 200:
                acked.add(f"n{i}")

    limits = httpx.Limits(max_connections=concurrency)
    async with httpx.AsyncClient(limits=limits, timeout=10) as client:
        await asyncio.gather(*(worker(client) for _ in range(concurrency)))
    return acked


def run_async(coro: Any) -> Any:
    """asyncio.run in a thread of its own: another test module's Playwright (sync API) may keep an event
    loop running in the main thread."""
    result: list[Any] = []
    errors: list[BaseException] = []

    def target() -> None:
        try:
            result.append(asyncio.run(coro))
        except BaseException as exc:  # noqa: BLE001 - re-raised in the caller
            errors.append(exc)

    thread = threading.Thread(target=target)
    thread.start()
    thread.join()
    if errors:
        raise errors[0]
    return result[0]


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


def test_an_idle_writer_moves_the_log_into_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No request should wait for a checkpoint under ordinary traffic: the writer makes one when idle
    (and DuckDB's own, inside a commit, comes only after 64 MB of log)."""
    import webleads.collector.store as store_module

    monkeypatch.setattr(store_module, "IDLE_CHECKPOINT_SECONDS", 0.2)
    monkeypatch.setattr(store_module, "IDLE_CHECKPOINT_BYTES", 1)
    db = tmp_path / "idle.duckdb"
    store = Store(str(db))
    try:
        now = store_module.utcnow()
        store.write([(f"i{i}", now, now, "ecloserie", "event", "n", "v", "hash", *[None] * 16, "desktop", False,
                      None, None, None, None, "import") for i in range(100)])
        wal = Path(str(db) + ".wal")
        assert wal.exists() and wal.stat().st_size > 0
        deadline = time.monotonic() + 10
        while store.stats["idle_checkpoints"] == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert store.stats["idle_checkpoints"] >= 1
        assert not wal.exists() or wal.stat().st_size == 0
        assert store.query("SELECT current_setting('checkpoint_threshold') AS t") == [{"t": "61.0 MiB"}]  # 64 MB
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


def test_checkpoints_under_traffic_leave_the_merging_of_row_groups_to_a_quiet_moment(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """DuckDB's vacuum (merging the row groups earlier checkpoints wrote) is what makes a checkpoint
    long, and it grows with the table: the checkpoints DuckDB makes inside a commit skip it, and the
    writer's idle checkpoint does it."""
    import webleads.collector.store as store_module

    monkeypatch.setattr(store_module, "CHECKPOINT_THRESHOLD", "256KB")
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

        for b in range(8):  # each batch passes the threshold: DuckDB checkpoints in its commit
            store.write(batch(2000, f"b{b}"))
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
