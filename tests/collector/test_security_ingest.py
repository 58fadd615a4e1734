"""Attacks on the ingest path (security review, issue #14), each replayed against a real `webleads serve`:
the e-mail redaction's cost, secrets in hash routes, DNT/GPC/consent enforced by the collector, bad
values that must cost only their own event, and caches bounded in bytes."""

from __future__ import annotations

import socket
import statistics
import time
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import orjson
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from webleads.collector.enrich import REDACTED, Context, Geo, SiteConfig, build_row, clean_url, redact
from webleads.collector.validate import IMPORT_KEYS, Rejected, check_time, validate_event

from conftest import ORIGIN, Server, webleads

CHROME = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
          "Chrome/131.0.0.0 Safari/537.36")
PAGE = ORIGIN + "/"


def post(server: Server, body: Any, timeout: float = 30, **headers: str) -> httpx.Response:
    content = body if isinstance(body, bytes | str) else orjson.dumps(body)
    hdrs = {"Origin": ORIGIN, "Content-Type": "text/plain", "User-Agent": CHROME, **headers}
    return httpx.post(server.url + "/e", content=content, headers=hdrs, timeout=timeout)


def timed(call: Any) -> tuple[float, Any]:
    started = time.perf_counter()
    result = call()
    return time.perf_counter() - started, result


def normal_beacon(server: Server) -> httpx.Response:
    return post(server, {"site": "ecloserie", "url": PAGE})


def normal_time(server: Server) -> float:
    """The median time of a plain beacon on this machine, now."""
    times = []
    for _ in range(5):
        elapsed, r = timed(lambda: normal_beacon(server))
        assert r.status_code == 204
        times.append(elapsed)
    return statistics.median(times)


# --- finding 2: the e-mail redaction is linear and never holds up other beacons -------------------
HOSTILE = "a%40" * 500  # 2,000 characters that kept the old regex backtracking at every start


