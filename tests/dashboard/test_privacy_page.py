"""/dashboard/privacy in real Chromium: each site's notice is exactly what `webleads privacy-notice` prints,
in French and in English, reached from the footer; the copy button puts it on the clipboard; without the
script the text is there to select; an unknown site is a 400."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest

from .conftest import Dash, Tab

pytestmark = pytest.mark.browser


def shown(tab: Tab, site: str) -> str:
    return tab.page.locator(f"section.privacy-notice[data-site='{site}'] pre").text_content() or ""


def test_the_notice_is_the_commands_text_and_copies(dash: Dash, new_tab: Callable[..., Tab],
                                                    signed_in_state: dict[str, Any], shot: Callable[..., Any]) -> None:
    tab = new_tab(storage_state=signed_in_state, permissions=["clipboard-read", "clipboard-write"])
    tab.open("/dashboard")
    with tab.page.expect_navigation():
        tab.page.click("footer a[href='/dashboard/privacy']")
    assert tab.page.locator("h1").inner_text() == "Mentions de confidentialité"
    french = dash.cli("privacy-notice", "--site", "demo")
    assert shown(tab, "demo").strip() == french.strip()
    assert "/opt-out?site=demo" in shown(tab, "demo")
    shot(tab.page, "privacy-notice")

    section = tab.page.locator("section.privacy-notice[data-site='demo']")
    section.locator("button[data-copy-text]").click()
    tab.page.wait_for_function("document.querySelector(\"section[data-site='demo'] .copy-status\").textContent")
    assert section.locator(".copy-status").inner_text().startswith("Copié")
    assert tab.page.evaluate("navigator.clipboard.readText()").strip() == french.strip()

    with tab.page.expect_navigation():
        tab.page.click("header .tools a[hreflang=en]")
    assert tab.page.locator("h1").inner_text() == "Privacy notice"
    assert shown(tab, "demo").strip() == dash.cli("privacy-notice", "--site", "demo", "--lang", "en").strip()


def test_the_notice_without_the_script(new_tab: Callable[..., Tab], signed_in_state: dict[str, Any]) -> None:
    tab = new_tab(storage_state=signed_in_state, java_script_enabled=False)
    tab.open("/dashboard/privacy?site=demo")
    assert "Mesure d’audience" not in shown(tab, "demo")  # the notice's own apostrophe is the command's
    assert shown(tab, "demo").startswith("Mesure d'audience et des campagnes (demo)")
    assert not tab.page.locator("button[data-copy-text]").is_visible()


def test_an_unknown_site_is_a_400(dash: Dash) -> None:
    with httpx.Client(base_url=dash.url, timeout=30, headers={"Origin": dash.url}) as client:
        assert client.post("/dashboard/signin", data={"token": dash.token}).status_code == 303
        response = client.get("/dashboard/privacy?site=<nope>")
        assert response.status_code == 400
        assert "&lt;nope&gt;" in response.text
        assert client.get("/dashboard/privacy").status_code == 200
    assert httpx.get(dash.url + "/dashboard/privacy", timeout=30).status_code == 401
