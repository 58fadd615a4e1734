"""Small pieces on their own: the two languages, the naming rule of campaign links, look-alike
spellings, building a link, the charts' escaping, filters read from a query string, sessions."""

from __future__ import annotations

from datetime import date, datetime

import duckdb
import pytest
from starlette.datastructures import QueryParams

from webleads.dashboard import auth, charts, filters, i18n, links, overview


@pytest.mark.parametrize(("lang", "value", "text"), [
    ("fr", 1234.5, "1\u202f234,5"), ("en", 1234.5, "1,234.5"), ("fr", 2.0, "2"), ("fr", 0.333333, "0,3"),
    ("fr", -0.0001, "0"),
])
def test_decimals_are_written_the_way_of_each_language(lang: str, value: float, text: str) -> None:
    assert i18n.Text(lang).dec(value) == text


def test_percentages_and_missing_wholes() -> None:
    assert i18n.Text("fr").pct(1, 3) == "33,3\u00a0%"
    assert i18n.Text("en").pct(1, 3) == "33.3%"
    assert i18n.Text("fr").pct(1, 0) == "–"
    assert i18n.Text("fr").pct(1, 5000) == "<\u00a00,1\u00a0%"
    assert i18n.Text("en").pct(0, 5000) == "0%"


@pytest.mark.parametrize(("raw", "clean"), [
    ("Newsletter", "newsletter"), ("  NL ", "nl"), ("Portes Ouvertes Été", "portes-ouvertes-ete"),
    ("Formation_Dev.2026", "formation_dev.2026"), ("facebook / groupes", "facebook-groupes"),
    ("<img src=x onerror=alert(1)>", "img-src-x-onerror-alert-1"), ("---", ""), ("Œuvre&co", "oeuvre-co"),
])
def test_the_naming_rule(raw: str, clean: str) -> None:
    assert links.normalise(raw) == clean


@pytest.mark.parametrize(("value", "seen", "expected"), [
    ("newslettre", ["newsletter"], "newsletter"),        # two letters swapped
    ("newsleter", ["newsletter"], "newsletter"),         # one letter missing
    ("formation_dev", ["formation-dev"], "formation-dev"),  # another separator
    ("formation-2025", ["formation-2026"], None),        # another year: another campaign
    ("newsletter", ["newsletter"], None),                # the value itself
    ("fb", ["fa"], None),                                # too short to guess
    ("email", ["social", "cpc"], None),
])
def test_look_alike_spellings(value: str, seen: list[str], expected: str | None) -> None:
    assert links.looks_like(value, [links.Value(v) for v in seen]) == expected


def test_a_link_keeps_the_page_its_other_parameters_and_its_anchor() -> None:
    built = links.build("https://www.ecloserie.fr/agenda?lang=fr&utm_source=old#mai",
                        {"utm_source": "newsletter", "utm_medium": "email", "utm_campaign": "mai"})
    assert built == "https://www.ecloserie.fr/agenda?lang=fr&utm_source=newsletter&utm_medium=email&utm_campaign=mai#mai"
    assert links.build("https://www.ecloserie.fr", {"utm_source": "a"}) == "https://www.ecloserie.fr/?utm_source=a"
    assert links.build("javascript:alert(1)", {"utm_source": "a"}) is None
    assert links.build("www.ecloserie.fr", {"utm_source": "a"}) is None


def test_chart_texts_are_escaped() -> None:
    hostile = "<script>alert(1)</script>"
    svg = str(charts.hbars([charts.Bar(hostile, 3, "<b>")], hostile, str))
    assert "<script>" not in svg and "&lt;script&gt;" in svg and "<b>" not in svg
    svg = str(charts.dumbbell([hostile], [(hostile, [1.0])], "t", str))
    assert "<script>" not in svg
    svg = str(charts.funnel([charts.Bar(hostile, 2)], [], "t", str))
    assert "<script>" not in svg
    assert " style=" not in svg  # colours come from classes: the CSP forbids inline styles


