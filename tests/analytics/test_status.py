"""Conversion status: form plugins' verdicts (status events), the collector's own spam signals, and the
reports that leave rejected conversions out unless include_rejected. Golden tests: hand-made events, the
expected rows written by hand."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pytest
from lab import T0, UA, Lab

from webleads.analytics import reports, sessions
from webleads.collector.store import migrations

M = timedelta(minutes=1)
NO_PAGEVIEW = "no pageview in the 30 minutes before"
BURST = "more than 5 conversions in 10 minutes"


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[Lab]:
    lab = Lab(tmp_path / "status.duckdb")
    yield lab
    lab.close()


def leads(lab: Lab, **options: Any) -> list[tuple[str, str, str | None]]:
    """(lead_id, status, status_reason) of the leads report, in time order."""
    if lab.pending:
        lab.commit()
    return [(r["lead_id"], r["status"], r["status_reason"]) for r in reports.leads(lab.store, **options)]


def four_visitors(lab: Lab) -> Lab:
    """The issue's scenario: sent; spam; invalid then sent again; mail failed (a CF7 form)."""
    for i, verdicts in enumerate((["sent"], ["spam"], ["invalid", "sent"], ["failed"]), start=1):
        at = T0 + i * 60 * M
        lab.visit(f"v{i}", at, via="Email")
        for k, word in enumerate(verdicts, start=1):
            lab.convert(f"v{i}", at + k * M, name="contact", event_id=f"c{i}{k}")
            lab.verdict(f"v{i}", at + k * M + timedelta(seconds=1), of=f"c{i}{k}", status=word)
    return lab


def test_the_four_visitors_give_two_leads_and_five_with_the_rejected(lab: Lab) -> None:
    four_visitors(lab).commit(origin="beacon")
    assert leads(lab) == [("c11", "sent", None), ("c32", "sent", None)]
    assert leads(lab, include_rejected=True) == [
        ("c11", "sent", None), ("c21", "spam", None), ("c31", "invalid", None), ("c32", "sent", None),
        ("c41", "failed", None)]
    assert lab.credits("last_touch") == {"Email": 2.0}
    assert lab.credits("last_touch", include_rejected=True) == {"Email": 5.0}


def test_the_leads_report_has_lead_id_and_status_after_the_last_touch(lab: Lab) -> None:
    four_visitors(lab).commit()
    columns = reports.leads(lab.store).columns
    assert columns[:12] == ("ts", "site", "visitor_id", "conversion", "first_source", "first_medium",
                            "first_campaign", "last_source", "last_medium", "last_campaign", "lead_id", "status")
    assert "status_reason" in columns


def test_the_latest_verdict_wins_and_a_conversion_without_one_is_submitted(lab: Lab) -> None:
    lab.visit("v1", T0).convert("v1", T0 + M, event_id="a")
    lab.verdict("v1", T0 + 2 * M, of="a", status="invalid").verdict("v1", T0 + 3 * M, of="a", status="sent")
    lab.visit("v2", T0).convert("v2", T0 + M, event_id="b")  # a plain form: no verdict
    lab.verdict("v2", T0 + 2 * M, of="elsewhere", status="spam")  # names no conversion of ours
    assert leads(lab) == [("a", "sent", None), ("b", "submitted", None)]


def test_a_status_event_is_no_lead_touch_or_pageview(lab: Lab) -> None:
    lab.visit("v1", T0, via="Email").convert("v1", T0 + M, event_id="a")
    lab.verdict("v1", T0 + 2 * M, of="a", status="sent").commit()
    sessions.prepare(lab.store)
    assert lab.query("SELECT pageviews, conversions, events, is_touch FROM sessions") == [
        {"pageviews": 1, "conversions": 1, "events": 3, "is_touch": True}]
    assert len(reports.leads(lab.store, include_rejected=True)) == 1
    funnel = reports.funnel(lab.store, steps=["pageview:/", "conversion:candidater"])
    assert [r["visitors"] for r in funnel] == [1, 1]


