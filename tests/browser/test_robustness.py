"""The snippet never hurts the page: calls queued before it loads, a collector that is down, a strict
Content-Security-Policy (the pixel fallback), a page that breaks its own APIs."""

from __future__ import annotations

import json
import time
from urllib.parse import parse_qsl, urlsplit

import pytest

from .conftest import Collector, Pages, free_port, html, tag

pytestmark = pytest.mark.browser

STUB = ("<script>window.webleads = window.webleads || function () {"
        " (webleads.q = webleads.q || []).push(arguments) };</script>")


def test_calls_made_before_the_script_loaded_are_replayed(collector: Collector, pages: Pages, visit) -> None:
    url = pages.add("/", html(collector, head=STUB + """<script>
        webleads('consent', 'granted');
        webleads('event', 'banniere-vue', {variante: 'b'});
    </script>"""))
    v = visit(url)
    collector.wait(2)
    rows = collector.rows()
    # The early consent applies to the first pageview, which is counted once.
    assert sorted((r["type"], r["name"], r["visitor_kind"]) for r in rows) == [
        ("event", "banniere-vue", "consent"), ("pageview", None, "consent")]
    assert rows[0]["visitor_id"] == rows[1]["visitor_id"]
    assert json.loads(next(r["props"] for r in rows if r["type"] == "event")) == {"variante": "b"}
    assert v.page.evaluate("typeof webleads.q") == "undefined"  # the stub was replaced


def test_the_page_keeps_working_when_the_collector_is_down(collector: Collector, pages: Pages, visit) -> None:
    pages.add("/api/send", "ok", content_type="text/plain")
    page = """
        <form id="candidater"><input name="n" value="1"><button>Envoyer</button></form>
        <p id="status">...</p>
        <script>
          document.forms[0].addEventListener("submit", e => {
            e.preventDefault();
            fetch("/api/send", {method: "POST"})
              .then(() => { document.getElementById("status").textContent = "sent"; });
          });
        </script>"""
    url = pages.add("/", html(collector, page))
    v = visit(url)
    collector.wait(1, settle=0)
    collector.stop()  # the collector goes away after the script loaded
    v.page.click("button")
    v.page.wait_for_function("document.getElementById('status').textContent === 'sent'")
    # Two events in one go: both POSTs are on their way before the first fails.
    v.page.evaluate("webleads('event', 'x', {a: 1}); webleads('event', 'y'); history.pushState({}, '', '/ailleurs')")
    deadline = time.monotonic() + 30  # a loaded machine: the failures and fallbacks may take a while
    while len(v.beacons(collector)) < 9 and time.monotonic() < deadline:
        v.page.wait_for_timeout(100)
    # Each failed POST was retried as a pixel, which failed too, silently.
    beacons = sorted(v.beacons(collector)[1:])
    seen = [(r.method, r.url[:80], r.failure) for r in v.requests if r.url.startswith(collector.url)]
    expected = [f"GET {collector.url}/p.gif"] * 4 + [f"POST {collector.url}/e"] * 4
    assert [b.split("?")[0] for b in beacons] == expected, seen
    # Each pixel carries its own event, not the one sent last.
    pixels = [dict(parse_qsl(urlsplit(b).query)) for b in beacons if b.startswith("GET")]
    assert sorted((p["type"], p.get("name", "")) for p in pixels) == [
        ("conversion", "candidater"), ("event", "x"), ("event", "y"), ("pageview", "")], seen
    assert v.errors == []

    # Down from the start: the script never loads; the stub's calls are harmless.
    dead = f"http://127.0.0.1:{free_port()}"
    v2 = visit(pages.add("/dead", html(collector, page, head=STUB + "<script>webleads('event', 'x')</script>")
                         .replace(collector.url, dead)))
    v2.page.click("button")
    v2.page.wait_for_function("document.getElementById('status').textContent === 'sent'")
    assert v2.errors == []


def test_a_strict_csp_falls_back_to_the_pixel(collector: Collector, pages: Pages, visit) -> None:
    """connect-src does not allow the collector, img-src does: fetch is refused, the pixel goes."""
    csp = f"default-src 'self'; script-src 'self' 'unsafe-inline' {collector.url}; img-src *; connect-src 'self'"
    url = pages.add("/formation", html(collector, """
        <form id="candidater"><button>Candidater</button></form>
        <script>document.forms[0].onsubmit = e => e.preventDefault()</script>"""),
                    headers={"Content-Security-Policy": csp})
    v = visit()
    v.page.goto(url + "?utm_source=affiche&utm_campaign=mairie", referer="https://www.ecloserie.fr/")
    v.page.click("button")
    collector.wait(2)
    rows = collector.rows()
    assert [(r["type"], r["name"], r["origin"]) for r in rows] == [
        ("pageview", None, "pixel"), ("conversion", "candidater", "pixel")]
    assert rows[0]["url"] == f"{pages.origin}/formation?utm_source=affiche&utm_campaign=mairie"
    assert rows[0]["referrer_domain"] == "ecloserie.fr"


def test_a_page_that_breaks_fetch_gets_no_error_from_the_snippet(collector: Collector, pages: Pages,
                                                                 visit) -> None:
    """A page whose fetch throws at once: the snippet swallows it (and logs it with data-debug)."""
    url = pages.add("/", html(collector, FORM_BREAKING_FETCH, debug=True))
    v = visit(url)
    v.page.click("button")
    v.page.evaluate("webleads('event', 'x'); history.pushState({}, '', '/b')")
    time.sleep(0.6)
    assert v.errors == []
    assert any(line.startswith("webleads: TypeError") for line in v.console)
    assert collector.committed() == 0


FORM_BREAKING_FETCH = """<script>window.fetch = () => { throw new TypeError("fetch is broken here") };</script>
<form id="f"><button>OK</button></form><script>document.forms[0].onsubmit = e => e.preventDefault()</script>"""


def test_the_tag_pasted_twice_counts_once(collector: Collector, pages: Pages, visit) -> None:
    """A theme header and a header-scripts plugin both adding the tag is a common WordPress mistake."""
    body = """<form id="contact"><button>OK</button></form>
    <script>document.forms[0].onsubmit = e => e.preventDefault()</script>"""
    url = pages.add("/", html(collector, body, head=tag(collector)))
    v = visit(url)
    v.page.wait_for_function("typeof window.webleads === 'function'")
    v.page.click("button")
    v.page.evaluate("history.pushState({}, '', '/suite')")
    collector.wait(3, settle=1)
    assert [(r["type"], r["path"]) for r in collector.rows()] == [
        ("pageview", "/"), ("conversion", "/"), ("pageview", "/suite")]
