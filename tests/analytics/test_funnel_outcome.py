"""The funnel's outcome step (`outcome:NAME`): a visitor reaches it when one of its leads' latest outcome is
NAME, at that outcome's time. Golden tests: a few hand-made journeys and outcomes, the rows written by hand."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import duckdb
import pytest
from lab import T0, memory_source, record

from webleads.analytics import reports

MINUTE, DAY = timedelta(minutes=1), timedelta(days=1)


@pytest.fixture
def source() -> Iterator[duckdb.DuckDBPyConnection]:
    events = [
        # v1 applies, gave up first, then enrolled three days later: its latest outcome is inscrit
        record("v1", T0, page="/formation"), record("v1", T0 + 5 * MINUTE, kind="conversion", name="candidater",
                                                    page="/candidater", event_id="lead-1"),
        # v2 applies; enrolled, then gave up: its latest outcome is abandon
        record("v2", T0, page="/formation"), record("v2", T0 + 10 * MINUTE, kind="conversion", name="candidater",
                                                    page="/candidater", event_id="lead-2"),
        # v3 applies and enrols twenty days later (outside a 7-day window, inside a 30-day one)
        record("v3", T0, page="/formation"), record("v3", T0 + 10 * MINUTE, kind="conversion", name="candidater",
                                                    page="/candidater", event_id="lead-3"),
        # v4 only looks
        record("v4", T0, page="/formation"),
        # v6 applied the day before it saw the page, and enrols an hour after seeing it
        record("v6", T0 - DAY, kind="conversion", name="candidater", page="/candidater", event_id="lead-6"),
        record("v6", T0, page="/formation"),
    ]
    conn = memory_source(events)
    outcomes = [("lead-1", "abandon", T0 + DAY), ("lead-1", "inscrit", T0 + 3 * DAY),
                ("lead-2", "inscrit", T0 + DAY), ("lead-2", "abandon", T0 + 2 * DAY),
                ("lead-3", "inscrit", T0 + 20 * DAY), ("lead-6", "inscrit", T0 + 60 * MINUTE)]
    conn.executemany("INSERT INTO lead_outcomes VALUES (?, ?, NULL, ?, ?, 'import')",
                     [(lead, outcome, ts, ts) for lead, outcome, ts in outcomes])
    try:
        yield conn
    finally:
        conn.close()


def table(rows: Any) -> list[tuple[Any, ...]]:
    return [(r["step"], r["name"], r["visitors"], r["median_seconds_from_previous"]) for r in rows]


def test_an_outcome_ends_the_funnel_within_the_window(source: duckdb.DuckDBPyConnection) -> None:
    steps = ["pageview:/formation", "conversion:candidater", "outcome:inscrit"]
    assert table(reports.funnel(source, steps=steps, window="7d")) == [
        (1, "pageview:/formation", 5, None),
        (2, "conversion:candidater", 3, 600.0),
        (3, "outcome:inscrit", 1, 3 * 86400 - 300.0),  # v1 only: v2 gave up at last, v3 enrolled too late
    ]
    assert [r["visitors"] for r in reports.funnel(source, steps=steps, window="30d")] == [5, 3, 2]


def test_only_the_latest_outcome_counts(source: duckdb.DuckDBPyConnection) -> None:
    gave_up = reports.funnel(source, steps=["pageview:/formation", "outcome:abandon"], window="7d")
    assert [r["visitors"] for r in gave_up] == [5, 1]  # v2; v1's abandon was followed by inscrit
    enrolled = reports.funnel(source, steps=["pageview:/formation", "outcome:inscrit"], window="7d")
    assert [r["visitors"] for r in enrolled] == [5, 2]  # v1 and v6 (whose lead came before the page)


def test_an_outcome_as_the_first_step(source: duckdb.DuckDBPyConnection) -> None:
    day = (T0 + 20 * DAY).date().isoformat()
    assert [r["visitors"] for r in reports.funnel(source, steps=["outcome:inscrit"])] == [3]
    assert [r["visitors"] for r in reports.funnel(source, steps=["outcome:inscrit"], from_day=day, to_day=day,
                                                  tz="UTC")] == [1]


def test_a_funnel_split_by_channel_ends_on_the_outcome(source: duckdb.DuckDBPyConnection) -> None:
    split = reports.funnel(source, steps=["pageview:/formation", "outcome:inscrit"], window="30d", by="channel")
    assert [(r["channel"], r["step"], r["visitors"]) for r in split] == [("Direct", 1, 5), ("Direct", 2, 3)]


@pytest.mark.parametrize("step", ["outcome:", "result:inscrit"])
def test_a_bad_outcome_step_is_refused(source: duckdb.DuckDBPyConnection, step: str) -> None:
    with pytest.raises(reports.ReportError, match="outcome:NAME"):
        reports.funnel(source, steps=[step])