def test_the_events_view_shows_the_status_of_conversions_only(lab: Lab) -> None:
    lab.visit("v1", T0).convert("v1", T0 + M, event_id="a").verdict("v1", T0 + 2 * M, of="a", status="spam")
    lab.commit()
    sessions.prepare(lab.store)
    rows = lab.query("SELECT type, name, status, status_reason FROM events ORDER BY ts")
    assert rows == [{"type": "pageview", "name": None, "status": None, "status_reason": None},
                    {"type": "conversion", "name": "candidater", "status": "spam", "status_reason": None},
                    {"type": "status", "name": "spam", "status": None, "status_reason": None}]


def test_a_conversion_without_a_pageview_in_the_30_minutes_before_is_spam(lab: Lab) -> None:
    lab.convert("script", T0 + 5 * M, event_id="s")  # never loaded a page
    lab.visit("slow", T0).convert("slow", T0 + 31 * M, event_id="l")  # its page was 31 minutes earlier
    lab.visit("ok", T0).convert("ok", T0 + 30 * M, event_id="o")  # exactly 30 minutes: still fine
    lab.commit(origin="beacon")
    assert leads(lab) == [("o", "submitted", None)]
    assert leads(lab, include_rejected=True) == [("s", "spam", NO_PAGEVIEW), ("o", "submitted", None),
                                                 ("l", "spam", NO_PAGEVIEW)]


def test_the_sixth_conversion_within_ten_minutes_on_is_spam(lab: Lab) -> None:
    lab.visit("v1", T0)
    for k in range(7):  # one a minute: the sixth and the seventh are too many
        lab.convert("v1", T0 + (k + 1) * M, event_id=f"b{k + 1}")
    lab.visit("v2", T0)
    for k in range(6):  # one every two minutes: the sixth comes 10 minutes after the first
        lab.convert("v2", T0 + (2 * k + 1) * M, event_id=f"p{k + 1}")
    lab.visit("v3", T0)
    for k in range(6):  # slower: the sixth comes 10 minutes 30 after the first
        lab.convert("v3", T0 + (1 + k * 2.1) * M, event_id=f"q{k + 1}")
    lab.commit(origin="beacon")
    rows = {lead: (status, reason) for lead, status, reason in leads(lab, include_rejected=True)}
    assert [rows[f"b{k}"] for k in range(1, 8)] == [("submitted", None)] * 5 + [("spam", BURST)] * 2
    assert [rows[f"p{k}"] for k in range(1, 7)] == [("submitted", None)] * 5 + [("spam", BURST)]
    assert [rows[f"q{k}"] for k in range(1, 7)] == [("submitted", None)] * 6
    assert len(leads(lab)) == 5 + 5 + 6


def test_imports_and_api_events_are_exempt_from_the_signals(lab: Lab) -> None:
    lab.convert("back-office", T0, event_id="i1")
    for k in range(6):
        lab.convert("crm", T0 + k * M, event_id=f"i{k + 2}")
    lab.commit(origin="import")
    lab.convert("api", T0, event_id="a1").commit(origin="api")
    assert {status for _, status, _ in leads(lab, include_rejected=True)} == {"submitted"}
    assert len(leads(lab)) == 8


def test_a_plugin_rejection_keeps_its_own_word_over_the_signals(lab: Lab) -> None:
    lab.convert("script", T0, event_id="x").verdict("script", T0 + M, of="x", status="invalid")
    lab.convert("bot", T0, event_id="y").verdict("bot", T0 + M, of="y", status="sent")
    lab.commit(origin="beacon")
    assert leads(lab, include_rejected=True) == [("x", "invalid", None), ("y", "spam", NO_PAGEVIEW)]


