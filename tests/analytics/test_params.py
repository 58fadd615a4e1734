"""One parser for the reports' parameters (analytics/params.py): the same bad value gives the same reason
through the real `webleads` command, the API of a real `webleads serve`, and the dashboard's filter notice;
and the parser itself, strict (the API, the CLI) and lenient (the dashboard)."""

from __future__ import annotations

import html
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import duckdb
import httpx
import pytest
from starlette.datastructures import QueryParams

from webleads.analytics import params, reports
from webleads.collector.validate import SITE_NAME

from conftest import ORIGIN, Server, free_port, webleads

RANGE = "'to' (2026-03-01) is before 'from' (2026-03-02)"
STEP = "a step is pageview:GLOB, conversion:NAME, event:NAME or outcome:NAME, not 'visit:/'"
MODEL = ("unknown model 'shapley'; use one of: first_touch, last_touch, last_non_direct, linear, position_based, "
         "time_decay, markov")
# (report, the CLI's arguments, the API's and the dashboard's query, the code, the reason), written by hand.
SAME = [
    ("attribution", ["--model", "linear", "--lookback", "0"], {"model": "linear", "lookback": "0"}, "bad_lookback",
     "lookback must be between 1 and 800 days"),
    ("attribution", ["--model", "linear", "--lookback", "ninety"], {"model": "linear", "lookback": "ninety"},
     "bad_lookback", "lookback must be a number of days, not 'ninety'"),
    ("attribution", ["--model", "linear", "--from", "2026-03-02", "--to", "2026-03-01"],
     {"model": "linear", "from": "2026-03-02", "to": "2026-03-01"}, "bad_range", RANGE),
    ("attribution", ["--model", "linear", "--from", "2026-02-30"], {"model": "linear", "from": "2026-02-30"},
     "bad_date", "from must be a day written YYYY-MM-DD, not '2026-02-30'"),
    ("attribution", ["--model", "shapley"], {"model": "shapley"}, "bad_model", MODEL),
    ("attribution", ["--model", "linear", "--by", "visitor_id"], {"model": "linear", "by": "visitor_id"},
     "bad_dimension", "unknown dimension 'visitor_id'; use one of: channel, source, medium, campaign, term, content, "
                      "referrer_domain, landing_page"),
    ("attribution", ["--model", "linear", "--tz", "Mars/Olympus"], {"model": "linear", "tz": "Mars/Olympus"},
     "bad_tz", "unknown time zone 'Mars/Olympus'; use a name such as Europe/Paris or UTC"),
    ("roi", ["--model", "linear", "--by", "term"], {"model": "linear", "by": "term"}, "bad_dimension",
     "a cost is known by channel, source, medium, campaign; not by 'term'"),
    ("funnel", ["--step", "visit:/"], {"step": "visit:/"}, "bad_step", STEP),
    ("funnel", ["--step", "pageview:/", "--window", "7 weeks"], {"step": "pageview:/", "window": "7 weeks"},
     "bad_window", "window must be like 7d, 12h or 30m, not '7 weeks'"),
    ("funnel", ["--step", "pageview:/", "--window", "0m"], {"step": "pageview:/", "window": "0m"}, "bad_window",
     "window must be between 1 minute and 366 days"),
    ("leads", ["--outcome", "x" * 101], {"outcome": "x" * 101}, "bad_outcome",
     "outcome must be an outcome name of at most 100 characters (inscrit...)"),
]
IDS = [f"{report}-{code}-{i}" for i, (report, _, _, code, _) in enumerate(SAME)]


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, httpx.Client, str]]:
    """A real collector on a database with one site, a token, and a dashboard session signed in with it."""
    tmp = tmp_path_factory.mktemp("params")
    db = tmp / "params.duckdb"
    webleads("site", "add", "ecloserie", "--origin", ORIGIN, db=db)
    webleads("site", "add", "ecloserie", "--origin", ORIGIN, db=tmp / "closed.duckdb")  # no collector holds it
    token = webleads("token", "create", db=db).stdout.strip().splitlines()[-1]
    srv = Server(db=db, port=free_port(), log_path=tmp / "serve.log").start()
    try:
        with httpx.Client(base_url=srv.url, timeout=60, headers={"Origin": srv.url}) as dashboard:
            assert dashboard.post("/dashboard/signin", data={"token": token}).status_code == 303
            yield srv, dashboard, token
    finally:
        srv.kill()


