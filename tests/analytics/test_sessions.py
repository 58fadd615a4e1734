"""Sessions: the 30-minute rule, new sources mid-visit, sites, the events view, and the derived table
kept up to date when events arrive late, are imported with old timestamps, or come from elsewhere."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import duckdb
import pytest
from lab import T0, Lab

from webleads.analytics import sessions

M = timedelta(minutes=1)


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[Lab]:
    lab = Lab(tmp_path / "sessions.duckdb")
    yield lab
    lab.close()


def cut(lab: Lab, visitor: str = "v1", site: str = "ecloserie") -> list[tuple[str, str, int]]:
    """(source, medium, events) of a visitor's sessions, in order."""
    if lab.pending:
        lab.commit()
    sessions.prepare(lab.store)
    rows = lab.query("SELECT source, medium, events FROM sessions WHERE visitor_id = $v AND site = $s ORDER BY seq",
                     {"v": visitor, "s": site})
    return [(r["source"], r["medium"], r["events"]) for r in rows]


def test_thirty_minutes_without_an_event_end_a_session(lab: Lab) -> None:
    lab.visit("v1", T0, via="Email").visit("v1", T0 + 29 * M).visit("v1", T0 + 58 * M)  # gaps of 29 minutes
    lab.visit("v1", T0 + 89 * M)  # 31 minutes later
    assert cut(lab) == [("newsletter", "email", 3), ("(direct)", "(none)", 1)]


def test_exactly_thirty_minutes_is_a_new_session(lab: Lab) -> None:
    lab.visit("v1", T0, via="Email").visit("v1", T0 + 30 * M)
    assert cut(lab) == [("newsletter", "email", 1), ("(direct)", "(none)", 1)]


def test_another_source_mid_visit_starts_a_session_and_direct_pages_continue(lab: Lab) -> None:
    lab.visit("v1", T0, via="Email").visit("v1", T0 + M, referrer="https://www.ecloserie.test/")  # internal
    lab.visit("v1", T0 + 2 * M, via="Organic Search")  # back from google: another source
    lab.visit("v1", T0 + 3 * M)  # direct: continues the search session
    lab.visit("v1", T0 + 4 * M, via="Organic Search")  # the same source again: continues
    lab.visit("v1", T0 + 5 * M, query="utm_source=newsletter&utm_medium=email&utm_campaign=dec")  # other campaign
    assert cut(lab) == [("newsletter", "email", 2), ("google", "organic", 3), ("newsletter", "email", 1)]


def test_a_campaign_landing_after_direct_pages_starts_a_session(lab: Lab) -> None:
    lab.visit("v1", T0).visit("v1", T0 + M).visit("v1", T0 + 2 * M, via="Paid Search")
    assert cut(lab) == [("(direct)", "(none)", 2), ("google", "cpc", 1)]


def test_a_conversion_continues_the_session_and_sessions_never_span_sites(lab: Lab) -> None:
    lab.registry.add_site("autre", ["https://autre.test"])
    lab.visit("v1", T0, via="Email").convert("v1", T0 + M)
    lab.visit("v1", T0 + 2 * M, site="autre")
    assert cut(lab) == [("newsletter", "email", 2)]
    rows = lab.query("SELECT site, count(*) AS n FROM sessions GROUP BY site ORDER BY site")
    assert rows == [{"site": "autre", "n": 1}, {"site": "ecloserie", "n": 1}]


def test_server_side_events_alone_make_no_touch(lab: Lab) -> None:
    lab.visit("v1", T0, via="Email")
    lab.pending.append({"ts": (T0 + 3 * timedelta(days=1)).isoformat(), "site": "ecloserie", "type": "conversion",
                        "name": "inscription-confirmee", "visitor_id": "v1"})
    assert cut(lab) == [("newsletter", "email", 1), ("(direct)", "(none)", 1)]
    touches = lab.query("SELECT is_touch FROM sessions ORDER BY seq")
    assert [t["is_touch"] for t in touches] == [True, False]
    assert lab.credits("last_touch") == {"Email": 1.0}