def test_a_consent_free_visitor_is_not_checked_just_after_midnight(lab: Lab) -> None:
    """Its page may have been counted under yesterday's hash (the salt changes at midnight UTC)."""
    midnight = datetime.combine(T0.date() + timedelta(days=1), datetime.min.time())
    lab.pending.append({"ts": (midnight + 5 * M).isoformat(), "site": "ecloserie", "type": "conversion",
                        "name": "candidater", "url": "https://www.ecloserie.test/candidater", "event_id": "h1",
                        "user_agent": UA})
    lab.pending.append({"ts": (midnight + 45 * M).isoformat(), "site": "ecloserie", "type": "conversion",
                        "name": "candidater", "url": "https://www.ecloserie.test/candidater", "event_id": "h2",
                        "user_agent": "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"})
    lab.commit(origin="beacon")
    assert leads(lab, include_rejected=True) == [("h1", "submitted", None), ("h2", "spam", NO_PAGEVIEW)]


def test_a_verdict_under_another_visitor_id_updates_its_conversion(lab: Lab) -> None:
    """The daily hash changed between the submission and the verdict: the refresh finds the conversion."""
    lab.visit("before-midnight", T0).convert("before-midnight", T0 + M, event_id="c").commit(origin="beacon")
    assert leads(lab) == [("c", "submitted", None)]
    lab.verdict("after-midnight", T0 + 2 * M, of="c", status="spam").commit(origin="beacon")
    assert leads(lab) == []
    assert leads(lab, include_rejected=True) == [("c", "spam", None)]


def test_rejected_conversions_are_no_funnel_step_unless_asked(lab: Lab) -> None:
    four_visitors(lab).commit(origin="beacon")
    steps = ["pageview:/", "conversion:contact"]
    assert [r["visitors"] for r in reports.funnel(lab.store, steps=steps)] == [4, 2]
    assert [r["visitors"] for r in reports.funnel(lab.store, steps=steps, include_rejected=True)] == [4, 4]


def test_markov_counts_a_journey_with_only_rejected_conversions_as_not_converting(lab: Lab) -> None:
    four_visitors(lab).commit(origin="beacon")
    total = reports.attribution(lab.store, model="markov").conversions
    assert total == 2
    assert reports.attribution(lab.store, model="markov", include_rejected=True).conversions == 5


def test_a_database_of_the_previous_version_upgrades_in_place(tmp_path: Path) -> None:
    """Migrations 1-3 and the conversions table as the analytics built it before statuses: the events
    view binds at once (status 'submitted' until the analytics run), then the derived tables are rebuilt."""
    path = tmp_path / "old.duckdb"
    conn = duckdb.connect(str(path))
    conn.execute("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name VARCHAR, applied_at TIMESTAMP)")
    for version, name, text in migrations():
        if version < 4:
            conn.execute(text)
            conn.execute("INSERT INTO schema_migrations VALUES ($v, $n, now())", {"v": version, "n": name})
    conn.execute("CREATE TABLE conversions (conversion_id VARCHAR NOT NULL, site VARCHAR NOT NULL, "
                 "visitor_id VARCHAR NOT NULL, ts TIMESTAMP NOT NULL, name VARCHAR, props VARCHAR, "
                 "is_bot BOOLEAN NOT NULL)")
    conn.close()
    lab = Lab(path)
    try:
        lab.visit("v1", T0).convert("v1", T0 + M, event_id="a").verdict("v1", T0 + 2 * M, of="a", status="spam")
        lab.commit()
        lab.store.settle()
        assert lab.query("SELECT type, status FROM events WHERE type = 'conversion'") == [
            {"type": "conversion", "status": "submitted"}]
        assert leads(lab, include_rejected=True) == [("a", "spam", None)]
        assert lab.query("SELECT status FROM events WHERE type = 'conversion'") == [{"status": "spam"}]
    finally:
        lab.close()


def test_a_verdict_names_a_conversion_of_its_own_way_in(lab: Lab) -> None:
    """Event ids are scoped per site and way in: a public beacon cannot give a verdict on an API event."""
    lab.convert("crm", T0, event_id="x").commit(origin="api")
    lab.visit("crm", T0).verdict("crm", T0 + M, of="x", status="spam").commit(origin="beacon")
    lab.convert("import", T0, event_id="y").verdict("import", T0 + M, of="y", status="invalid").commit()
    assert leads(lab, include_rejected=True) == [("x", "submitted", None), ("y", "invalid", None)]
