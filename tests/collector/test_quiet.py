"""The quiet-site alarm: a site whose pages stop sending events is said once when it goes quiet and once
when it comes back; /healthz, /metrics and doctor show each site's last event. A real DuckDB file with a
fake clock for the rules, and a real `webleads serve` for the wiring."""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from pathlib import Path

import duckdb
import httpx

from webleads.collector.quiet import QuietWatch
from webleads.collector.registry import Registry
from webleads.collector.store import Store

from conftest import ORIGIN, Server, free_port, webleads

T0 = datetime(2026, 11, 2, 12, 0)
BROWSER = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"


def add_events(db: Path | Store, site: str, times: list[datetime], origin: str = "beacon", bot: bool = False) -> None:
    rows = [(f"{site}-{origin}-{t.isoformat()}", t, t, site, "pageview", "v", "hash", bot, origin) for t in times]
    sql = ("INSERT INTO event_log (event_id, received_at, ts, site, type, visitor_id, visitor_kind, is_bot, origin) "
           "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)")
    if isinstance(db, Store):
        db.run_write(lambda conn: conn.executemany(sql, rows))
    else:
        with duckdb.connect(str(db)) as conn:
            conn.executemany(sql, rows)


def hourly(start: datetime, end: datetime, skip: tuple[datetime, datetime] | None = None) -> list[datetime]:
    times, t = [], start
    while t <= end:
        if not (skip and skip[0] < t < skip[1]):
            times.append(t)
        t += timedelta(hours=1)
    return times


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def test_a_site_goes_quiet_past_its_threshold_and_comes_back_once_each(tmp_path: Path) -> None:
    store = Store(str(tmp_path / "w.duckdb"))
    try:
        registry = Registry(store)
        registry.add_site("ecloserie", [ORIGIN])
        registry.add_site("nightly", ["https://nightly.test"])
        registry.add_site("empty", ["https://empty.test"])
        registry.add_site("demo", ["https://demo.test"])
        registry.mark_demo("demo")
        # hourly events for three days; `nightly` has a 20-hour silence in them, so 40 hours are normal for it
        add_events(store, "ecloserie", hourly(T0 - timedelta(days=3), T0))
        add_events(store, "nightly", hourly(T0 - timedelta(days=3), T0, skip=(T0 - timedelta(hours=40),
                                                                             T0 - timedelta(hours=20))))
        add_events(store, "demo", [T0 - timedelta(days=20)])
        add_events(store, "ecloserie", [T0 + timedelta(hours=30)], origin="import")  # not from the pages
        add_events(store, "ecloserie", [T0 + timedelta(hours=30)], bot=True)  # a crawler is no sign of life
        log = tmp_path / "alerts.log"
        clock = Clock(T0 + timedelta(hours=2))
        watch = QuietWatch(store, timedelta(hours=24), command=f'echo "$WEBLEADS_ALERT $WEBLEADS_SITE '
                           f'$WEBLEADS_LAST_EVENT" >> {log}', clock=clock)

        state = {a.site: a for a in watch.check()}
        assert not any(a.quiet for a in state.values())
        assert state["ecloserie"].threshold == timedelta(hours=24)
        assert state["nightly"].threshold == timedelta(hours=40)  # twice its longest silence
        assert state["empty"].last_event is None and "demo" not in state
        assert not log.exists()

        clock.now = T0 + timedelta(hours=25)
        state = {a.site: a for a in watch.check()}
        assert state["ecloserie"].quiet and not state["nightly"].quiet and not state["empty"].quiet
        assert log.read_text().splitlines() == [f"quiet ecloserie {T0.isoformat()}"]
        clock.now = T0 + timedelta(hours=26)
        watch.check()
        assert len(log.read_text().splitlines()) == 1  # said once

        clock.now = T0 + timedelta(hours=43)
        watch.check()
        assert log.read_text().splitlines()[1] == f"quiet nightly {T0.isoformat()}"
        back = T0 + timedelta(hours=43, minutes=5)
        add_events(store, "ecloserie", [back])
        clock.now = back + timedelta(minutes=1)
        watch.check()
        watch.check()
        assert log.read_text().splitlines()[2:] == [f"back ecloserie {back.isoformat()}"]
        # a new watch (a restart) does not repeat what was said
        QuietWatch(store, timedelta(hours=24), command=f"echo again >> {log}", clock=clock).check()
        assert "again" not in log.read_text()
    finally:
        store.close()


def test_the_running_collector_raises_the_alarm_and_reports_last_events(site_db: Path, tmp_path: Path) -> None:
    now = datetime.utcnow()
    add_events(site_db, "ecloserie", hourly(now - timedelta(days=5), now - timedelta(days=3)))
    log = tmp_path / "alerts.log"
    srv = Server(db=site_db, port=free_port(), log_path=tmp_path / "serve.log",
                 extra_args=("--alert-command", f'echo "$WEBLEADS_ALERT $WEBLEADS_SITE" >> {log}'),
                 env={"WEBLEADS_QUIET_CHECK_SECONDS": "1"}).start()
    try:
        _wait(lambda: log.exists() and log.read_text().splitlines() == ["quiet ecloserie"], srv)
        health = httpx.get(srv.url + "/healthz", timeout=10).json()
        assert health["status"] == "ok" and health["last_events"]["ecloserie"].startswith(
            (now - timedelta(days=3)).strftime("%Y-%m-%dT%H"))
        assert "is the tag still on the pages" in health["warnings"][0]
        assert httpx.get(srv.url + "/healthz?strict=1", timeout=10).status_code == 503
        assert 'webleads_site_quiet{site="ecloserie"} 1' in httpx.get(srv.url + "/metrics", timeout=10).text
        doctor = webleads("doctor", "--offline", db=site_db, check=False).stdout
        assert "[warn] site ecloserie: last event" in doctor and "3 days ago" in doctor

        sent = httpx.post(srv.url + "/e", content='{"site":"ecloserie","url":"' + ORIGIN + '/"}',
                          headers={"Origin": ORIGIN, "User-Agent": BROWSER}, timeout=10)
        assert sent.status_code == 204
        _wait(lambda: log.read_text().splitlines() == ["quiet ecloserie", "back ecloserie"], srv)
        metrics = httpx.get(srv.url + "/metrics", timeout=10).text
        assert 'webleads_site_quiet{site="ecloserie"} 0' in metrics
        age = next(line for line in metrics.splitlines() if line.startswith("webleads_last_event_age_seconds"))
        assert float(age.split()[-1]) < 60
        assert httpx.get(srv.url + "/healthz?strict=1", timeout=10).status_code == 200
    finally:
        srv.kill()


def _wait(done: object, srv: Server, seconds: float = 20) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if done():  # type: ignore[operator]
            return
        time.sleep(0.1)
    raise AssertionError(f"not reached in {seconds}s:\n{srv.log()}")