def hostile_beacon() -> bytes:
    """About 62 KB: the largest batch of the longest addresses a beacon may carry, each one new (a
    repeated address would be cleaned once and then come from the cache)."""
    unique = time.perf_counter_ns()
    body = orjson.dumps([{"site": "ecloserie", "url": (f"{PAGE}{unique}/{i}/{HOSTILE}")[:2048],
                          "referrer": (f"{PAGE}{unique}/r{i}/{HOSTILE}")[:2048]} for i in range(15)])
    assert len(body) < 64 * 1024
    return (b"POST /e HTTP/1.1\r\nHost: 127.0.0.1\r\nOrigin: " + ORIGIN.encode() + b"\r\nContent-Type: text/plain"
            b"\r\nConnection: close\r\nContent-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)


def hostile_pixel() -> bytes:
    """About 6 KB of query: no Origin needed."""
    url = (f"{PAGE}{time.perf_counter_ns()}/{HOSTILE}")[:2048]
    query = urlencode({"site": "ecloserie", "url": url, "referrer": url, "utm_source": HOSTILE[:300]})
    return f"GET /p.gif?{query} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode()


def send_raw(server: Server, requests: list[bytes]) -> list[socket.socket]:
    """Send whole requests on their own connections without waiting for the answers: the client's own
    work is done before the measurement starts."""
    socks = []
    for request in requests:
        sock = socket.create_connection(("127.0.0.1", server.port), timeout=60)
        sock.sendall(request)
        socks.append(sock)
    return socks


def status_of(sock: socket.socket) -> int:
    with sock:
        head = sock.recv(64)
        while b"\r\n" not in head:
            more = sock.recv(64)
            if not more:
                break
            head += more
    return int(head.split(b" ")[1])


@pytest.mark.parametrize("make, copies", [(hostile_beacon, 2), (hostile_pixel, 12)], ids=["beacon", "pixel"])
def test_a_hostile_request_does_not_hold_up_a_normal_beacon(server: Server, make: Any, copies: int) -> None:
    normal = normal_time(server)
    alone, sockets = timed(lambda: send_raw(server, [make()]))
    alone += timed(lambda: status_of(sockets[0]))[0]
    # The old regex took seconds here; linear redaction costs about what a normal beacon does.
    assert alone < max(0.5, 20 * normal), f"the hostile request took {alone:.2f}s (a normal beacon {normal:.3f}s)"

    attacks = [make() for _ in range(copies)]
    sockets = send_raw(server, attacks)
    time.sleep(0.05)  # the hostile requests are being read and enriched
    waited, r = timed(lambda: normal_beacon(server))
    answers = [status_of(sock) for sock in sockets]
    assert r.status_code == 204
    assert waited < 0.3 + 3 * normal, f"a normal beacon waited {waited:.2f}s behind {copies} hostile requests"
    assert answers == [answers[0]] * copies and answers[0] in (200, 204)


def test_redaction_is_linear_in_its_input() -> None:
    for text in ("a%40" * 50_000, "a@" * 100_000, "a" * 200_000 + "@" + "b" * 200_000,
                 "a%2540" * 30_000, "x.y-" * 50_000 + "@x", "\uff20a" * 100_000, ("a" * 60 + "%25") * 3000):
        elapsed, _ = timed(lambda text=text: redact(text))
        assert elapsed < 0.5, f"{text[:12]!r}... ({len(text)} characters) took {elapsed:.2f}s"


REDACTION_CASES = [
    ("plain", "marie@example.org", REDACTED),
    ("in-a-sentence", "Contact: marie@example.org, merci", f"Contact: {REDACTED}, merci"),
    ("percent-encoded", "/u/bob%40x.com/edit", f"/u/{REDACTED}/edit"),
    ("double-encoded", "/u/bob%2540x.com", f"/u/{REDACTED}"),
    ("triple-encoded", "/u/bob%252540x.com", f"/u/{REDACTED}"),
    ("lower-case-hex", "/u/bob%2540x%2ecom", f"/u/{REDACTED}"),
    ("full-width-at", "bob\uff20x.com", REDACTED),
    ("small-at", "bob\ufe6bx.com", REDACTED),
    ("full-width-all", "\uff42\uff4f\uff42\uff20\uff58\uff0e\uff43\uff4f\uff4d", REDACTED),
    ("full-width-percent-encoded", "/u/bob%EF%BC%A0x.com", f"/u/{REDACTED}"),
    ("small-at-percent-encoded", "/u/bob%ef%b9%abx.com", f"/u/{REDACTED}"),
    ("encoded-dot", "bob%40x%2Ecom", REDACTED),
    ("deeply-encoded", "bob%25252525252540x.com", REDACTED),
    ("no-address", "/formation?utm_source=news%20letter", "/formation?utm_source=news%20letter"),
    ("at-without-domain", "@handle and a@b", "@handle and a@b"),
    ("double-encoded-space", "/a%2520b", "/a%2520b"),
    ("non-ascii-text", "Café crème", "Café crème"),
]


@pytest.mark.parametrize("text, expected", [c[1:] for c in REDACTION_CASES], ids=[c[0] for c in REDACTION_CASES])
def test_redaction_catches_encoded_and_look_alike_addresses(text: str, expected: str) -> None:
    assert redact(text) == expected


# --- finding 4: the fragment's query is filtered like the address's -------------------------------
FRAGMENT_CASES = [
    ("reset-token", ORIGIN + "/app#/reset?token=SECRET&email=bob%2540x.com&utm_source=news",
     ORIGIN + "/app#/reset?utm_source=news", "/app#/reset"),
    ("hashbang", ORIGIN + "/#!/login?password=hunter2", ORIGIN + "/#!/login", "/#!/login"),
    ("nested-fragment", ORIGIN + "/app#/cb#access_token=SECRET", ORIGIN + "/app#/cb", "/app#/cb"),
    ("ampersand-route", ORIGIN + "/app#/page&session=SECRET", ORIGIN + "/app#/page", "/app#/page"),
    ("e-mail-in-route", ORIGIN + "/app#/users/bob%2540x.com", ORIGIN + f"/app#/users/{REDACTED}",
     f"/app#/users/{REDACTED}"),
    ("full-width-in-path", ORIGIN + "/merci/bob\uff20x.com", ORIGIN + f"/merci/{REDACTED}", f"/merci/{REDACTED}"),
    ("anchor-dropped", ORIGIN + "/page#section-2", ORIGIN + "/page", "/page"),
]


@pytest.mark.parametrize("raw, url, path", [c[1:] for c in FRAGMENT_CASES], ids=[c[0] for c in FRAGMENT_CASES])
def test_clean_url_filters_hash_route_queries(raw: str, url: str, path: str) -> None:
    cleaned = clean_url(raw)
    assert (cleaned.url, cleaned.path) == (url, path)
    assert "SECRET" not in repr(cleaned) and "hunter2" not in repr(cleaned)


def test_secrets_in_hash_routes_are_not_stored(server: Server) -> None:
    spa = ORIGIN + "/app#/reset?token=SECRET&email=bob%2540x.com&utm_source=news"
    events = [{"site": "ecloserie", "url": spa, "event_id": "e1"},
              {"site": "ecloserie", "url": ORIGIN + "/app#/done", "referrer": spa, "event_id": "e2"},
              {"site": "ecloserie", "url": ORIGIN + "/merci/bob\uff20x.com", "event_id": "e3"}]
    assert post(server, events).status_code == 204
    pixel = httpx.get(server.url + "/p.gif", params={"site": "ecloserie", "url": spa})
    assert pixel.status_code == 200
    server.stop()
    rows = server.query("SELECT event_id, url, path, referrer FROM events ORDER BY event_id NULLS LAST")
    assert rows[:3] == [
        ("e1", ORIGIN + "/app#/reset?utm_source=news", "/app#/reset", None),
        ("e2", ORIGIN + "/app#/done", "/app#/done", ORIGIN + "/app#/reset?utm_source=news"),
        ("e3", ORIGIN + f"/merci/{REDACTED}", f"/merci/{REDACTED}", None),
    ]
    assert rows[3][1:3] == (ORIGIN + "/app#/reset?utm_source=news", "/app#/reset")
    everything = str(server.query("SELECT * FROM event_log"))
    assert "SECRET" not in everything and "bob" not in everything


# --- finding 5: DNT, GPC and consent-required are enforced by the collector ----------------------
def metrics(server: Server) -> str:
    return httpx.get(server.url + "/metrics").text


def wait_for_count(server: Server, reason: str, expected: int) -> str:
    """/metrics once it shows `expected` (a front reports its counts over its own link, not the relay)."""
    deadline = time.monotonic() + 5
    while True:
        text = metrics(server)
        if dropped(text, reason) >= expected or time.monotonic() > deadline:
            return text
        time.sleep(0.05)


def dropped(text: str, reason: str) -> int:
    prefix = f'webleads_events_dropped_total{{reason="{reason}"}} '
    return sum(int(line[len(prefix):]) for line in text.splitlines() if line.startswith(prefix))


PRIVACY_CASES = [
    # (id, site, kind, headers, extra event fields, stored, dropped reason)
    ("beacon-dnt", "ecloserie", "beacon", {"DNT": "1"}, {}, 0, "dnt"),
    ("beacon-gpc", "ecloserie", "beacon", {"Sec-GPC": "1"}, {}, 0, "gpc"),
    ("beacon-gpc-with-consent", "ecloserie", "beacon", {"Sec-GPC": "1"}, {"visitor_id": "v1"}, 0, "gpc"),
    ("pixel-dnt", "ecloserie", "pixel", {"DNT": "1"}, {}, 0, "dnt"),
    ("pixel-gpc", "ecloserie", "pixel", {"Sec-GPC": "1"}, {}, 0, "gpc"),
    ("dnt-0-is-stored", "ecloserie", "beacon", {"DNT": "0"}, {}, 1, None),
    ("consent-required-without-consent", "strict", "beacon", {}, {}, 0, "no_consent"),
    ("consent-required-pixel", "strict", "pixel", {}, {}, 0, "no_consent"),
    ("consent-required-with-consent", "strict", "beacon", {}, {"visitor_id": "k3j2h4g5"}, 1, None),
    ("consent-optional-without-consent", "ecloserie", "beacon", {}, {}, 1, None),
]


@pytest.mark.parametrize("site, kind, headers, extra, stored, reason", [c[1:] for c in PRIVACY_CASES],
                         ids=[c[0] for c in PRIVACY_CASES])
def test_dnt_gpc_and_consent_are_enforced_by_the_collector(site_db: Path, make_server: Any, site: str, kind: str,
                                                          headers: dict[str, str], extra: dict[str, str],
                                                          stored: int, reason: str | None) -> None:
    webleads("site", "add", "strict", "--origin", ORIGIN, "--consent", "required", db=site_db)
    srv = make_server(site_db)
    before = metrics(srv)
    if kind == "beacon":
        r = post(srv, {"site": site, "url": PAGE, **extra}, **headers)
        assert r.status_code == 204, r.text
    else:
        r = httpx.get(srv.url + "/p.gif", params={"site": site, "url": PAGE, "utm_source": "news", **extra},
                      headers={"User-Agent": CHROME, **headers})
        assert r.status_code == 200 and r.content.startswith(b"GIF89a")
        assert "x-webleads-reason" not in r.headers
    if reason:
        after = wait_for_count(srv, reason, dropped(before, reason) + 1)
        assert dropped(after, reason) == dropped(before, reason) + 1, after
    srv.stop()
    assert srv.query("SELECT count(*) FROM event_log") == [(stored,)]


def test_a_mixed_batch_keeps_only_the_consented_events(site_db: Path, make_server: Any) -> None:
    webleads("site", "add", "strict", "--origin", ORIGIN, "--consent", "required", db=site_db)
    srv = make_server(site_db)
    batch = [{"site": "strict", "url": PAGE, "event_id": "without"},
             {"site": "strict", "url": PAGE, "visitor_id": "k3j2h4g5", "event_id": "with"},
             {"site": "ecloserie", "url": PAGE, "event_id": "optional"}]
    assert post(srv, batch).status_code == 204
    srv.stop()
    assert srv.query("SELECT event_id, visitor_kind FROM event_log ORDER BY event_id") == [
        ("optional", "hash"), ("with", "consent")]


# --- finding 7: a bad value costs its own event, never a 500, never its neighbours -----------------
BAD_TIMES = ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00", "0001-01-01T00:30:00+00:45"]


@pytest.mark.parametrize("ts", BAD_TIMES)
def test_an_unrepresentable_time_is_a_400_for_a_beacon(server: Server, ts: str) -> None:
    r = post(server, {"site": "ecloserie", "url": PAGE, "ts": ts})
    assert r.status_code == 400, r.text
    assert r.headers["x-webleads-reason"] == "bad_ts" and r.json()["error"] == "bad_ts"
    pixel = httpx.get(server.url + "/p.gif", params={"site": "ecloserie"})
    assert pixel.status_code == 200
    assert "Traceback" not in server.log()


def test_an_unrepresentable_time_costs_only_its_own_api_event(server: Server) -> None:
    token = webleads("token", "create", db=server.db).stdout.strip()
    now = datetime.now().strftime("%Y-%m-%dT%H:%M:%SZ")
    events = [{"site": "ecloserie", "visitor_id": "crm-1", "type": "conversion", "name": "signed", "ts": now},
              {"site": "ecloserie", "visitor_id": "crm-2", "type": "conversion", "name": "signed", "ts": BAD_TIMES[0]},
              {"site": "ecloserie", "visitor_id": "crm-3", "type": "conversion", "name": "signed", "ts": BAD_TIMES[1]}]
    r = httpx.post(server.url + "/api/v1/events", json=events, headers={"Authorization": f"Bearer {token}"},
                   timeout=30)
    assert r.status_code == 200, r.text
    assert r.json()["accepted"] == 1 and r.json()["rejected"] == {"bad_ts": 2}
    assert "line 2" in r.json()["examples"]["bad_ts"]
    assert "Traceback" not in server.log()


def test_an_unrepresentable_time_costs_only_its_own_import_line(server: Server, tmp_path: Path) -> None:
    now = datetime.now().strftime("%Y-%m-%dT%H:%M:%SZ")
    lines = [{"ts": now, "site": "ecloserie", "visitor_id": "v1", "url": PAGE},
             {"ts": BAD_TIMES[0], "site": "ecloserie", "visitor_id": "v2", "url": PAGE},
             {"ts": now, "site": "ecloserie", "visitor_id": "v3", "url": PAGE}]
    path = tmp_path / "history.jsonl"
    path.write_bytes(b"\n".join(orjson.dumps(line) for line in lines) + b"\n")
    out = webleads("import", str(path), db=server.db).stdout
    assert "2 accepted" in out and "1 rejected" in out and "bad_ts" in out, out
    server.stop()
    assert server.query("SELECT visitor_id FROM events ORDER BY visitor_id") == [("v1",), ("v3",)]


YEARS = st.sampled_from([1, 2, 9998, 9999]) | st.integers(1, 9999)
ISO = st.builds(lambda y, mo, d, h, off: f"{y:04d}-{mo:02d}-{d:02d}T{h:02d}:00:00{off}",
                YEARS, st.integers(1, 12), st.integers(1, 28), st.integers(0, 23),
                st.sampled_from(["", "Z", "+01:00", "-01:00", "+23:59", "-23:59", "+00:45"]))
SCALARS = (st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=40)
           | st.text(alphabet="@%.4025abcxyz\uff20\ufe6b/?#&=", max_size=60))
