"""The opt-out page in real Chromium, against a real collector and a site page with the snippet: the
button sets the flag on the site, checks it with a test visit, closes its window and the page says the
browser is excluded; a browser that cannot keep the flag is told it is still counted; the test visit is
never stored; the steps work as plain links without the script."""

from __future__ import annotations

import re

import httpx
import pytest

from .conftest import Collector, Pages, html, local_storage

pytestmark = pytest.mark.browser

# A browser that refuses the site any storage (as some privacy settings do): the snippet keeps the flag
# in a plain object, for one page only.
NO_STORAGE = "Object.defineProperty(window, 'localStorage', {get() { throw new DOMException('denied'); }});"


def dropped_checks(collector: Collector) -> int:
    found = re.search(r'webleads_events_dropped_total\{reason="opt_out_check"\} (\d+)',
                      httpx.get(collector.url + "/metrics", timeout=5).text)
    return int(found.group(1)) if found else 0


def press(v, collector: Collector) -> str:
    """Press the page's button; return the verdict the page shows once it came back."""
    v.page.goto(collector.url + "/opt-out?site=pages")
    with v.context.expect_page() as opened:
        v.page.click("button.go")
    window = opened.value
    v.page.wait_for_url(re.compile(r"check="), timeout=30_000)
    window.wait_for_event("close", timeout=5_000) if not window.is_closed() else None
    return v.page.locator("[data-verdict]").get_attribute("data-verdict") or ""


def test_the_button_excludes_the_browser_and_says_so(collector: Collector, pages: Pages, visit) -> None:
    pages.add("/", html(collector, "<p>Accueil</p>"))
    staff = visit()
    assert press(staff, collector) == "excluded"
    assert "C'est fait : ce navigateur n'est plus compté sur pages." in staff.page.inner_text(".box.ok")
    assert local_storage(staff, pages.origin) == {"webleads_ignore": "1"}  # in the site's own storage
    assert dropped_checks(collector) == 0
    assert collector.rows() == []  # neither the site's pages nor the test visit were counted


def test_a_browser_that_cannot_keep_the_flag_is_told_it_is_still_counted(collector: Collector, pages: Pages,
                                                                          visit) -> None:
    pages.add("/", html(collector, "<p>Accueil</p>"))
    staff = visit(init=NO_STORAGE)
    assert press(staff, collector) == "counted"
    assert "Ce navigateur est encore compté sur pages." in staff.page.inner_text(".box.bad")
    assert dropped_checks(collector) == 1
    assert collector.rows() == []  # the test visit was noted, not stored


def test_the_steps_as_links_without_the_script(collector: Collector, pages: Pages, visit) -> None:
    pages.add("/", html(collector, "<p>Accueil</p>"))
    staff = visit(java_script_enabled=False)
    staff.page.goto(collector.url + "/opt-out?site=pages")
    assert not staff.page.is_visible("button.go")
    links = staff.page.locator("li[data-go] ol a")
    step1, step2, result = (links.nth(k).get_attribute("href") for k in range(3))
    assert step1 == pages.origin + "/#webleads_ignore"
    staff.page.goto(collector.url + result)
    assert staff.page.get_attribute("[data-verdict]", "data-verdict") == "not_opened"
    # The site's own page runs the snippet: a visitor's browser with scripts, where the staff member follows
    # the links one after the other.
    person = visit()
    person.page.goto(step1)
    person.page.wait_for_function("localStorage.webleads_ignore === '1'")
    person.page.goto(collector.url + step2)
    assert person.page.url.startswith(pages.origin + "/?webleads_check=")
    person.page.wait_for_timeout(1000)
    person.page.goto(collector.url + result)
    assert person.page.get_attribute("[data-verdict]", "data-verdict") in ("waiting", "excluded")
    person.page.wait_for_selector("[data-verdict=excluded]", timeout=15_000)  # the page refreshes itself


def test_bad_checks_are_refused(collector: Collector) -> None:
    assert httpx.get(collector.url + "/opt-out/check?check=nope", timeout=5).status_code == 404
    assert httpx.get(collector.url + "/opt-out/go?check=nope&origin=0", timeout=5).status_code == 404
    page = httpx.get(collector.url + "/opt-out?site=pages&check=nope", timeout=5)
    assert page.status_code == 404 and "inconnue ou a expiré" in page.text
    token = re.search(r"check=([\w-]+)", httpx.get(collector.url + "/opt-out?site=pages", timeout=5).text).group(1)
    for origin in ("9", "x", "-1"):
        response = httpx.get(collector.url + f"/opt-out/go?check={token}&origin={origin}", timeout=5)
        assert response.status_code == 400, origin
    assert httpx.get(collector.url + f"/opt-out/check?check={token}", timeout=5).json() == {"verdict": "not_opened"}
