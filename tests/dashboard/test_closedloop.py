"""The closed loop on the dashboard, against the real `webleads serve` of the folder: short links and their
QR codes in the link builder, the ROI page and its cost form, outcomes on the leads page, the outcome
picker and value switch of attribution, the declared sources page. Numbers equal the API's, downloads
equal the API's CSV, and every form is refused without a session or from another origin, and says what
is wrong with a bad value (never a 500)."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import orjson
import pytest

from .conftest import DEMO_ORIGIN, Dash, Tab

pytestmark = pytest.mark.browser


@pytest.fixture
def client(dash: Dash) -> Iterator[httpx.Client]:
    """A signed-in HTTP client whose POSTs carry this collector's Origin, as the dashboard's forms do."""
    with httpx.Client(base_url=dash.url, timeout=60, headers={"Origin": dash.url}) as c:
        response = c.post("/dashboard/signin", data={"token": dash.token})
        assert response.status_code == 303, response.text
        yield c


def query(dash: Dash, **extra: str) -> str:
    return urlencode({**dash.everything, **extra})


def download(tab: Tab, link: str) -> bytes:
    with tab.page.expect_download() as info:
        tab.page.click(link)
    with open(info.value.path(), "rb") as fh:
        return fh.read()


def submit(tab: Tab, button: str) -> Any:
    with tab.page.expect_navigation() as nav:
        tab.page.click(button)
    return nav.value


def expect_refusal(tab: Tab) -> None:
    """The 400 page the test asked for is logged by Chromium as a failed load: expected, not a page error."""
    failed = [e for e in tab.errors if "status of 400" in e]
    assert len(failed) == 1, tab.errors
    tab.errors.remove(failed[0])


def number(text: str | None) -> float | None:
    return None if text in (None, "") else float(text)  # type: ignore[arg-type]


# --- access --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("path", ["/dashboard/roi", "/dashboard/declared?field=connu"])
def test_the_new_pages_show_only_the_sign_in_form_without_a_session(dash: Dash, path: str) -> None:
    response = httpx.get(dash.url + path, timeout=30)
    assert response.status_code == 401
    assert 'action="/dashboard/signin"' in response.text
    assert "Paid Search" not in response.text and "Recherche payante" not in response.text


@pytest.mark.parametrize("path", ["/dashboard/roi.csv", "/dashboard/declared.csv?field=connu",
                                  "/dashboard/links/qr/demo-affiche-mairie.png"])
def test_the_new_downloads_are_refused_without_a_session(dash: Dash, path: str) -> None:
    response = httpx.get(dash.url + path, timeout=30, headers={"Authorization": f"Bearer {dash.token}"})
    assert response.status_code == 401
    assert response.json()["error"] == "not_signed_in"


FORMS = {
    "/dashboard/costs": {"day": "2026-11-02", "source": "csrf", "medium": "cpc", "campaign": "csrf-test",
                         "cost": "999"},
    "/dashboard/outcomes": {"lead_id": "whatever", "outcome": "csrf-test"},
    "/dashboard/links/short": {"site": "demo", "url": f"{DEMO_ORIGIN}/", "source": "csrf", "medium": "affiche",
                               "campaign": "csrf-test", "code": "csrf-test"},
}


@pytest.mark.parametrize("path", list(FORMS))
def test_a_form_is_refused_without_a_session(dash: Dash, path: str) -> None:
    response = httpx.post(dash.url + path, data=FORMS[path], headers={"Origin": dash.url}, timeout=30)
    assert response.status_code == 401
    assert 'action="/dashboard/signin"' in response.text
    assert httpx.get(dash.url + "/r/csrf-test", timeout=30).status_code == 404


@pytest.mark.parametrize("origin", ["https://evil.example", None])
@pytest.mark.parametrize("path", list(FORMS))
def test_a_form_from_another_site_is_refused(dash: Dash, client: httpx.Client, path: str, origin: str | None) -> None:
    headers = {"Origin": origin} if origin else {"Origin": ""}
    response = client.post(path, data=FORMS[path], headers=headers)
    assert response.status_code == 403
    assert "protection contre les requêtes intersites" in response.text
    assert httpx.get(dash.url + "/r/csrf-test", timeout=30).status_code == 404
    roi = dash.api("roi", {**dash.everything, "model": "last_touch", "by": "campaign"}).json()["rows"]
    assert "csrf-test" not in [r["campaign"] for r in roi]


# --- short links and QR codes ------------------------------------------------------------------------------
@pytest.mark.skipif(shutil.which("zbarimg") is None, reason="zbar-tools is not installed (apt-get install zbar-tools)")
def test_a_short_link_made_in_the_builder_redirects_counts_and_its_qr_code_reads(
        dash: Dash, signed_in: Tab, shot: Callable[..., Any], tmp_path: Path) -> None:
    page = signed_in.page
    signed_in.open("/dashboard/links?" + urlencode({"url": f"{DEMO_ORIGIN}/portes-ouvertes", "source": "Mairie Nord",
                                                    "medium": "affiche", "campaign": "Portes Ouvertes 2027"}))
    page.fill("#code", "po-2027-nord")
    response = submit(signed_in, "#short-form button[type=submit]")
    assert response.status == 200
    short = f"{dash.url}/r/po-2027-nord"
    assert page.locator("#short-url").inner_text() == short
    assert page.locator("#short-made img.qr").evaluate("img => img.complete && img.naturalWidth > 0")
    shot(page, "short-link")
    png = tmp_path / "qr.png"
    png.write_bytes(download(signed_in, "#qr-png"))
    read = subprocess.run(["zbarimg", "--raw", "-q", str(png)], capture_output=True, text=True, timeout=60)
    assert read.stdout.strip() == short
    assert int.from_bytes(png.read_bytes()[16:20], "big") >= 1200  # the PNG header's width: big enough to print
    svg = download(signed_in, "#qr-svg")
    assert svg.startswith(b"<?xml") and b"<svg" in svg

    # the short link leads to the page with the builder's (normalised) tags, and its scan is counted
    scan = httpx.get(short, headers={"User-Agent": "Mozilla/5.0 (X11; Linux x86_64) Chrome/131.0"}, timeout=30)
    assert scan.status_code == 302
    target = urlsplit(scan.headers["location"])
    assert target.path == "/portes-ouvertes"
    assert parse_qs(target.query) == {"utm_source": ["mairie-nord"], "utm_medium": ["affiche"],
                                      "utm_campaign": ["portes-ouvertes-2027"]}
    signed_in.open("/dashboard/links")
    listed = {r[0]: r for r in signed_in.rows("short-links")}
    assert listed["po-2027-nord"][2] == "1"  # scans
    assert {"demo-affiche-mairie", "demo-flyer-marche"} <= set(listed)

    # the same code again: a clear message, nothing changed
    signed_in.open("/dashboard/links?" + urlencode({"url": f"{DEMO_ORIGIN}/", "source": "marche", "medium": "flyer",
                                                    "campaign": "autre"}))
    page.fill("#code", "po-2027-nord")
    response = submit(signed_in, "#short-form button[type=submit]")
    assert response.status == 400
    assert "«\u00a0po-2027-nord\u00a0» est déjà pris" in page.locator("#refused").inner_text()
    expect_refusal(signed_in)
    assert "portes-ouvertes" in httpx.get(short, timeout=30).headers["location"]


@pytest.mark.parametrize(("url", "code", "says"), [
    ("https://evil.example/phishing", "hostile", "doit être sur le site (https://www.ecloserie.fr)"),
    ("javascript:alert(1)", "hostile", "doit commencer par http:// ou https://"),
    (f"{DEMO_ORIGIN}/", "bad code!", "Le code doit faire de 1 à 32 lettres"),
    (f"{DEMO_ORIGIN}/", "", "Le code doit faire de 1 à 32 lettres"),
], ids=["foreign-target", "javascript-target", "bad-code", "no-code"])
def test_a_bad_short_link_is_refused_with_a_message(dash: Dash, client: httpx.Client, url: str, code: str,
                                                    says: str) -> None:
    form = {"site": "demo", "url": url, "source": "x", "medium": "affiche", "campaign": "y", "code": code}
    response = client.post("/dashboard/links/short", data=form)
    assert response.status_code == 400
    assert says in response.text
    assert httpx.get(f"{dash.url}/r/hostile", timeout=30).status_code == 404


def test_the_short_links_list_has_the_report_counts_and_the_campaign_cost(dash: Dash, client: httpx.Client,
                                                                         signed_in: Tab) -> None:
    made = client.post("/dashboard/links/short", data={"site": "demo", "url": f"{DEMO_ORIGIN}/fablab",
                                                       "source": "Boulangerie", "medium": "flyer",
                                                       "campaign": "Fablab Hiver", "code": "fablab-hiver"})
    assert made.status_code == 303 and made.headers["location"].endswith("short=fablab-hiver#short-made")
    for day, cost in ((dash.today.isoformat(), "30"), ((dash.today.replace(day=1)).isoformat(), "12,5")):
        saved = client.post("/dashboard/costs", data={"day": day, "source": "boulangerie", "medium": "flyer",
                                                      "campaign": "fablab-hiver", "cost": cost})
        assert saved.status_code == 303
    signed_in.open("/dashboard/links?" + query(dash))
    listed = {r[0]: r for r in signed_in.rows("short-links")}
    cli = dash.cli("link", "list", "--from", dash.everything["from"], "--to", dash.everything["to"], "--format", "json")
    rows = orjson.loads(cli)["rows"]
    assert {r["code"] for r in rows} == set(listed)
    for row in rows:
        code, url, scans, visitors, conversions, cost, per_lead = listed[row["code"]][:7]
        assert (url, int(scans), int(visitors), int(conversions)) == (row["url"], row["scans"], row["visitors"],
                                                                      row["conversions"])
        if per_lead:
            assert float(per_lead) == round(float(cost) / int(conversions), 2)
    fablab = listed["fablab-hiver"]
    expected = 42.5 if dash.today.day != 1 else 12.5  # on the 1st, the second cost replaced the first
    assert (float(fablab[5]), fablab[6]) == (expected, "")  # no lead yet: no cost per lead


# --- ROI -------------------------------------------------------------------------------------------------
def roi_rows(tab: Tab) -> list[dict[str, Any]]:
    by = tab.page.locator("#roi").get_attribute("data-by")
    return [{by: value, "cost": number(cost), "conversions": number(conv), "cost_per_conversion": number(per),
             "value": number(worth), "roas": number(roas)} for value, cost, conv, per, worth, roas in tab.rows("roi")]


def test_the_roi_page_equals_the_api_and_downloads_its_csv(dash: Dash, signed_in: Tab,
                                                           shot: Callable[..., Any]) -> None:
    params = {**dash.everything, "model": "linear", "by": "campaign"}
    signed_in.open("/dashboard/roi?" + urlencode(params))
    shot(signed_in.page, "roi")
    api = dash.api("roi", params).json()
    assert any(r["cost"] for r in api["rows"]) and any(r["value"] for r in api["rows"])
    assert roi_rows(signed_in) == api["rows"]
    assert signed_in.page.locator("#roi-total").inner_text().startswith(f"{api['conversions']} conversions")
    assert download(signed_in, ".download a.csv") == dash.api("roi", params, fmt="csv").content
    # the outcome picker lists the outcomes in use, and narrows the table as the API's outcome= does
    options = signed_in.page.eval_on_selector_all("#outcome option", "os => os.map(o => o.value)")
    assert options[0] == "" and "inscrit" in options
    signed_in.page.select_option("#outcome", "inscrit")
    submit(signed_in, "form.filters button[type=submit]")
    assert roi_rows(signed_in) == dash.api("roi", {**params, "outcome": "inscrit"}).json()["rows"]


def test_a_cost_typed_in_the_roi_page_is_stored_and_replaced(dash: Dash, signed_in: Tab, client: httpx.Client) -> None:
    params = {**dash.everything, "model": "last_touch", "by": "campaign"}
    signed_in.open("/dashboard/roi?" + urlencode(params))
    page = signed_in.page
    page.fill("#cost-day", dash.today.isoformat())
    page.fill("#cost-source", "Radio-Locale")
    page.fill("#cost-medium", "audio")
    page.fill("#cost-campaign", "spot-rentree")
    page.fill("#cost-amount", "120,50")
    submit(signed_in, "#cost-form button[type=submit]")
    assert page.locator("#cost-saved").is_visible()
    shown = {r["campaign"]: r for r in roi_rows(signed_in)}
    assert shown["spot-rentree"]["cost"] == 120.5
    api = {r["campaign"]: r for r in dash.api("roi", params).json()["rows"]}
    assert api["spot-rentree"]["cost"] == 120.5
    # the same day and campaign again replaces the amount
    again = client.post("/dashboard/costs", data={"day": dash.today.isoformat(), "source": "radio-locale",
                                                  "medium": "audio", "campaign": "spot-rentree", "cost": "80"})
    assert again.status_code == 303
    api = {r["campaign"]: r for r in dash.api("roi", params).json()["rows"]}
    assert api["spot-rentree"]["cost"] == 80.0


@pytest.mark.parametrize(("field", "value", "says"), [
    ("cost", "-5", "0 ou plus"),
    ("cost", "beaucoup", "0 ou plus"),
    ("cost", "", "0 ou plus"),
    ("day", "2026-02-30", "Le jour doit être une date"),
    ("campaign", "", "Indiquez le jour, la source"),
    ("source", "x" * 101, "au plus 100 caractères"),
], ids=["negative", "not-a-number", "missing-cost", "no-such-day", "no-campaign", "long-source"])
def test_a_bad_cost_is_refused_with_a_message(dash: Dash, client: httpx.Client, field: str, value: str,
                                              says: str) -> None:
    form = {"day": dash.today.isoformat(), "source": "bad", "medium": "cpc", "campaign": "bad-cost", "cost": "10",
            field: value}
    response = client.post("/dashboard/costs", data=form)
    assert response.status_code == 400
    assert says in response.text
    roi = dash.api("roi", {**dash.everything, "model": "last_touch", "by": "campaign"}).json()["rows"]
    assert "bad-cost" not in [r["campaign"] for r in roi]


# --- attribution by outcome and value -----------------------------------------------------------------------
def test_attribution_by_outcome_and_in_value_equals_the_api(dash: Dash, signed_in: Tab) -> None:
    params = {**dash.everything, "model": "linear", "by": "channel"}
    signed_in.open("/dashboard/attribution?" + urlencode(params))
    signed_in.page.select_option("#outcome", "inscrit")
    signed_in.page.check("#value")
    submit(signed_in, "form.filters button[type=submit]")
    api = dash.api("attribution", {**params, "outcome": "inscrit", "value": "true"}).json()
    assert api["rows"] and any(r["value"] for r in api["rows"])
    shown = [{"channel": c, "conversions": float(n), "value": float(v), "share": float(s),
              "touched_conversions": int(t)} for c, n, v, s, t in signed_in.rows("attribution")]
    assert shown == api["rows"]
    assert "«\u00a0inscrit\u00a0»" in signed_in.page.locator("#attribution-outcome").inner_text()
    got = download(signed_in, "section[aria-labelledby=main-title] .download a.csv")
    assert got == dash.api("attribution", {**params, "outcome": "inscrit", "value": "1"}, fmt="csv").content


# --- outcomes on the leads page --------------------------------------------------------------------------
def test_an_outcome_set_on_the_leads_page_is_stored(dash: Dash, signed_in: Tab, shot: Callable[..., Any]) -> None:
    signed_in.open("/dashboard/leads?" + query(dash))
    page = signed_in.page
    api = {r["lead_id"]: r for r in dash.api("leads", dash.everything).json()["rows"]}
    shown = page.eval_on_selector_all("#leads td.outcome", "cs => cs.map(c => [c.dataset.lead, c.dataset.value])")
    assert {lead: outcome for lead, outcome in shown} == {k: r["outcome"] or "" for k, r in api.items()}
    row = page.locator("#leads tbody tr").nth(2)
    lead = row.locator("td.outcome").get_attribute("data-lead")
    row.locator("input[name=outcome]").fill("financé")
    row.locator("input[name=value]").fill("2 400,50")
    with page.expect_navigation():
        row.locator("button[type=submit]").click()
    assert page.locator("#outcome-saved").is_visible()
    assert "from=" in page.url  # back on the same filtered page
    cell = page.locator(f"#leads td.outcome[data-lead='{lead}']")
    assert cell.get_attribute("data-value") == "financé"
    assert cell.locator(".outcome-value").get_attribute("data-value") == "2400.5"
    shot(page, "leads-outcome")
    stored = {r["lead_id"]: r for r in dash.api("leads", dash.everything).json()["rows"]}[lead]
    assert (stored["outcome"], stored["value"]) == ("financé", 2400.5)


@pytest.mark.parametrize(("form", "status", "says"), [
    ({"lead_id": "no-such-lead", "outcome": "inscrit"}, 404, "Aucun contact n’a l’identifiant «\u00a0no-such-lead"),
    ({"lead_id": "", "outcome": "inscrit"}, 400, "rechargez la page des contacts"),
    ({"lead_id": "LEAD", "outcome": ""}, 400, "Indiquez un devenir"),
    ({"lead_id": "LEAD", "outcome": "inscrit", "value": "-1"}, 400, "0 ou plus"),
    ({"lead_id": "LEAD", "outcome": "x" * 101}, 400, "au plus 100 caractères"),
], ids=["unknown-lead", "no-lead", "no-outcome", "negative-value", "long-outcome"])
def test_a_bad_outcome_is_refused_with_a_message(dash: Dash, client: httpx.Client, form: dict[str, str], status: int,
                                                 says: str) -> None:
    before = dash.api("leads", dash.everything).json()["rows"]
    lead = before[0]["lead_id"]
    form = {k: (lead if v == "LEAD" else v) for k, v in form.items()}
    response = client.post("/dashboard/outcomes", data=form)
    assert response.status_code == status
    assert says in response.text
    assert dash.api("leads", dash.everything).json()["rows"] == before


# --- declared sources --------------------------------------------------------------------------------------
def test_the_declared_page_equals_the_api_and_downloads_its_csv(dash: Dash, signed_in: Tab,
                                                                shot: Callable[..., Any]) -> None:
    signed_in.open("/dashboard/declared?" + query(dash))  # the field is found: « connu »
    assert signed_in.page.locator("#field").input_value() == "connu"
    shot(signed_in.page, "declared")
    api = dash.api("declared", {**dash.everything, "field": "connu"}).json()["rows"]
    assert any(r["declared"] != "(no answer)" for r in api)
    channels = signed_in.page.eval_on_selector_all("#declared thead th[data-column]",
                                                   "ths => ths.map(t => t.dataset.column)")
    cells = {}
    for answer, *counts in signed_in.rows("declared"):
        for channel, count in zip(channels, counts[:-1], strict=True):
            if int(count):
                cells[(answer, channel)] = int(count)
    assert cells == {(r["declared"], r["channel"]): r["leads"] for r in api}
    direct = sum(r["leads"] for r in api if r["channel"] == "Direct")
    declared = sum(r["leads"] for r in api if r["channel"] == "Direct" and r["declared"] != "(no answer)")
    assert direct and signed_in.page.locator("#direct-share").inner_text().startswith(f"{declared} ")
    assert f"sur {direct} " in signed_in.page.locator("#direct-share").inner_text() or \
        f"des {direct} " in signed_in.page.locator("#direct-share").inner_text()
    got = download(signed_in, ".download a.csv")
    assert got == dash.api("declared", {**dash.everything, "field": "connu"}, fmt="csv").content


def test_a_bad_declared_field_is_a_message_not_an_error(dash: Dash, signed_in: Tab) -> None:
    response = signed_in.page.goto(dash.url + "/dashboard/declared?field=" + "a%20b%3Cscript%3E")
    assert response is not None and response.status == 400
    assert "field must be a form field" in signed_in.page.locator("main").inner_text()
    expect_refusal(signed_in)