VALUES = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=3)
                      | st.dictionaries(st.text(max_size=70), inner, max_size=4), max_leaves=8)
URLS = st.builds(lambda path: PAGE + path, st.text(max_size=80)) | st.sampled_from(
    ["https://[::1", "http://x:99999/", "https://x.test/#/a?utm_source=a%2540b.fr&x=1", "http://", "https:///"])
FIELDS = {
    "site": st.sampled_from(["ecloserie", "Nope", ""]) | VALUES,
    "type": st.sampled_from(["pageview", "conversion", "event"]) | VALUES,
    "name": st.text(max_size=130) | VALUES,
    "url": URLS | VALUES,
    "referrer": URLS | VALUES,
    "visitor_id": st.from_regex(r"[A-Za-z0-9_.:-]{1,70}", fullmatch=True) | VALUES,
    "event_id": st.from_regex(r"[A-Za-z0-9_.:-]{1,70}", fullmatch=True) | VALUES,
    "ts": ISO | st.integers() | st.floats() | VALUES,
    "props": st.dictionaries(st.text(max_size=70), SCALARS, max_size=32) | VALUES,
    "bot": VALUES,
    "user_agent": st.text(max_size=600) | VALUES,
}
EVENTS = st.fixed_dictionaries({}, optional=FIELDS)


