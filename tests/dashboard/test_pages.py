"""Every page, on a desktop and on a phone, in French and in English: it renders without a script error
or a Content-Security-Policy violation, every form control has a label, every table a caption and
header cells, nothing overflows a phone's width; and the campaign link builder."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from playwright.sync_api import expect

from .conftest import Dash, Tab

pytestmark = pytest.mark.browser
PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}


def paths(dash: Dash) -> dict[str, str]:
    q = "from={from}&to={to}".format(**dash.everything)
    return {
        "overview": f"/dashboard?{q}",
        "attribution": f"/dashboard/attribution?{q}&by=campaign&model=linear&compare=first_touch&compare=last_touch"
                       "&compare=markov",
        "funnel": f"/dashboard/funnel?{q}&step=pageview:/formation*&step=pageview:/candidater"
                  "&step=conversion:candidater&split=channel",
        "leads": f"/dashboard/leads?{q}",
        "report": "/dashboard/report",
        "links": "/dashboard/links?source=Newsletter&medium=email&campaign=Portes+Ouvertes",
    }


def check_accessible(page: Any, name: str) -> None:
    unlabelled = page.eval_on_selector_all(
        "main input:not([type=hidden]):not([hidden]), main select, main textarea",
        "els => els.filter(e => !(e.labels && e.labels.length) && !e.getAttribute('aria-label')).map(e => e.name)")
    assert unlabelled == [], name
    tables = page.eval_on_selector_all(
        "table", "ts => ts.map(t => [!!t.caption, t.querySelectorAll('thead th[scope=col]').length])")
    assert tables and all(caption and headers for caption, headers in tables), (name, tables)
    assert page.locator("main h1").count() == 1
    assert page.locator("a.skip[href='#main']").count() == 1


@pytest.mark.parametrize("device", ["desktop", "phone"])
def test_every_page_renders_cleanly(dash: Dash, new_tab: Callable[..., Tab], signed_in_state: dict[str, Any],
                                    shot: Callable[..., Any], device: str) -> None:
    options = PHONE if device == "phone" else {"viewport": {"width": 1280, "height": 900}}
    tab = new_tab(storage_state=signed_in_state, **options)
    for name, path in paths(dash).items():
        tab.open(path)
        check_accessible(tab.page, name)
        overflow = tab.page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 1, f"{name} is {overflow}px wider than the {device} screen"
        shot(tab.page, f"{name}-{device}")
    assert tab.page.locator("nav a[aria-current=page]").inner_text() == "Liens de campagne"


def test_pages_in_english(dash: Dash, signed_in: Tab, shot: Callable[..., Any]) -> None:
    signed_in.open(paths(dash)["attribution"] + "&lang=en")
    assert signed_in.page.locator("html").get_attribute("lang") == "en"
    assert signed_in.page.locator("h1").inner_text() == "Attribution"
    assert signed_in.page.get_by_label("Model", exact=True).input_value() == "linear"
    shot(signed_in.page, "attribution-en")
    # the choice sticks (a cookie), and the French link switches back
    signed_in.open("/dashboard/leads")
    assert signed_in.page.locator("h1").inner_text() == "Leads"
    signed_in.page.click("a[hreflang=fr]")
    assert signed_in.page.locator("h1").inner_text() == "Contacts"
    assert signed_in.page.locator("html").get_attribute("lang") == "fr"


def test_the_period_and_site_follow_from_page_to_page(dash: Dash, signed_in: Tab) -> None:
    signed_in.open("/dashboard/leads?from=2026-01-01&to=2026-01-31&site=demo&channel=Email")
    with signed_in.page.expect_navigation():
        signed_in.page.click("nav a:has-text('Attribution')")
    assert signed_in.page.locator("input[name=from]").input_value() == "2026-01-01"
    assert signed_in.page.locator("input[name=to]").input_value() == "2026-01-31"
    assert "channel" not in signed_in.page.url


def test_a_wrong_filter_is_named_not_an_error_page(dash: Dash, signed_in: Tab) -> None:
    signed_in.open("/dashboard/attribution?model=nonsense&from=yesterday&by=campaign")
    assert "model='nonsense'" in signed_in.page.locator(".notice.warn").first.inner_text()
    assert signed_in.page.locator("#model").input_value() == "last_touch"
    assert signed_in.page.locator("#attribution").get_attribute("data-by") == "campaign"


def test_the_link_builder_normalises_suggests_and_copies(dash: Dash, new_tab: Callable[..., Tab],
                                                         signed_in_state: dict[str, Any],
                                                         shot: Callable[..., Any]) -> None:
    tab = new_tab(storage_state=signed_in_state, permissions=["clipboard-read", "clipboard-write"])
    page = tab.page
    tab.open("/dashboard/links")
    # suggestions are the values already received, in their consistent spelling
    suggestions = page.eval_on_selector_all("#seen-source option", "os => os.map(o => o.value)")
    assert "newsletter" in suggestions and "Newsletter" not in suggestions
    assert page.locator("#seen tr.variants", has_text="Newsletter").count() == 1  # three spellings, one row
    # the link is written as the team types, in the site's naming
    page.fill("#url", "https://www.ecloserie.fr/formation-developpeur#programme")
    page.fill("#source", "Newsletter")
    page.fill("#medium", "Email")
    page.fill("#campaign", "Portes Ouvertes Été")
    expected = ("https://www.ecloserie.fr/formation-developpeur?utm_source=newsletter&utm_medium=email"
                "&utm_campaign=portes-ouvertes-ete#programme")
    assert page.locator("#link").input_value() == expected
    page.click("#copy")
    # a locator's wait, not wait_for_function: the dashboard's CSP refuses the eval a polled string needs
    expect(page.locator("#copy-status")).to_have_text(re.compile(r"\S"))
    assert page.locator("#copy-status").inner_text() == "Lien copié."
    assert page.evaluate("navigator.clipboard.readText()") == expected
    # sent to the server (works without the script too): same link, the GA4 channel, a look-alike warning
    page.fill("#campaign", "formation-dev-2O26")
    with page.expect_navigation():
        page.click("#builder button[type=submit]")
    assert page.locator("#link").input_value().endswith("utm_campaign=formation-dev-2o26#programme")
    assert page.locator("#link-channel").inner_text() == "Ce lien sera compté dans le canal «\u00a0E-mail\u00a0»."
    assert "ressemble à «\u00a0formation-dev-2026\u00a0»" in page.locator(".notice.warn").inner_text()
    shot(page, "links-builder")
