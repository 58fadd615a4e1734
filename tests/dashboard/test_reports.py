"""The numbers on the pages are the reports' numbers: attribution, comparison, funnel and leads tables
equal the API's JSON or the CLI's CSV for the same query, and downloads equal the API's CSV."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest

from .conftest import Dash, Tab

pytestmark = pytest.mark.browser


def french(value: float, digits: int = 2) -> str:
    text = f"{round(value, digits):,.{digits}f}".rstrip("0").rstrip(".")
    return text.replace(",", "\u202f").replace(".", ",")


def submit(tab: Tab) -> None:
    with tab.page.expect_navigation():
        tab.page.click("form.filters button[type=submit]")


def attribution_rows(tab: Tab) -> list[dict[str, Any]]:
    by = tab.page.locator("#attribution").get_attribute("data-by")
    return [{by: value, "conversions": float(credit), "share": float(share), "touched_conversions": int(touched)}
            for value, credit, share, touched in tab.rows("attribution")]


def test_attribution_table_equals_the_api_json(dash: Dash, signed_in: Tab, shot: Callable[..., Any]) -> None:
    query = {**dash.everything, "model": "position_based", "by": "campaign"}
    signed_in.open("/dashboard/attribution?" + "&".join(f"{k}={v}" for k, v in query.items()))
    shot(signed_in.page, "attribution")
    api = dash.api("attribution", query).json()
    assert len(api["rows"]) >= 4
    assert attribution_rows(signed_in) == api["rows"]
    # and what people read is the same number, written the French way
    texts = signed_in.texts("attribution")
    assert [t[1] for t in texts] == [french(r["conversions"]) for r in api["rows"]]
    total = signed_in.page.locator("#attribution-total").inner_text()
    assert total.startswith(f"{api['conversions']} conversions attribuées")


def test_changing_the_model_changes_the_table(dash: Dash, signed_in: Tab) -> None:
    signed_in.open("/dashboard/attribution?from={from}&to={to}&by=channel&model=first_touch".format(**dash.everything))
    before = attribution_rows(signed_in)
    api = dash.api("attribution", {**dash.everything, "model": "first_touch", "by": "channel"}).json()["rows"]
    assert before == api
    signed_in.page.select_option("#model", "last_touch")
    submit(signed_in)
    assert dict(parse_qsl(urlsplit(signed_in.page.url).query))["model"] == "last_touch"
    after = attribution_rows(signed_in)
    assert after == dash.api("attribution", {**dash.everything, "model": "last_touch", "by": "channel"}).json()["rows"]
    assert after != before
    assert signed_in.page.locator("#model").input_value() == "last_touch"


def test_the_comparison_shows_each_models_credits(dash: Dash, signed_in: Tab) -> None:
    signed_in.open("/dashboard/attribution?from={from}&to={to}&by=channel&model=linear".format(**dash.everything))
    for box in signed_in.page.locator("input[name=compare]").all():
        box.set_checked(box.get_attribute("value") in ("first_touch", "linear", "markov"))
    submit(signed_in)
    headers = signed_in.page.eval_on_selector_all("#comparison thead th[data-column]",
                                                  "hs => hs.map(h => h.dataset.column)")
    assert headers == ["first_touch", "linear", "markov"]
    shown = {row[0]: [float(v) for v in row[1:4]] for row in signed_in.rows("comparison")}
    for k, model in enumerate(headers):
        api = {r["channel"]: r["conversions"]
               for r in dash.api("attribution", {**dash.everything, "model": model, "by": "channel"}).json()["rows"]}
        assert set(api) <= set(shown)
        assert {v: c[k] for v, c in shown.items()} == {v: api.get(v, 0.0) for v in shown}
    # credit moves: some channel gains between first touch and the data-driven model
    assert any(abs(c[0] - c[2]) > 0.01 for c in shown.values())


def test_a_funnel_built_in_the_page_equals_the_cli_csv(dash: Dash, signed_in: Tab, shot: Callable[..., Any]) -> None:
    page = signed_in.page
    signed_in.open("/dashboard/funnel?from={from}&to={to}".format(**dash.everything))
    rows = page.locator("li.step")
    assert rows.count() == 3
    for k, (kind, pattern) in enumerate([("pageview", "/"), ("pageview", "/formation*"), ("pageview", "/candidater")]):
        rows.nth(k).locator("select[name=kind]").select_option(kind)
        rows.nth(k).locator("input[name=pattern]").fill(pattern)
    page.click("#add-step")
    assert rows.count() == 4
    rows.nth(3).locator("select[name=kind]").select_option("conversion")
    rows.nth(3).locator("input[name=pattern]").fill("candidater")
    page.select_option("#window", "14d")
    page.select_option("#split", "channel")
    submit(signed_in)
    # the page answers with the API's form of the query: step=kind:pattern, in order
    query = parse_qsl(urlsplit(page.url).query)
    assert ("split", "channel") in query
    assert [v for k, v in query if k == "step"] == ["pageview:/", "pageview:/formation*", "pageview:/candidater",
                                                    "conversion:candidater"]
    shot(page, "funnel")
    cli = dash.cli("report", "funnel", "--step", "pageview:/", "--step", "pageview:/formation*", "--step",
                   "pageview:/candidater", "--step", "conversion:candidater", "--window", "14d",
                   "--from", dash.everything["from"], "--to", dash.everything["to"], "--format", "csv")
    expected = [[r["step"], r["name"], r["visitors"], r["conversion_rate"], r["drop_off"]]
                for r in csv.DictReader(io.StringIO(cli))]
    shown = [[step, name, visitors, rate, drop] for step, name, visitors, rate, drop in signed_in.rows("funnel")]
    assert shown == expected
    assert int(expected[0][2]) > int(expected[-1][2]) > 0
    # the split by channel adds up to the funnel
    split = signed_in.texts("funnel-split")
    assert sum(int(r[1].replace("\u202f", "")) for r in split) == int(expected[0][2])


def download(tab: Tab, link: str) -> bytes:
    with tab.page.expect_download() as info:
        tab.page.click(link)
    path = info.value.path()
    with open(path, "rb") as fh:
        return fh.read()


def test_downloaded_csvs_equal_the_api_csv(dash: Dash, signed_in: Tab) -> None:
    query = {**dash.everything, "model": "time_decay", "by": "source", "conversion": "candidater"}
    signed_in.open("/dashboard/attribution?" + "&".join(f"{k}={v}" for k, v in query.items()))
    got = download(signed_in, "section[aria-labelledby=main-title] .download a.csv")
    assert got == dash.api("attribution", query, fmt="csv").content

    steps = [("step", "pageview:/formation*"), ("step", "conversion:candidater")]
    signed_in.open("/dashboard/funnel?" + "&".join(f"{k}={v}" for k, v in [*dash.everything.items(), *steps,
                                                                          ("window", "30d"), ("split", "channel")]))
    got = download(signed_in, "section[aria-labelledby=funnel-title] .download a.csv")
    assert got == dash.api("funnel", [*dash.everything.items(), *steps, ("window", "30d")], fmt="csv").content
    got = download(signed_in, "section[aria-labelledby=split-title] .download a.csv")
    assert got == dash.api("funnel", [*dash.everything.items(), *steps, ("window", "30d"), ("by", "channel")],
                           fmt="csv").content

    signed_in.open("/dashboard/leads?from={from}&to={to}&conversion=candidater".format(**dash.everything))
    got = download(signed_in, ".download a.csv")
    api = dash.api("leads", {**dash.everything, "conversion": "candidater"}, fmt="csv").content
    assert got == api
    assert got.count(b"\r\n") - 1 == len(signed_in.rows("leads")) > 3


def test_leads_filters_narrow_the_rows_and_the_download(dash: Dash, signed_in: Tab, shot: Callable[..., Any]) -> None:
    signed_in.open("/dashboard/leads?from={from}&to={to}".format(**dash.everything))
    api = dash.api("leads", dash.everything).json()["rows"]
    newest_first = [r["ts"] for r in reversed(api)]
    assert [r[0] for r in signed_in.rows("leads")] == newest_first
    shot(signed_in.page, "leads")
    signed_in.page.select_option("#channel", "Email")
    submit(signed_in)
    expected = [r for r in api if "Email" in (r["first_channel"], r["last_channel"])]
    assert 0 < len(expected) < len(api)
    assert [r[0] for r in signed_in.rows("leads")] == [r["ts"] for r in reversed(expected)]
    got = download(signed_in, ".download a.csv").decode()  # the API's order, oldest first
    assert [r["ts"] for r in csv.DictReader(io.StringIO(got))] == [r["ts"] for r in expected]


def test_overview_counts_agree_with_the_reports(dash: Dash, signed_in: Tab, shot: Callable[..., Any]) -> None:
    signed_in.open("/dashboard?from={from}&to={to}".format(**dash.everything))
    shot(signed_in.page, "overview")
    conversions = int(signed_in.page.locator("#total-conversions").get_attribute("data-value"))
    assert conversions == len(dash.api("leads", dash.everything).json()["rows"]) > 0
    visitors = int(signed_in.page.locator("#total-visitors").get_attribute("data-value"))
    funnel = dash.api("funnel", [*dash.everything.items(), ("step", "pageview:*")]).json()["rows"]
    assert visitors >= funnel[0]["visitors"] > 0
    days = signed_in.page.locator("#daily-title ~ details tbody tr").count()
    assert days == 101


def test_the_leads_status_filter_shows_accepted_rejected_or_all(dash: Dash, signed_in: Tab) -> None:
    """The demo's CF7 forms: spam and invalid submissions are left out by default, listed on demand."""
    accepted = dash.api("leads", dash.everything).json()["rows"]
    everything = dash.api("leads", {**dash.everything, "include_rejected": "1"}).json()["rows"]
    rejected = [r for r in everything if r["status"] not in ("submitted", "sent")]
    assert {r["status"] for r in rejected} >= {"spam", "invalid"}
    assert len(everything) == len(accepted) + len(rejected)
    signed_in.open("/dashboard/leads?from={from}&to={to}".format(**dash.everything))
    assert [r[2] for r in signed_in.rows("leads")] == [r["status"] for r in reversed(accepted)]  # newest first
    for choice, expected in (("rejected", rejected), ("all", everything)):
        signed_in.page.select_option("#status", choice)
        submit(signed_in)
        assert [(r[0], r[2]) for r in signed_in.rows("leads")] == [(r["ts"], r["status"]) for r in reversed(expected)]
        got = download(signed_in, ".download a.csv").decode()
        assert [r["lead_id"] for r in csv.DictReader(io.StringIO(got))] == [r["lead_id"] for r in expected]


def test_the_overview_says_how_many_submissions_were_rejected_by_status(dash: Dash, signed_in: Tab) -> None:
    signed_in.open("/dashboard?from={from}&to={to}".format(**dash.everything))
    shown = {s.get_attribute("data-status"): int(s.get_attribute("data-value") or 0)
             for s in signed_in.page.locator("#rejected span").all()}
    everything = dash.api("leads", {**dash.everything, "include_rejected": "1"}).json()["rows"]
    expected: dict[str, int] = {}
    for r in everything:
        if r["status"] not in ("submitted", "sent"):
            expected[r["status"]] = expected.get(r["status"], 0) + 1
    assert shown == expected and shown