@settings(max_examples=400, deadline=None)
@given(event=EVENTS)
@example(event={"site": "ecloserie", "ts": BAD_TIMES[0]})
@example(event={"site": "ecloserie", "ts": 10**400})
@example(event={"site": "ecloserie", "type": "event", "name": "x", "props": {"n": 2**64}})
@example(event={"site": "ecloserie", "visitor_id": "v1\n", "event_id": "e1\n"})
def test_fuzzed_fields_raise_only_rejected(event: dict[str, Any]) -> None:
    """Every field, any JSON value: validation and enrichment either refuse with a Rejected or return."""
    site = SiteConfig("ecloserie", (ORIGIN,), ("formation",))
    now = datetime(2026, 12, 4, 12)
    for ctx in (Context("203.0.113.9", CHROME, "beacon"), Context(None, None, "import")):
        try:
            ev = validate_event(event, IMPORT_KEYS if ctx.origin == "import" else frozenset(FIELDS) - {"user_agent"})
            if ev.ts is not None:
                check_time(ev.ts, now, 48 * 3600, 300)
        except Rejected:
            continue
        row = build_row(ev, site, ctx, now, b"s" * 16, Geo(None))
        orjson.dumps(row)  # what travels to the database process
        assert "\n" not in (ev.visitor_id or "") + (ev.event_id or "")


