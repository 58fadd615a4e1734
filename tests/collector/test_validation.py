"""Bad input gets a 4xx with a short reason, never a 500: a table of cases, then fuzzing."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import ORIGIN, Server, free_port, webleads

PAGE = "https://www.ecloserie.test/"
NOW_MS = int(time.time() * 1000)


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    tmp = tmp_path_factory.mktemp("validation")
    db = tmp / "webleads.duckdb"
    webleads("site", "add", "ecloserie", "--origin", ORIGIN, db=db)
    srv = Server(db=db, port=free_port(), log_path=tmp / "serve.log").start()
    yield srv
    srv.kill()


def ev(**fields: object) -> dict[str, object]:
    return {"site": "ecloserie", "url": PAGE, **fields}


# (id, body or json, headers, expected status, expected reason code)
CASES = [
    ("malformed-json", b'{"site": "ecloserie",', {}, 400, "bad_json"),
    ("empty-body", b"", {}, 400, "empty_body"),
    ("empty-batch", b"[]", {}, 400, "empty_batch"),
    ("not-an-object", b'"hello"', {}, 400, "bad_event"),
    ("number-in-batch", b"[1]", {}, 400, "bad_event"),
    ("missing-site", {"url": PAGE}, {}, 400, "missing_site"),
    ("site-not-string", ev(site=12), {}, 400, "bad_site"),
    ("site-bad-chars", ev(site="Eclo serie!"), {}, 400, "bad_site"),
    ("unknown-site", ev(site="other"), {}, 400, "unknown_site"),
    ("bad-type", ev(type="purchase"), {}, 400, "bad_type"),
    ("conversion-without-name", ev(type="conversion"), {}, 400, "missing_name"),
    ("name-not-string", ev(type="event", name=["x"]), {}, 400, "bad_name"),
    ("name-too-long", ev(type="event", name="x" * 121), {}, 400, "long_name"),
    ("url-not-http", ev(url="javascript:alert(1)"), {}, 400, "bad_url"),
    ("url-too-long", ev(url=PAGE + "a" * 2100), {}, 400, "long_url"),
    ("url-number", ev(url=5), {}, 400, "bad_url"),
    ("visitor-id-bad-chars", ev(visitor_id="a b<c>"), {}, 400, "bad_visitor_id"),
    ("event-id-too-long", ev(event_id="e" * 65), {}, 400, "long_event_id"),
    ("ts-far-future", ev(ts=NOW_MS + 86_400_000), {}, 400, "future_ts"),
    ("ts-far-past", ev(ts=NOW_MS - 30 * 86_400_000), {}, 400, "old_ts"),
    ("ts-absurd", ev(ts=1e300), {}, 400, "bad_ts"),
    ("ts-text", ev(ts="yesterday"), {}, 400, "bad_ts"),
    ("ts-bool", ev(ts=True), {}, 400, "bad_ts"),
    ("ts-huge-integer", b'{"site":"ecloserie","ts":123456789012345678901234567890}', {}, 400, "bad_ts"),
    ("props-not-object", ev(props=[1, 2]), {}, 400, "bad_props"),
    ("props-nested", ev(props={"a": {"b": 1}}), {}, 400, "bad_props"),
    ("props-too-many", ev(props={f"k{i}": i for i in range(31)}), {}, 400, "long_props"),
    ("props-value-too-long", ev(props={"k": "v" * 501}), {}, 400, "long_props"),
    ("bot-not-bool", ev(bot="yes"), {}, 400, "bad_bot"),
    ("unknown-field", ev(colour="red"), {}, 400, "unknown_field"),
    ("nul-in-name", ev(type="event", name="a\x00b"), {}, 400, "bad_name"),
    ("too-many-events", [ev()] * 51, {}, 413, "batch_too_large"),
    ("body-too-large", b'{"site":"ecloserie","url":"' + b"a" * 70_000 + b'"}', {}, 413, "too_large"),
    ("bad-content-type", ev(), {"Content-Type": "application/x-www-form-urlencoded"}, 415, "bad_content_type"),
    ("no-origin", ev(), {"Origin": None}, 403, "missing_origin"),
    ("foreign-origin", ev(), {"Origin": "https://evil.test"}, 403, "origin_not_allowed"),
    ("foreign-referer", ev(), {"Origin": None, "Referer": "https://evil.test/page"}, 403, "origin_not_allowed"),
]


@pytest.mark.parametrize("body, headers, status, code", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_beacon_is_refused_with_its_reason(live: Server, body: object, headers: dict[str, str | None],
                                               status: int, code: str) -> None:
    import orjson

    content = body if isinstance(body, bytes) else orjson.dumps(body)
    hdrs = {"Origin": ORIGIN, "Content-Type": "text/plain"}
    hdrs.update({k: v for k, v in headers.items() if v is not None})
    for k, v in headers.items():
        if v is None:
            hdrs.pop(k)
    r = httpx.post(live.url + "/e", content=content, headers=hdrs)
    assert r.status_code == status, r.text
    assert r.headers["x-webleads-reason"] == code
    assert r.json() == {"error": code, "reason": r.json()["reason"]} and r.json()["reason"]


PIXEL_CASES = [
    ("no-site", {}, "missing_site"),
    ("unknown-site", {"site": "nope"}, "unknown_site"),
    ("bad-type", {"site": "ecloserie", "type": "click"}, "bad_type"),
    ("conversion-without-name", {"site": "ecloserie", "type": "conversion"}, "missing_name"),
    ("bad-url", {"site": "ecloserie", "url": "ftp://x"}, "bad_url"),
]


@pytest.mark.parametrize("params, code", [c[1:] for c in PIXEL_CASES], ids=[c[0] for c in PIXEL_CASES])
def test_bad_pixel_answers_the_gif_with_a_4xx(live: Server, params: dict[str, str], code: str) -> None:
    r = httpx.get(live.url + "/p.gif", params=params)
    assert r.status_code == 400
    assert r.headers["x-webleads-reason"] == code and r.content.startswith(b"GIF89a")


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.floats(allow_nan=True) | st.text(max_size=30),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=12)
field_names = st.sampled_from(["site", "type", "name", "url", "referrer", "visitor_id", "event_id", "ts",
                               "props", "bot", "other"])
events = st.dictionaries(field_names, json_values | st.sampled_from(
    ["ecloserie", "pageview", "conversion", PAGE, "https://x.test/?utm_source=a@b.fr", 1.5e12]), max_size=8)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=st.one_of(st.binary(max_size=300), events.map(lambda e: __import__("orjson").dumps(e)),
                      st.lists(events, max_size=5).map(lambda e: __import__("orjson").dumps(e))))
def test_fuzzed_beacons_never_get_a_5xx(live: Server, body: bytes) -> None:
    r = httpx.post(live.url + "/e", content=body, headers={"Origin": ORIGIN, "Content-Type": "text/plain"})
    assert r.status_code in (204, 400, 403, 413), r.text


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(params=st.dictionaries(st.sampled_from(["site", "url", "type", "name", "referrer", "utm_source",
                                               "gclid", "zzz"]),
                              st.text(max_size=40) | st.sampled_from(["ecloserie", "conversion", PAGE]),
                              max_size=6))
def test_fuzzed_pixels_never_get_a_5xx(live: Server, params: dict[str, str]) -> None:
    r = httpx.get(live.url + "/p.gif", params=params)
    assert r.status_code in (200, 400), r.text
    assert r.content.startswith(b"GIF89a")


def test_server_survived_the_fuzzing(live: Server, tmp_path: Path) -> None:
    assert httpx.get(live.url + "/healthz").json()["status"] == "ok"
    assert "Traceback" not in live.log()
