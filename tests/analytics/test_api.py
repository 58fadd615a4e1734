"""The report API against a real `webleads serve`: tokens, odd parameters, JSON and CSV answers,
server-side events."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from lab import T0

from conftest import ORIGIN, Server, free_port, webleads

API = "/api/v1"


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, str]]:
    tmp = tmp_path_factory.mktemp("api")
    db = tmp / "api.duckdb"
    webleads("site", "add", "ecloserie", "--origin", ORIGIN, db=db)
    token = webleads("token", "create", db=db).stdout.strip()
    srv = Server(db=db, port=free_port(), log_path=tmp / "serve.log").start()
    events = [
        {"ts": T0.isoformat(), "site": "ecloserie", "type": "pageview", "visitor_id": "v1", "event_id": "p1",
         "url": f"{ORIGIN}/formation?utm_source=newsletter&utm_medium=email&utm_campaign=%3DHYPERLINK(1)"},
        {"ts": (T0 + timedelta(minutes=2)).isoformat(), "site": "ecloserie", "type": "conversion",
         "name": "candidater", "visitor_id": "v1", "event_id": "c1", "props": {"formation": "+33 6 00"}},
    ]
    answer = httpx.post(srv.url + API + "/events", json=events, headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 200, answer.text
    assert answer.json()["accepted"] == 2
    try:
        yield srv, token
    finally:
        srv.kill()


def get(api: tuple[Server, str], path: str, token: str | None = "", **params: object) -> httpx.Response:
    srv, good = api
    headers = {} if token is None else {"Authorization": f"Bearer {token or good}"}
    return httpx.get(srv.url + API + path, params=params, headers=headers)  # type: ignore[arg-type]


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wl_wrong"}, {"Authorization": "Basic abc"},
                                     {"Authorization": "Bearer"}], ids=["none", "wrong", "basic", "empty"])
def test_a_missing_or_wrong_token_is_401(api: tuple[Server, str], headers: dict[str, str]) -> None:
    srv, _ = api
    for path in ("/reports/attribution?model=linear", "/reports/leads", "/reports/funnel?step=pageview:/"):
        answer = httpx.get(srv.url + API + path, headers=headers)
        assert answer.status_code == 401
        assert answer.json()["error"] == "unauthorized" and answer.headers["www-authenticate"].startswith("Bearer")
    assert httpx.post(srv.url + API + "/events", json={}, headers=headers).status_code == 401


ODD = [
    ("/reports/attribution", {"model": "shapley"}, "bad_model"),
    ("/reports/attribution", {}, "missing_model"),
    ("/reports/attribution", {"model": "linear", "by": "channel; DROP TABLE event_log"}, "bad_dimension"),
    ("/reports/attribution", {"model": "linear", "by": "visitor_id"}, "bad_dimension"),
    ("/reports/attribution", {"model": "linear", "from": "2026-02-30"}, "bad_date"),
    ("/reports/attribution", {"model": "linear", "from": "yesterday"}, "bad_date"),
    ("/reports/attribution", {"model": "linear", "to": "2026-01-01' OR '1'='1"}, "bad_date"),
    ("/reports/attribution", {"model": "linear", "from": "2026-03-02", "to": "2026-03-01"}, "bad_range"),
    ("/reports/attribution", {"model": "linear", "site": "x' OR 1=1 --"}, "bad_site"),
    ("/reports/attribution", {"model": "linear", "tz": "Mars/Olympus"}, "bad_tz"),
    ("/reports/attribution", {"model": "linear", "tz": "../../etc/passwd"}, "bad_tz"),
    ("/reports/attribution", {"model": "linear", "lookback": "ninety"}, "bad_lookback"),
    ("/reports/attribution", {"model": "linear", "lookback": "-1"}, "bad_lookback"),
    ("/reports/attribution", {"model": "linear", "include_bots": "maybe"}, "bad_include_bots"),
    ("/reports/attribution", {"model": "linear", "format": "xls"}, "bad_format"),
    ("/reports/attribution", {"model": "linear", "format": "xlsx", "lang": "de"}, "bad_lang"),
    ("/reports/attribution", {"model": "linear", "order": "1"}, "unknown_parameter"),
    ("/reports/attribution", {"model": ["linear", "markov"]}, "repeated_parameter"),
    ("/reports/funnel", {}, "bad_step"),
    ("/reports/funnel", {"step": "pageview"}, "bad_step"),
    ("/reports/funnel", {"step": "click:/x"}, "bad_step"),
    ("/reports/funnel", {"step": "pageview:/", "window": "7 weeks"}, "bad_window"),
    ("/reports/funnel", {"step": "pageview:/", "window": "0m"}, "bad_window"),
    ("/reports/funnel", {"step": "pageview:/", "by": "1); SELECT 1"}, "bad_dimension"),
    ("/reports/funnel", {"step": "pageview:/", "model": "linear"}, "unknown_parameter"),
    ("/reports/leads", {"conversion": "x" * 200}, "bad_conversion"),
]


@pytest.mark.parametrize(("path", "params", "code"), ODD, ids=[f"{p.split('/')[-1]}-{c}-{i}" for i, (p, _, c)
                                                               in enumerate(ODD)])
def test_odd_parameters_are_400_with_a_reason(api: tuple[Server, str], path: str, params: dict[str, object],
                                              code: str) -> None:
    answer = get(api, path, **params)
    assert answer.status_code == 400, answer.text
    body = answer.json()
    assert body["error"] == code and len(body["reason"]) > 10
    assert answer.headers["x-webleads-reason"] == code


def test_json_answers(api: tuple[Server, str]) -> None:
    body = get(api, "/reports/attribution", model="time_decay", by="campaign").json()
    assert body["rows"] == [{"campaign": "=hyperlink(1)", "conversions": 1.0, "share": 1.0,
                             "touched_conversions": 1}]
    assert body["conversions"] == 1 and body["notes"]
    funnel = get(api, "/reports/funnel", step=["pageview:/formation", "conversion:candidater"], window="1h").json()
    assert [(r["step"], r["visitors"], r["conversion_rate"]) for r in funnel["rows"]] == [(1, 1, 1.0), (2, 1, 1.0)]
    assert funnel["rows"][1]["median_seconds_from_previous"] == 120.0
    leads = get(api, "/reports/leads", **{"from": T0.date().isoformat(), "to": T0.date().isoformat(),
                                          "tz": "UTC"}).json()["rows"]
    assert [(r["first_source"], r["fields"]) for r in leads] == [("newsletter", {"formation": "+33 6 00"})]


def test_csv_downloads_are_attachments_with_formulas_neutralised(api: tuple[Server, str]) -> None:
    answer = get(api, "/reports/attribution", model="linear", by="campaign", format="csv")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/csv")
    assert answer.headers["content-disposition"] == 'attachment; filename="webleads-attribution-linear-campaign.csv"'
    rows = list(csv.DictReader(io.StringIO(answer.text)))
    assert rows == [{"campaign": "'=hyperlink(1)", "conversions": "1.0", "share": "1.0", "touched_conversions": "1"}]
    leads = list(csv.DictReader(io.StringIO(get(api, "/reports/leads", format="csv").text)))
    assert leads[0]["first_campaign"] == "'=hyperlink(1)" and leads[0]["fields"] == '{"formation":"+33 6 00"}'
    assert list(leads[0])[:10] == ["ts", "site", "visitor_id", "conversion", "first_source", "first_medium",
                                   "first_campaign", "last_source", "last_medium", "last_campaign"]


def test_server_side_events(api: tuple[Server, str]) -> None:
    srv, token = api
    auth = {"Authorization": f"Bearer {token}"}
    again = httpx.post(srv.url + API + "/events", headers=auth,
                       json={"site": "ecloserie", "type": "conversion", "name": "candidater", "visitor_id": "v1",
                             "event_id": "c1"})
    assert again.json() == {"accepted": 0, "duplicates": 1, "rejected": {}, "examples": {}}
    refused = httpx.post(srv.url + API + "/events", headers=auth, json=[
        {"site": "ecloserie", "type": "conversion", "name": "x"},
        {"site": "nowhere", "type": "conversion", "name": "x", "visitor_id": "v9"}])
    assert refused.status_code == 400
    assert refused.json()["rejected"] == {"missing_visitor_id": 1, "unknown_site": 1}
    assert httpx.post(srv.url + API + "/events", headers=auth, content=b"{nope").json()["error"] == "bad_json"


def test_bad_date_message_names_the_format(tmp_path: Path) -> None:
    from webleads.analytics import reports

    with pytest.raises(reports.ReportError) as info:
        reports.filters(from_day="01/02/2026")
    assert "YYYY-MM-DD" in info.value.reason