# --- finding 10: caches are bounded in bytes ------------------------------------------------------
def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError(f"no VmRSS for {pid}")


def front_pid(server: Server) -> int:
    assert server.proc is not None
    children = Path(f"/proc/{server.proc.pid}/task/{server.proc.pid}/children").read_text().split()
    fronts = [int(c) for c in children if b"webleads.collector.front" in Path(f"/proc/{c}/cmdline").read_bytes()]
    assert len(fronts) == 1, fronts
    return fronts[0]


def test_long_unique_addresses_do_not_grow_the_front(server: Server) -> None:
    pid = front_pid(server)
    filler = "x" * 1900

    def batch(start: int) -> list[dict[str, str]]:
        return [{"site": "ecloserie", "url": f"{PAGE}{i}/{filler}", "referrer": f"https://ref.test/{i}/{filler}"}
                for i in range(start, start + 15)]

    for i in range(0, 300, 15):  # warm up: the allocator's arenas, the first batches' buffers
        assert post(server, batch(i)).status_code == 204
    before = rss_kib(pid)
    with httpx.Client(headers={"Origin": ORIGIN, "Content-Type": "text/plain", "User-Agent": CHROME},
                      timeout=30) as client:
        for i in range(1000, 5500, 15):
            assert client.post(server.url + "/e", content=orjson.dumps(batch(i))).status_code == 204
    grown = rss_kib(pid) - before
    # 4,500 events with two unique 2 KB addresses each: cached, they held about 50 MB.
    assert grown < 12 * 1024, f"the front grew by {grown / 1024:.0f} MB"


