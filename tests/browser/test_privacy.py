"""The privacy tiers in real Chromium: nothing stored before consent, the id after it and its removal,
its 13-month expiry, data-consent="required", Do-Not-Track, Global Privacy Control, the staff opt-out."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime, timedelta

import pytest

from .conftest import Collector, Pages, html, local_storage

pytestmark = pytest.mark.browser

ID = re.compile(r"^\d{13}-[0-9.e-]+$")
FORM = """<form id="inscription" data-webleads-capture="formation"><input name="formation" value="mooc">
<button>OK</button></form><script>document.forms[0].onsubmit = e => e.preventDefault()</script>"""


def test_nothing_is_stored_before_consent_then_the_id_then_its_removal(collector: Collector, pages: Pages,
                                                                       visit) -> None:
    url = pages.add("/", html(collector, FORM))
    v = visit(url)
    v.page.click("button")
    v.page.evaluate("webleads('event', 'video-play')")
    collector.wait(3, settle=0)
    state = v.storage()
    assert state["cookies"] == [] and state["origins"] == []  # no cookie, no localStorage, no IndexedDB
    assert v.page.evaluate("document.cookie + sessionStorage.length") == "0"

    v.page.evaluate("webleads('consent', 'granted')")
    collector.wait(4, settle=0)  # the page is counted again, under the new id
    stored = local_storage(v, pages.origin)
    assert list(stored) == ["webleads_id"] and ID.match(stored["webleads_id"])
    v.page.reload()
    collector.wait(5, settle=0)
    v.page.evaluate("webleads('consent', 'granted')")  # a banner that says it on every page: no change
    assert local_storage(v, pages.origin) == stored

    v.page.evaluate("webleads('consent', 'denied')")
    assert local_storage(v, pages.origin) == {}
    v.page.reload()
    collector.wait(6)
    assert v.storage()["origins"] == []
    rows = collector.rows()
    assert [(r["type"], r["visitor_kind"]) for r in rows] == [
        ("pageview", "hash"), ("conversion", "hash"), ("event", "hash"),
        ("pageview", "consent"), ("pageview", "consent"), ("pageview", "hash")]
    assert rows[3]["visitor_id"] == rows[4]["visitor_id"] == stored["webleads_id"]
    assert rows[5]["visitor_id"] == rows[0]["visitor_id"]  # the same day's hash again


def test_the_id_expires_13_months_after_it_was_set_and_is_never_extended(collector: Collector,
                                                                         pages: Pages, visit) -> None:
    """The page's clock is mocked; the collector's is not (no timestamp is sent)."""
    url = pages.add("/", html(collector, "home"))
    set_at = datetime(2025, 1, 31, 12, tzinfo=UTC)
    v = visit()
    v.page.clock.set_fixed_time(set_at)
    v.page.goto(url)
    v.page.evaluate("webleads('consent', 'granted')")
    collector.wait(2, settle=0)
    first_id = local_storage(v, pages.origin)["webleads_id"]
    assert first_id.startswith(str(int(set_at.timestamp() * 1000)))
    # 27 Feb 2026, 392 days later (13 calendar months are at least 393 days): still valid, not renewed.
    v.page.clock.set_fixed_time(set_at + timedelta(days=392))
    v.page.goto(url)
    v.page.evaluate("webleads('consent', 'granted')")
    collector.wait(3, settle=0)
    assert local_storage(v, pages.origin)["webleads_id"] == first_id
    # A day later it is gone: the visit is counted without it, and nothing is left on the device.
    v.page.clock.set_fixed_time(set_at + timedelta(days=393, hours=1))
    v.page.goto(url)
    collector.wait(4)
    assert local_storage(v, pages.origin) == {}
    rows = collector.rows()
    assert [r["visitor_id"] == first_id for r in rows] == [False, True, True, False]
    assert rows[3]["visitor_kind"] == "hash"


def test_consent_required_sends_nothing_until_granted(collector: Collector, pages: Pages, visit) -> None:
    url = pages.add("/", html(collector, FORM, consent="required", debug=True))
    pages.add("/suite", html(collector, "suite", consent="required"))
    v = visit(url)
    v.page.click("button")
    v.page.evaluate("webleads('event', 'video-play')")
    time.sleep(1)
    assert v.beacons(collector) == [] and collector.committed() == 0
    assert v.storage()["origins"] == []
    assert "webleads: no consent yet" in v.console

    v.page.evaluate("webleads('consent', 'granted')")
    collector.wait(1, settle=0)
    v.page.goto(pages.origin + "/suite")  # the id says consent was given: no banner call needed
    collector.wait(2)
    rows = collector.rows()
    assert [(r["path"], r["visitor_kind"]) for r in rows] == [("/", "consent"), ("/suite", "consent")]
    assert rows[0]["visitor_id"] == rows[1]["visitor_id"]


@pytest.mark.parametrize("signal", [
    pytest.param("Object.defineProperty(Navigator.prototype, 'doNotTrack', {get: () => '1'})", id="dnt"),
    pytest.param("Object.defineProperty(Navigator.prototype, 'globalPrivacyControl', {get: () => true})",
                 id="gpc"),
])
def test_do_not_track_and_global_privacy_control_send_nothing(signal: str, collector: Collector,
                                                              pages: Pages, visit) -> None:
    url = pages.add("/", html(collector, FORM, debug=True))
    v = visit(url, init=signal)
    v.page.click("button")
    v.page.evaluate("webleads('consent', 'granted'); webleads('event', 'video-play')")
    v.page.evaluate("history.pushState({}, '', '/autre')")
    visit(url)  # another visitor, without the signal: once it has landed, the first would have too
    collector.wait(1)
    assert v.beacons(collector) == []
    assert "webleads: DNT, GPC or opt-out" in v.console
    assert [r["visitor_kind"] for r in collector.rows()] == ["hash"]


def test_the_staff_opt_out_flag_silences_this_browser(collector: Collector, pages: Pages, visit) -> None:
    url = pages.add("/", html(collector, FORM))
    staff = visit(url + "#webleads_ignore")
    assert local_storage(staff, pages.origin) == {"webleads_ignore": "1"}
    staff.page.goto(url)
    staff.page.click("button")
    visit(url)  # a visitor
    collector.wait(1)
    assert staff.beacons(collector) == []
    assert len(collector.rows()) == 1
