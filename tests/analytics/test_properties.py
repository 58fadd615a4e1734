"""Property tests: on random journeys, credits are non-negative and sum to the conversions; linear and
Markov do not care what the values are called; funnel counts never increase from one step to the next."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lab import T0, memory_source, record

from webleads.analytics import markov, reports

SOURCES = ["newsletter", "facebook", "partner", "flyer", "radio"]
SETTINGS = settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# one event: (visitor, minutes after T0, what): what is a source name, "direct", or "conversion"
event = st.tuples(st.integers(0, 3), st.integers(0, 60 * 24 * 40),
                  st.sampled_from(SOURCES + ["direct", "direct", "conversion", "conversion"]))
journeys = st.lists(event, min_size=1, max_size=25)


def records(events: list[tuple[int, int, str]], names: dict[str, str] | None = None) -> list[dict[str, Any]]:
    out = []
    for i, (visitor, minutes, what) in enumerate(events):
        at = T0 + timedelta(minutes=minutes)
        if what == "conversion":
            out.append(record(f"v{visitor}", at, kind="conversion", name="candidater", event_id=f"e{i}"))
        elif what == "direct":
            out.append(record(f"v{visitor}", at, event_id=f"e{i}"))
        else:
            source = (names or {}).get(what, what)
            out.append(record(f"v{visitor}", at, query=f"utm_source={source}&utm_medium=email", event_id=f"e{i}"))
    return out


@SETTINGS
@given(journeys)
def test_credits_are_non_negative_and_sum_to_the_conversions(events: list[tuple[int, int, str]]) -> None:
    conn = memory_source(records(events))
    try:
        conversions = sum(1 for _, _, what in events if what == "conversion")
        for model, by in [(m, "channel") for m in reports.MODELS] + [("linear", "source"), ("markov", "source")]:
            rows = reports.attribution(conn, model=model, by=by, lookback=30)
            assert rows.conversions == conversions
            assert all(r["conversions"] >= 0 for r in rows)
            assert sum(r["conversions"] for r in rows) == pytest.approx(conversions, abs=1e-4)
    finally:
        conn.close()


@SETTINGS
@given(journeys, st.permutations(SOURCES))
def test_linear_and_markov_do_not_depend_on_the_names(events: list[tuple[int, int, str]],
                                                       renamed: list[str]) -> None:
    names = {old: f"x-{new}" for old, new in zip(SOURCES, renamed, strict=True)}
    plain, other = memory_source(records(events)), memory_source(records(events, names))
    try:
        for model in ("linear", "markov"):
            before = {r["source"]: r["conversions"] for r in reports.attribution(plain, model=model, by="source")}
            after = {r["source"]: r["conversions"] for r in reports.attribution(other, model=model, by="source")}
            assert {names.get(k, k): pytest.approx(v, abs=1e-4) for k, v in before.items()} == after
    finally:
        plain.close()
        other.close()


transition_counts = st.dictionaries(
    st.tuples(st.sampled_from(["(start)", "a", "b", "c", "d"]), st.sampled_from(["a", "b", "c", "d", "(conversion)",
                                                                                "(null)"])),
    st.integers(1, 50), min_size=1, max_size=20)


@settings(max_examples=200, deadline=None)
@given(transition_counts, st.permutations(["a", "b", "c", "d"]), st.integers(1, 100))
def test_markov_credits_on_any_chain(transitions: dict[tuple[str, str], int], renamed: list[str],
                                     conversions: int) -> None:
    # every state must be able to end: give each one an exit, as real journeys do
    states = {s for pair in transitions for s in pair} - {"(start)", "(conversion)", "(null)"}
    transitions = {**{(s, "(null)"): 1 for s in states}, **transitions}
    if not any(dst == "(conversion)" for _, dst in transitions) or not any(s == "(start)" for s, _ in transitions):
        return
    credits = markov.attribute(transitions, conversions)
    assert all(v >= 0 for v in credits.values())
    if credits:
        assert sum(credits.values()) == pytest.approx(conversions)
    names = dict(zip(["a", "b", "c", "d"], renamed, strict=True))
    relabelled = {(names.get(s, s), names.get(d, d)): n for (s, d), n in transitions.items()}
    assert markov.attribute(relabelled, conversions) == {names[k]: pytest.approx(v) for k, v in credits.items()}


PAGES = ["/", "/formation", "/formation/dev", "/candidater"]
page_event = st.tuples(st.integers(0, 4), st.integers(0, 60 * 24 * 10),
                       st.sampled_from(PAGES + ["conversion"]))
STEPS = ["pageview:/", "pageview:/formation*", "pageview:/formation/dev", "pageview:/candidater",
         "conversion:candidater", "pageview:*"]


def page_records(events: list[tuple[int, int, str]]) -> list[dict[str, Any]]:
    """(visitor, minutes after T0, page or "conversion") -> event records."""
    recs = []
    for i, (visitor, minutes, what) in enumerate(events):
        at = T0 + timedelta(minutes=minutes)
        if what == "conversion":
            recs.append(record(f"v{visitor}", at, kind="conversion", name="candidater", event_id=f"e{i}"))
        else:
            recs.append(record(f"v{visitor}", at, page=what, event_id=f"e{i}"))
    return recs


@SETTINGS
@given(st.lists(page_event, min_size=1, max_size=30), st.lists(st.sampled_from(STEPS), min_size=1, max_size=4),
       st.sampled_from(["30m", "1d", "7d"]), st.sampled_from([None, "channel", "landing_page"]))
def test_funnel_counts_never_increase(events: list[tuple[int, int, str]], steps: list[str], window: str,
                                      by: str | None) -> None:
    conn = memory_source(page_records(events))
    try:
        rows = reports.funnel(conn, steps=steps, window=window, by=by)
        groups: dict[Any, list[dict[str, Any]]] = {}
        for row in rows:
            groups.setdefault(row.get(by) if by else None, []).append(row)
        for group in groups.values():
            visitors = [r["visitors"] for r in group]
            assert visitors == sorted(visitors, reverse=True)
            assert [r["step"] for r in group] == list(range(1, len(steps) + 1))
            assert all(0 <= r["conversion_rate"] <= 1 for r in group)
            assert [r["drop_off"] for r in group] == [0] + [a - b for a, b in zip(visitors, visitors[1:],
                                                                                  strict=False)]
        total = sum(g[0]["visitors"] for g in groups.values())
        assert total <= len({v for v, _, _ in events})
    finally:
        conn.close()


def _reached(events: list[tuple[int, int, str]], steps: list[str], window_minutes: int) -> list[int]:
    """The funnel by its definition, visitor by visitor: the furthest step over every start."""
    import fnmatch

    def matches(step: str, what: str) -> bool:
        kind, pattern = step.split(":", 1)
        if kind == "conversion":
            return what == "conversion" and pattern == "candidater"
        return what != "conversion" and fnmatch.fnmatchcase(what, pattern)

    counts = [0] * len(steps)
    for visitor in {v for v, _, _ in events}:
        mine = sorted((m, w) for v, m, w in events if v == visitor)
        best = 0
        for start, what in mine:
            if not matches(steps[0], what):
                continue
            level, at = 1, start
            for step in steps[1:]:
                nxt = [m for m, w in mine if m > at and m <= start + window_minutes and matches(step, w)]
                if not nxt:
                    break
                level, at = level + 1, min(nxt)
            best = max(best, level)
        for k in range(best):
            counts[k] += 1
    return counts


@SETTINGS
@given(st.lists(page_event, min_size=1, max_size=30), st.lists(st.sampled_from(STEPS), min_size=1, max_size=4),
       st.sampled_from([30, 60 * 24, 60 * 24 * 7]))
def test_funnel_counts_match_the_definition(events: list[tuple[int, int, str]], steps: list[str],
                                            window_minutes: int) -> None:
    conn = memory_source(page_records(events))
    try:
        rows = reports.funnel(conn, steps=steps, window=f"{window_minutes}m")
        assert [r["visitors"] for r in rows] == _reached(events, steps, window_minutes)
    finally:
        conn.close()


def test_a_split_funnel_counts_each_visitor_under_the_visit_of_its_first_step() -> None:
    """Not the visitor's first touch, not its last: the touch of the visit where step 1 happened."""
    conn = memory_source([
        # a newsletter visit to the home page, then two days later from Google straight to a training
        record("v1", T0, page="/", via="Email"),
        record("v1", T0 + timedelta(days=2), page="/formation", via="Organic Search"),
        record("v1", T0 + timedelta(days=2, minutes=5), kind="conversion", name="candidater"),
        # from Facebook to a training, then a week later back from the newsletter
        record("v2", T0, page="/formation/dev", via="Organic Social"),
        record("v2", T0 + timedelta(days=7), page="/", via="Email"),
    ])
    try:
        rows = reports.funnel(conn, steps=["pageview:/formation*", "conversion:candidater"], window="1d",
                              by="channel")
        assert {(r["channel"], r["step"]): r["visitors"] for r in rows} == {
            ("Organic Search", 1): 1, ("Organic Search", 2): 1, ("Organic Social", 1): 1, ("Organic Social", 2): 0}
    finally:
        conn.close()