def test_the_events_view_has_the_session_of_each_event(lab: Lab) -> None:
    lab.visit("v1", T0, via="Email").visit("v1", T0 + M).visit("v1", T0 + 2 * M, via="Organic Search")
    lab.visit("v2", T0)
    lab.commit()
    sessions.prepare(lab.store)
    rows = lab.query("SELECT e.visitor_id, e.ts, e.session_id, s.source FROM events e "
                     "JOIN sessions s USING (session_id) ORDER BY e.visitor_id, e.ts")
    assert [(r["visitor_id"], r["source"]) for r in rows] == [("v1", "newsletter"), ("v1", "newsletter"),
                                                              ("v1", "google"), ("v2", "(direct)")]
    assert len({r["session_id"] for r in rows}) == 3
    columns = [r["column_name"] for r in lab.query("SELECT column_name FROM (DESCRIBE events)")]
    assert columns[:8] == ["event_id", "ts", "received_at", "site", "type", "name", "visitor_id", "session_id"]


def test_a_late_event_is_placed_in_the_right_session(lab: Lab) -> None:
    lab.visit("v1", T0, via="Email").visit("v1", T0 + 50 * M)
    assert cut(lab) == [("newsletter", "email", 1), ("(direct)", "(none)", 1)]
    # the hook installed by the first report sees this batch; the next report recomputes v1
    lab.visit("v1", T0 + 25 * M).commit()
    assert cut(lab) == [("newsletter", "email", 3)]


def test_the_commit_hook_refreshes_without_a_report(lab: Lab, monkeypatch: pytest.MonkeyPatch) -> None:
    lab.visit("v1", T0, via="Email").commit()
    sessions.prepare(lab.store)
    monkeypatch.setattr(sessions, "REFRESH_EVERY", 0.0)
    monkeypatch.setattr(sessions, "REFRESH_FACTOR", 0.0)
    lab.visit("v2", T0 + M, via="Organic Search").commit()
    lab.store.run_write(lambda conn: None)  # the hook runs in the writer thread, right after the commit...
    assert lab.store.wait_background(30)  # ...and starts the refresh beside it, in a thread of its own
    rows = lab.query("SELECT visitor_id, source FROM sessions ORDER BY visitor_id")
    assert rows == [{"visitor_id": "v1", "source": "newsletter"}, {"visitor_id": "v2", "source": "google"}]


def test_background_refreshes_keep_step_with_commits_made_meanwhile(lab: Lab, monkeypatch: pytest.MonkeyPatch) -> None:
    lab.visit("v0", T0, via="Email").commit()
    sessions.prepare(lab.store)
    monkeypatch.setattr(sessions, "REFRESH_EVERY", 0.0)
    monkeypatch.setattr(sessions, "REFRESH_FACTOR", 0.0)
    for i in range(1, 31):  # each commit may start a refresh while the next commits go on
        lab.visit(f"v{i}", T0 + i * M, via="Organic Search").commit()
    assert lab.store.wait_background(30)
    # the row count the hook kept matches the stored fingerprint: no search for changed visitors
    searched: list[int] = []
    monkeypatch.setattr(sessions, "_changed_visitors", lambda conn: searched.append(1) or 0)
    sessions.prepare(lab.store)
    assert searched == []
    assert lab.query("SELECT count(DISTINCT visitor_id) AS n FROM sessions") == [{"n": 31}]


def _visitors_with_sessions(lab: Lab) -> list[str]:
    return [r["visitor_id"] for r in lab.query("SELECT DISTINCT visitor_id FROM sessions ORDER BY visitor_id")]


def test_a_busy_writer_leaves_the_refresh_to_its_idle_moment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import webleads.collector.store as store_module

    lab = Lab(tmp_path / "busy.duckdb", checkpoints=store_module.CheckpointPolicy(idle_seconds=0.5))
    try:
        lab.visit("v1", T0, via="Email").commit()
        sessions.prepare(lab.store)
        monkeypatch.setattr(sessions, "REFRESH_EVERY", 0.0)
        monkeypatch.setattr(sessions, "REFRESH_FACTOR", 0.0)
        monkeypatch.setattr(store_module.Store, "busy", property(lambda self: True))
        lab.visit("v2", T0 + M, via="Organic Search").commit()
        lab.store.run_write(lambda conn: None)  # past the hook
        assert lab.store.wait_background(30)
        assert _visitors_with_sessions(lab) == ["v1"]  # no refresh beside a busy writer
        deadline = time.monotonic() + 15
        while _visitors_with_sessions(lab) != ["v1", "v2"] and time.monotonic() < deadline:
            time.sleep(0.1)  # the writer's idle moment starts it
        assert _visitors_with_sessions(lab) == ["v1", "v2"]
    finally:
        lab.close()


