"""Ready-made periods on the filters (this month, last month, last 30 / 90 days, this year) and the change
against the period just before on the overview, with its counts."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date, timedelta

import httpx
import pytest
from starlette.datastructures import QueryParams

from webleads.dashboard import filters

from .conftest import Dash

TODAY = date(2026, 12, 4)


@pytest.mark.parametrize(("period", "start", "end"), [
    ("this_month", date(2026, 12, 1), TODAY),
    ("last_month", date(2026, 11, 1), date(2026, 11, 30)),
    ("30d", date(2026, 11, 5), TODAY),
    ("90d", date(2026, 9, 6), TODAY),
    ("this_year", date(2026, 1, 1), TODAY),
])
def test_a_preset_gives_its_days_over_the_forms(period: str, start: date, end: date) -> None:
    f = filters.parse(QueryParams(f"from=2025-01-01&to=2025-01-31&period={period}"), [], today=TODAY)
    assert (f.start, f.end, f.period, f.problems) == (start, end, period, [])


def test_an_unknown_preset_is_named_and_ignored() -> None:
    f = filters.parse(QueryParams("from=2026-10-01&to=2026-10-31&period=forever"), [], today=TODAY)
    assert (f.start, f.end, f.period) == (date(2026, 10, 1), date(2026, 10, 31), None)
    assert f.problems == ["period='forever'"]


def test_the_previous_period_has_the_same_length_just_before() -> None:
    f = filters.parse(QueryParams("from=2026-11-01&to=2026-11-30"), [], today=TODAY)
    before = filters.previous(f)
    assert (before.start, before.end) == (date(2026, 10, 2), date(2026, 10, 31))


@pytest.fixture(scope="module")
def client(dash: Dash) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=dash.url, timeout=60, headers={"Origin": dash.url}) as c:
        assert c.post("/dashboard/signin", data={"token": dash.token}).status_code == 303
        yield c


def total(page: str, key: str) -> int:
    found = re.search(rf'data-value="(\d+)" id="total-{key}"', page)
    assert found, key
    return int(found.group(1))


def test_the_overview_shows_the_change_against_the_period_before(dash: Dash, client: httpx.Client) -> None:
    page = client.get("/dashboard?period=30d").text
    assert f'value="{(dash.today - timedelta(days=29)).isoformat()}"' in page  # the form shows the preset's days
    assert 'value="30d" class="preset" aria-pressed="true"' in page
    start, end = dash.today - timedelta(days=59), dash.today - timedelta(days=30)
    before = client.get(f"/dashboard?from={start.isoformat()}&to={end.isoformat()}").text
    now, was = total(page, "visitors"), total(before, "visitors")
    assert was > 0
    change = re.search(r'id="change-visitors" data-previous="(\d+)">([^<]*)<', page)
    assert change and int(change.group(1)) == was
    difference = change.group(2).split(" ")[0]
    assert difference.startswith("+" if now > was else ("-" if now < was else "0"))
    assert int(re.sub(r"\D", "", difference)) == abs(now - was)
    assert f"par rapport à la période précédente ({was})" in change.group(2).replace("\u202f", "")
    assert "%" in change.group(2)  # the share beside the count
    assert re.search(r'id="change-rate">période précédente\u00a0: [\d,]+\u00a0% \(\d+ sur [\d\u202f]+\)', page)