def test_filters_default_to_the_last_thirty_days_and_name_what_they_ignore() -> None:
    f = filters.parse(QueryParams(""), ["ecloserie"], today=date(2026, 3, 31))
    assert (f.start, f.end, f.model, f.by, f.site, f.problems) == (date(2026, 3, 2), date(2026, 3, 31),
                                                                   "last_touch", "channel", None, [])
    assert f.compare == ["first_touch", "last_touch"]
    f = filters.parse(QueryParams("model=magic&by=campaign&site=other&from=2026-02-30&window=forever&compared=1"),
                      ["ecloserie"], today=date(2026, 3, 31))
    assert (f.model, f.by, f.site, f.window, f.compare) == ("last_touch", "campaign", None, "7d", [])
    assert f.problems == ["from='2026-02-30'", "site='other'", "model='magic'", "window='forever'"]


def test_the_builder_rows_become_api_steps_in_order() -> None:
    f = filters.parse(QueryParams([("kind", "pageview"), ("pattern", " /formation* "), ("kind", "event"),
                                   ("pattern", ""), ("kind", "conversion"), ("pattern", "candidater")]),
                      [], today=date(2026, 3, 31))
    assert f.steps == ["pageview:/formation*", "conversion:candidater"]
    assert f.query("step") == "step=pageview%3A%2Fformation%2A&step=conversion%3Acandidater"


@pytest.mark.parametrize(("target", "safe"), [
    ("/dashboard/leads?from=2026-01-01", "/dashboard/leads?from=2026-01-01"), ("//evil.example", "/dashboard"),
    ("https://evil.example/dashboard", "/dashboard"), ("/dashboard\\evil", "/dashboard"), (None, "/dashboard"),
    ("/dashboard/x\r\nSet-Cookie: a=b", "/dashboard"),
])
def test_after_sign_in_only_dashboard_addresses(target: str | None, safe: str) -> None:
    assert auth.safe_next(target) == safe


def test_sessions_end_at_sign_out_with_their_token_and_when_idle() -> None:
    now = [1000.0]
    sessions = auth.Sessions(clock=lambda: now[0])
    one, two = sessions.open("wl_token-one"), sessions.open("wl_token-two")
    assert sessions.get(one) is not None and sessions.get("wl_token-one") is None  # the id is not the token
    sessions.close(one)
    assert sessions.get(one) is None
    sessions.drop_token(auth.hash_token("wl_token-two"))
    assert sessions.get(two) is None
    three = sessions.open("wl_token-three")
    now[0] += auth.IDLE_SECONDS - 1
    assert sessions.get(three) is not None  # each use starts the idle time again
    now[0] += auth.IDLE_SECONDS + 1
    assert sessions.get(three) is None  # idle too long
    four = sessions.open("wl_token-four")
    for _ in range(20):  # used every few hours, it still ends after MAX_SECONDS
        now[0] += auth.MAX_SECONDS / 20 + 1
        sessions.get(four)
    assert sessions.get(four) is None


@pytest.mark.parametrize("tz", ["Europe/Paris", "UTC", "America/New_York", "Australia/Lord_Howe"])
def test_local_days_match_duckdbs_time_zones(tz: str) -> None:
    """overview.local_time() (an offset per daylight-saving period) gives the day DuckDB's timezone() gives."""
    start, end = datetime(2025, 1, 1), datetime(2026, 12, 31)
    expression, params = overview.local_time(tz, start, end)
    with duckdb.connect() as conn:
        rows = conn.execute(
            f"SELECT count(*) FILTER (WHERE CAST({expression} AS DATE) <> "
            "CAST(timezone($tz, timezone('UTC', ts)) AS DATE)), count(*) "
            "FROM (SELECT * FROM range($start, $end, INTERVAL 17 MINUTE) AS t(ts))",
            {**params, "tz": tz, "start": start, "end": end}).fetchone()
    assert rows is not None and rows[0] == 0 and rows[1] > 50_000
