"""Pageviews in real Chromium: landing with campaign parameters, journeys, SPA navigation, hash routes,
prerendering, the back/forward cache, the automation hint."""

from __future__ import annotations

import json
import time

import pytest

from .conftest import Collector, Pages, html

pytestmark = pytest.mark.browser


def test_landing_with_utm_and_click_id_is_stored_with_its_source(collector: Collector, pages: Pages,
                                                                   visit) -> None:
    url = pages.add("/formation", html(collector, "<h1>Formation</h1>"))
    v = visit()
    v.page.goto(url + "?utm_source=newsletter&utm_medium=email&utm_campaign=nov&gclid=abc123&q=private",
                referer="https://www.google.fr/search?q=ecloserie")
    collector.wait(1)
    [row] = collector.rows()
    assert row["type"] == "pageview" and row["site"] == "pages"
    assert row["url"] == (f"{pages.origin}/formation?utm_source=newsletter&utm_medium=email"
                          "&utm_campaign=nov&gclid=abc123")
    assert row["path"] == "/formation"
    assert (row["utm_source"], row["utm_medium"], row["utm_campaign"]) == ("newsletter", "email", "nov")
    assert (row["click_id"], row["click_id_type"]) == ("abc123", "gclid")
    assert row["referrer_domain"] == "google.fr"
    # No consent: the collector's daily hash, nothing from the device.
    assert row["visitor_kind"] == "hash" and row["visitor_id"].startswith("h")
    assert row["is_bot"] is False and row["browser"] == "Chrome" and row["origin"] == "beacon"
    assert row["name"] is None and row["props"] is None


def test_a_conversion_three_pages_after_the_landing_is_the_same_visitor(collector: Collector, pages: Pages,
                                                                        visit) -> None:
    """The campaign is read from the landing's URL on the server; what the snippet must do is send
    every page of the journey, each with the previous page as referrer, for one visitor."""
    pages.add("/", html(collector, '<a id="next" href="/formation">formation</a>'))
    pages.add("/formation", html(collector, '<a id="next" href="/candidater">candidater</a>'))
    pages.add("/candidater", html(collector, """
        <form id="candidature" method="post" action="/merci"><input name="nom"><button>Envoyer</button></form>"""))
    pages.add("/merci", html(collector, "Merci"))
    v = visit(pages.origin + "/?utm_source=facebook&utm_medium=social&utm_campaign=coders")
    v.page.click("#next")
    v.page.wait_for_url("**/formation")
    v.page.click("#next")
    v.page.wait_for_url("**/candidater")
    v.page.click("button")
    v.page.wait_for_url("**/merci")
    collector.wait(5)
    rows = collector.rows()
    assert [(r["type"], r["path"]) for r in rows] == [
        ("pageview", "/"), ("pageview", "/formation"), ("pageview", "/candidater"),
        ("conversion", "/candidater"), ("pageview", "/merci")]
    assert rows[0]["utm_campaign"] == "coders"
    assert len({r["visitor_id"] for r in rows}) == 1
    assert [r["referrer"] for r in rows[1:3]] == [f"{pages.origin}/?utm_source=facebook&utm_medium=social"
                                                  "&utm_campaign=coders", f"{pages.origin}/formation"]


SPA = """
<nav>app</nav>
<script>
  function go(kind, url) { history[kind]({}, "", url); }
</script>
"""


def test_spa_navigation_counts_each_new_path_once(collector: Collector, pages: Pages, visit) -> None:
    for path in ("/app", "/app/a", "/app/b"):
        pages.add(path, html(collector, SPA))
    v = visit(pages.origin + "/app")
    collector.wait(1)
    steps = [("go('pushState', '/app/a')", 2),          # a new path
             ("go('replaceState', '/app/a?tab=2')", 2),  # same path: not a new page
             ("go('replaceState', '/app/b')", 3),        # replaceState to another path counts
             ("go('pushState', '/app/b?x=1')", 3),       # same path again
             ("history.back()", 3),                      # popstate back to /app/b: same path
             ("history.back()", 4)]                      # popstate back to /app (a/b was replaced)
    for script, expected in steps:
        before = collector.committed()
        v.page.evaluate(script)
        if expected > before:
            collector.wait(expected, settle=0)
        else:
            time.sleep(0.6)  # more than two polls of the address
        assert collector.committed() == expected, script
    rows = collector.rows()
    assert [r["path"] for r in rows] == ["/app", "/app/a", "/app/b", "/app"]
    # In an SPA, the referrer of a view is the previous address (query cleaned by the collector).
    assert [r["referrer"] for r in rows[1:]] == [f"{pages.origin}/app", f"{pages.origin}/app/a",
                                                 f"{pages.origin}/app/b"]
    assert len({r["visitor_id"] for r in rows}) == 1