@pytest.mark.parametrize(("report", "args", "query", "code", "reason"), SAME, ids=IDS)
def test_the_same_bad_value_gets_the_same_reason_everywhere(running: tuple[Server, httpx.Client, str], report: str,
                                                            args: list[str], query: dict[str, str], code: str,
                                                            reason: str) -> None:
    srv, dashboard, token = running
    # The API: a 400 in the collector's error shape.
    answer = httpx.get(f"{srv.url}/api/v1/reports/{report}", params=query,
                       headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 400, answer.text
    assert answer.json() == {"error": code, "reason": reason}
    # The CLI, run here and inside the collector that holds the file: a line naming the option, no traceback;
    # exit status 2 for a name outside --model's or --by's list (a usage error, as click.Choice gave), else 1.
    for db in (srv.db.parent / "closed.duckdb", srv.db):
        cli = webleads("report", report, *args, db=db, check=False)
        assert cli.returncode == (2 if code in ("bad_model", "bad_dimension") else 1), cli.stderr
        last = cli.stderr.rstrip().splitlines()[-1]
        assert last.startswith("Error: Invalid value for '--") and last.endswith(reason)
        assert "Traceback" not in cli.stderr and cli.stdout == ""
    # The dashboard: the page shows with the default in place of the value, and says why it ignored it.
    page = dashboard.get(f"/dashboard/{report}", params=query)
    assert page.status_code == 200
    notice = html.unescape(page.text.split('<p class="notice warn" role="status">', 1)[1].split("</p>", 1)[0])
    assert notice.startswith("Filtre ignoré") and f"({reason})" in notice


def test_a_missing_required_value_is_named() -> None:
    for report, values, code in [("attribution", {}, "missing_model"), ("roi", {"by": "channel"}, "missing_model"),
                                 ("declared", {}, "missing_field"), ("funnel", {}, "bad_step")]:
        with pytest.raises(params.ReportError) as info:
            params.parse(report, values)
        assert (info.value.status, info.value.code) == (400, code)


def test_parse_gives_typed_values_and_the_report_options() -> None:
    p = params.parse("attribution", QueryParams("model=markov&by=source&from=2026-03-01&to=2026-03-31&lookback=30"
                                                "&include_bots&value=1&tz=UTC"))
    assert isinstance(p, params.Attribution)
    assert (p.model, p.by, p.value, p.filters.lookback, p.filters.include_bots) == ("markov", "source", True, 30, True)
    assert (p.filters.from_day, p.filters.to_day) == (date(2026, 3, 1), date(2026, 3, 31))
    assert p.options()["from_day"] == date(2026, 3, 1) and p.options()["include_rejected"] is False
    funnel = params.parse("funnel", {"step": ["pageview:/formation*", "conversion:candidater"], "window": "12h"})
    assert isinstance(funnel, params.Funnel)
    assert list(funnel.options()["steps"]) == ["pageview:/formation*", "conversion:candidater"]
    assert "lookback" not in funnel.options()  # a funnel has no lookback window


def test_unknown_and_repeated_names_are_refused() -> None:
    with pytest.raises(params.ReportError, match="unknown parameter 'order'"):
        params.check_names(QueryParams("model=linear&order=1"), "attribution")
    with pytest.raises(params.ReportError, match="given more than once"):
        params.check_names(QueryParams("model=linear&model=markov"), "attribution")
    params.check_names(QueryParams("step=pageview:/&step=event:x"), "funnel")  # a funnel's steps repeat


def test_lenient_reading_keeps_the_good_values_and_names_the_bad_ones() -> None:
    found, problems = params.read(QueryParams("lookback=0&model=linear&step=visit:/&step=event:x&window=2d"),
                                  ("lookback", "model", "step", "window"), lenient=True)
    assert found == {"model": "linear", "step": ["event:x"], "window": "2d"}
    assert [(p.key, p.value, p.error.code) for p in problems] == [("lookback", "0", "bad_lookback"),
                                                                 ("step", "visit:/", "bad_step")]


@pytest.mark.parametrize("flag", ["true", "1", "yes", "on", ""])
def test_flags_read_alike_everywhere(flag: str) -> None:
    assert params.parse("leads", {"include_bots": flag}).filters.include_bots is True
    assert params.parse("leads", {"include_bots": "off"}).filters.include_bots is False


def test_the_site_rule_is_the_collectors() -> None:
    for name in ("ecloserie", "a.b_c-d", "x' OR 1=1 --", "Upper", "-x", "a" * 65):
        accepted = True
        try:
            params.check_site(name)
        except params.ReportError:
            accepted = False
        assert accepted == bool(SITE_NAME.fullmatch(name)), name


def test_a_report_function_applies_the_same_rules(tmp_path: Path) -> None:
    """Python callers of the report functions meet the same checks (here before any query runs)."""
    with duckdb.connect(str(tmp_path / "empty.duckdb")) as conn, pytest.raises(params.ReportError) as info:
        reports.attribution(conn, model="linear", lookback=0)
    assert info.value.reason == "lookback must be between 1 and 800 days"