def test_clean_url_does_not_cache_long_addresses() -> None:
    from webleads.collector import enrich

    before = enrich.clean_url_cache_bytes()
    for i in range(200):
        clean_url(f"{PAGE}{i}/" + "y" * 1500)
    assert enrich.clean_url_cache_bytes() == before
    short = clean_url(PAGE + "short?utm_source=a")
    assert clean_url(PAGE + "short?utm_source=a") is short
    assert enrich.clean_url_cache_bytes() <= enrich.CLEAN_URL_CACHE_BYTES


def test_an_unforeseen_failure_costs_only_its_own_import_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                              caplog: pytest.LogCaptureFixture) -> None:
    """Defence in depth: if enrichment ever raises on a value validation let through, the batch goes on."""
    from webleads.collector import batch
    from webleads.collector.registry import Registry
    from webleads.collector.store import Store

    real = batch.build_row

    def fragile(ev: Any, *args: Any) -> Any:
        if ev.visitor_id == "v2":
            raise UnicodeEncodeError("utf-8", "x", 0, 1, "a value nobody foresaw")
        return real(ev, *args)

    monkeypatch.setattr(batch, "build_row", fragile)
    store = Store(str(tmp_path / "i.duckdb"))
    try:
        Registry(store).add_site("ecloserie", [ORIGIN])
        records = [(i, {"site": "ecloserie", "url": PAGE, "visitor_id": f"v{i}"}) for i in (1, 2, 3)]
        result = batch.ingest_records(store, Registry(store), records, "import")
        assert (result.accepted, dict(result.rejected)) == (2, {"bad_value": 1})
        assert result.examples["bad_value"].startswith("line 2:")
        assert sum("could not be validated or enriched" in r.message for r in caplog.records) == 1
    finally:
        store.close()