def test_hash_routes_count_only_when_the_tag_asks(collector: Collector, pages: Pages, visit) -> None:
    pages.add("/hash", html(collector, "<p>hash app</p>", hash=True))
    pages.add("/plain", html(collector, "<p>plain page</p>"))
    plain = visit(pages.origin + "/plain")
    collector.wait(1, settle=0)
    plain.page.evaluate("location.hash = '#/ignored'")
    v = visit(pages.origin + "/hash")
    collector.wait(2, settle=0)
    v.page.evaluate("location.hash = '#/inscription'")
    collector.wait(3, settle=0)
    v.page.evaluate("location.hash = '#/inscription'")  # unchanged: no new view
    v.page.evaluate("history.back()")                     # back to no hash
    collector.wait(4)
    rows = collector.rows()
    assert [r["path"] for r in rows] == ["/plain", "/hash", "/hash#/inscription", "/hash"]


def test_a_prerendered_page_counts_only_once_shown(collector: Collector, pages: Pages, visit) -> None:
    """Chromium refuses to prerender under DevTools (PrerenderingDisabledByDevTools), so the page's
    prerendering state is emulated: document.prerendering true until the test flips it, as
    activation does."""
    pages.add("/prochaine", html(collector, "next"))
    v = visit(init="""window.__pre = true;
        Object.defineProperty(Document.prototype, 'prerendering', {get: () => window.__pre});""")
    v.page.goto(pages.origin + "/prochaine")
    time.sleep(1)
    assert collector.committed() == 0
    v.page.evaluate("window.__pre = false; document.dispatchEvent(new Event('prerenderingchange'))")
    collector.wait(1)
    assert [r["path"] for r in collector.rows()] == ["/prochaine"]


def test_a_page_restored_from_the_back_forward_cache_is_counted(collector: Collector, pages: Pages,
                                                                  visit) -> None:
    pages.add("/a", html(collector, '<a id="b" href="/b">b</a><script>window.restored = false;'
                                    'addEventListener("pageshow", e => { window.restored = e.persisted })</script>'))
    pages.add("/b", html(collector, "b"))
    v = visit(pages.origin + "/a")
    v.page.click("#b")
    v.page.wait_for_url("**/b")
    collector.wait(2, settle=0)
    v.page.go_back(wait_until="commit")  # a restored page fires no load event
    v.page.wait_for_function("window.restored === true")  # it did come from the cache
    collector.wait(3)
    assert [r["path"] for r in collector.rows()] == ["/a", "/b", "/a"]


def test_automation_is_sent_as_a_bot_hint_and_flagged(collector: Collector, pages: Pages, visit) -> None:
    """Under Playwright navigator.webdriver is true; with a desktop Chrome user-agent only the
    snippet's hint can tell the collector."""
    url = pages.add("/", html(collector, "home"))
    visit(url, bot=True)
    visit(url)  # a visitor's browser
    collector.wait(2)
    rows = collector.rows()
    assert [(r["is_bot"], r["bot_reason"], r["device"]) for r in rows] == [
        (True, "automation hint from the snippet", "bot"), (False, None, "desktop")]


def test_custom_events_and_conversions_from_the_api(collector: Collector, pages: Pages, visit) -> None:
    url = pages.add("/video", html(collector, "video"))
    v = visit(url)
    collector.wait(1, settle=0)
    v.page.evaluate("webleads('event', 'video-play', {title: 'Portes ouvertes', seconds: 12})")
    v.page.evaluate("webleads('conversion', 'appel-telephone')")
    v.page.evaluate("webleads('nonsense', 1); webleads()")  # refused by the collector, never thrown
    collector.wait(3, settle=1)
    rows = collector.rows()
    assert [(r["type"], r["name"]) for r in rows] == [
        ("pageview", None), ("event", "video-play"), ("conversion", "appel-telephone")]
    assert json.loads(rows[1]["props"]) == {"title": "Portes ouvertes", "seconds": 12}


def test_the_renamed_beacon_path_is_used(start_collector, pages: Pages, visit) -> None:
    collector = start_collector(env={"WEBLEADS_BEACON_PATH": "/t/collect"})
    url = pages.add("/", html(collector, "home"))
    v = visit(url)
    collector.wait(1)
    assert v.beacons(collector) == [f"POST {collector.url}/t/collect"]
    assert [r["origin"] for r in collector.rows()] == ["beacon"]