def test_past_the_limit_the_hook_notes_no_more_visitors_and_the_next_report_finds_them(
        lab: Lab, monkeypatch: pytest.MonkeyPatch) -> None:
    import webleads.collector.store as store_module

    lab.visit("v0", T0, via="Email").commit()
    sessions.prepare(lab.store)
    monkeypatch.setattr(sessions, "DIRTY_LIMIT", 3)
    monkeypatch.setattr(store_module.Store, "busy", property(lambda self: True))
    for i in range(1, 7):
        lab.visit(f"v{i}", T0 + i * M, via="Organic Search")
    lab.commit()
    lab.store.run_write(lambda conn: None)
    tracker = sessions._tracker(lab.store)
    assert not tracker.synced and tracker.dirty == set()  # memory stays bounded
    sessions.prepare(lab.store)
    assert _visitors_with_sessions(lab) == [f"v{i}" for i in range(7)]


def test_changes_made_by_another_process_are_found(tmp_path: Path) -> None:
    path = tmp_path / "shared.duckdb"
    lab = Lab(path)
    lab.visit("v1", T0, via="Email").visit("v1", T0 + 50 * M).visit("v2", T0).commit()
    sessions.prepare(lab.store)
    lab.close()
    # someone else writes without the analytics: an old event for v1, a new visitor, a purge of v2
    with duckdb.connect(str(path)) as conn:
        conn.execute("INSERT INTO event_log SELECT * REPLACE (event_id || 'x' AS event_id, ts + INTERVAL 25 MINUTE "
                     "AS ts, now()::TIMESTAMP AS received_at) FROM event_log WHERE visitor_id = 'v1' "
                     "AND ts = (SELECT min(ts) FROM event_log WHERE visitor_id = 'v1')")
        conn.execute("INSERT INTO event_log SELECT * REPLACE ('v3' AS visitor_id, 'e3' AS event_id) FROM event_log "
                     "WHERE visitor_id = 'v2'")
        conn.execute("DELETE FROM event_log WHERE visitor_id = 'v2'")
    lab = Lab(path)
    try:
        assert cut(lab, "v1") == [("newsletter", "email", 3)]
        assert [r["visitor_id"] for r in lab.query("SELECT visitor_id FROM sessions ORDER BY 1")] == ["v1", "v3"]
    finally:
        lab.close()


def test_a_new_version_rebuilds_the_derived_tables(lab: Lab) -> None:
    lab.visit("v1", T0, via="Email").commit()
    sessions.prepare(lab.store)
    lab.store.run_write(lambda c: c.execute("UPDATE analytics_state SET value = 'old' WHERE key = 'sessions_version'"))
    lab.store.run_write(lambda c: c.execute("UPDATE sessions SET source = 'stale'"))
    lab.close()
    again = Lab(lab.store.path)  # type: ignore[arg-type]
    try:
        assert cut(again) == [("newsletter", "email", 1)]
        assert again.query("SELECT value FROM analytics_state WHERE key = 'sessions_version'") == [
            {"value": sessions.VERSION}]
    finally:
        again.close()


def test_events_purged_by_the_collector_take_their_sessions_along(lab: Lab) -> None:
    lab.visit("old", T0 - timedelta(days=30), via="Email").visit("v1", T0, via="Organic Search").commit()
    sessions.prepare(lab.store)
    # the retention purge deletes rows in the writer thread: no commit hook sees it
    lab.store.run_write(lambda conn: conn.execute("DELETE FROM event_log WHERE visitor_id = 'old'"))
    sessions.prepare(lab.store)
    assert [r["visitor_id"] for r in lab.query("SELECT visitor_id FROM sessions")] == ["v1"]
