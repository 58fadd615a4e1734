"""Values from the public internet are shown as text: a campaign named <img src=x onerror=alert(1)>
and a source named <script>alert(2)</script>, sent as a real beacon, run nothing on any page."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from .conftest import XSS_CAMPAIGN, XSS_SOURCE, Dash, Tab

pytestmark = pytest.mark.browser


def pages(dash: Dash) -> list[tuple[str, str]]:
    today = dash.today.isoformat()
    return [
        ("overview", f"/dashboard?from={today}&to={today}"),
        ("attribution-campaign", f"/dashboard/attribution?from={today}&to={today}&by=campaign"),
        ("attribution-source", f"/dashboard/attribution?from={today}&to={today}&by=source&model=linear"
                               "&compare=first_touch&compare=linear"),
        ("leads-xss", f"/dashboard/leads?from={today}&to={today}"),
        ("funnel-xss", f"/dashboard/funnel?from={today}&to={today}&step=pageview:/candidater"
                       "&step=conversion:candidater&split=campaign"),
        ("links-xss", "/dashboard/links"),
    ]


def test_hostile_names_are_shown_as_text_and_run_nothing(dash: Dash, signed_in: Tab,
                                                         shot: Callable[..., Any]) -> None:
    page = signed_in.page
    page.add_init_script("window.__ran = false;")
    for name, path in pages(dash):
        signed_in.open(path)
        text = page.locator("main").inner_text()
        if name == "links-xss":
            assert XSS_CAMPAIGN in text and "img-src-x-onerror-alert-1" in text
        elif name.endswith("source"):
            assert XSS_SOURCE.lower() in text
        else:
            assert XSS_CAMPAIGN in text, name
        # nothing was parsed as markup: no such image or script element anywhere, no handler ran
        assert page.locator("img").count() == 0, name
        assert page.eval_on_selector_all("script", "s => s.map(x => x.getAttribute('src'))") == \
            [page.eval_on_selector("script", "s => s.getAttribute('src')")], name
        assert page.evaluate("window.__ran") is False
        shot(page, name)
    assert signed_in.dialogs == []
    assert signed_in.errors == []


def test_the_escaping_is_in_the_html_itself(dash: Dash, signed_in: Tab) -> None:
    today = dash.today.isoformat()
    response = signed_in.page.request.get(f"{dash.url}/dashboard/attribution?from={today}&to={today}&by=campaign")
    html = response.text()
    assert "&lt;img src=x onerror=alert(1)&gt;" in html
    assert XSS_CAMPAIGN not in html
    response = signed_in.page.request.get(f"{dash.url}/dashboard/leads?from={today}&to={today}")
    assert "&lt;script&gt;" in response.text() and "<script>alert" not in response.text()
