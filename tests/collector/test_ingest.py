"""Events posted and pixels fetched arrive in the DuckDB file with their enrichment."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from webleads.collector.enrich import bot_pattern

from conftest import ORIGIN, Server, webleads
from support import CHROME, make_mmdb

IPHONE = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
          "Version/17.5 Mobile/15E148 Safari/604.1")


def post(server: Server, body: str, **headers: str) -> httpx.Response:
    hdrs = {"Origin": ORIGIN, "Content-Type": "text/plain", "User-Agent": CHROME, **headers}
    return httpx.post(server.url + "/e", content=body, headers=hdrs)


def test_beacon_is_stored_with_its_enrichment(server: Server) -> None:
    body = ('{"site":"ecloserie","url":"https://www.ecloserie.test/formation?utm_source=Newsletter'
            '&utm_medium=email&utm_campaign=nov&secret=1&gclid=abc#top","referrer":"https://www.google.fr/search?q=x"}')
    assert post(server, body).status_code == 204
    server.stop()
    rows = server.query("SELECT url, path, referrer, referrer_domain, utm_source, utm_medium, utm_campaign, "
                        "click_id, click_id_type, browser, os, device, is_bot, type, origin FROM events")
    assert rows == [("https://www.ecloserie.test/formation?utm_source=Newsletter&utm_medium=email"
                     "&utm_campaign=nov&gclid=abc", "/formation", "https://www.google.fr/search",
                     "google.fr", "Newsletter", "email", "nov", "abc", "gclid", "Chrome", "Windows",
                     "desktop", False, "pageview", "beacon")]


def test_batch_of_events_with_conversion_props_and_mobile_device(server: Server) -> None:
    body = ('[{"site":"ecloserie","url":"https://www.ecloserie.test/candidater"},'
            '{"site":"ecloserie","type":"conversion","name":"candidater","url":"https://www.ecloserie.test/candidater",'
            '"props":{"formation":"dev-web","contact":"marie@example.org"}},'
            '{"site":"ecloserie","type":"event","name":"video_play","url":"https://www.ecloserie.test/"}]')
    assert post(server, body, **{"User-Agent": IPHONE}).status_code == 204
    server.stop()
    rows = server.query("SELECT type, name, props, device, os FROM events ORDER BY type")
    assert rows == [
        ("conversion", "candidater", '{"formation":"dev-web","contact":"(redacted)"}', "mobile", "iOS"),
        ("event", "video_play", None, "mobile", "iOS"),
        ("pageview", None, None, "mobile", "iOS"),
    ]
    visitors = server.query("SELECT count(DISTINCT visitor_id), min(visitor_kind) FROM event_log")
    assert visitors == [(1, "hash")]


def test_pixel_reads_campaign_parameters_and_answers_the_gif(server: Server) -> None:
    r = httpx.get(server.url + "/p.gif", params={"site": "ecloserie", "utm_source": "newsletter",
                                                 "utm_medium": "email", "utm_campaign": "rentree", "fbclid": "F1"},
                  headers={"User-Agent": CHROME})
    assert r.status_code == 200
    assert r.headers["content-type"] == "image/gif" and len(r.content) == 43 and r.content.startswith(b"GIF89a")
    bad = httpx.get(server.url + "/p.gif", params={"site": "nope"})
    assert bad.status_code == 400 and bad.content.startswith(b"GIF89a")
    assert bad.headers["x-webleads-reason"] == "unknown_site"
    server.stop()
    assert server.query("SELECT url, utm_source, utm_medium, utm_campaign, click_id, click_id_type, origin "
                        "FROM events") == [(None, "newsletter", "email", "rentree", "F1", "fbclid", "pixel")]


def test_pixel_uses_the_referer_as_page_and_records_conversions(server: Server) -> None:
    r = httpx.get(server.url + "/p.gif?site=ecloserie&type=conversion&name=visite",
                  headers={"Referer": ORIGIN + "/merci?utm_source=flyer&email=a@b.fr", "User-Agent": CHROME})
    assert r.status_code == 200
    server.stop()
    assert server.query("SELECT type, name, url, utm_source FROM events") == [
        ("conversion", "visite", ORIGIN + "/merci?utm_source=flyer", "flyer")]


def test_retried_event_id_is_acknowledged_but_stored_once(server: Server) -> None:
    body = '{"site":"ecloserie","url":"https://www.ecloserie.test/","event_id":"evt-123"}'
    assert post(server, body).status_code == 204
    assert post(server, body).status_code == 204
    assert post(server, f"[{body},{body}]").status_code == 204
    server.stop()
    assert server.query("SELECT count(*) FROM events WHERE event_id = 'evt-123'") == [(1,)]


@pytest.mark.parametrize("ua, reason", [
    ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/131.0.0.0 "
     "Safari/537.36", "headless"),
    ("curl/8.5.0", "user-agent pattern"),
    ("Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", "user-agent pattern"),
    ("Mozilla/5.0 (compatible; UptimeRobot/2.0; http://www.uptimerobot.com/)", "user-agent pattern"),
    (CHROME, "automation hint from the snippet"),
], ids=["headless", "curl", "googlebot", "uptimerobot", "hint"])
def test_bots_are_flagged_not_dropped(server: Server, ua: str, reason: str) -> None:
    hint = ',"bot":true' if ua == CHROME else ""
    assert post(server, '{"site":"ecloserie","url":"https://www.ecloserie.test/"%s}' % hint,
                **{"User-Agent": ua}).status_code == 204
    server.stop()
    if reason == "user-agent pattern":  # the reason names the rule of isbot's list that matched
        reason += " " + str(bot_pattern(ua))
    assert server.query("SELECT is_bot, device, bot_reason FROM event_log") == [(True, "bot", reason)]


def test_consented_visitor_id_is_kept_and_hashes_are_per_visitor(server: Server) -> None:
    page = '{"site":"ecloserie","url":"https://www.ecloserie.test/"%s}'
    post(server, page % ',"visitor_id":"k3j2h4g5f6d7s8a9"')
    post(server, page % "")
    post(server, page % "")
    post(server, page % "", **{"User-Agent": IPHONE})
    server.stop()
    rows = server.query("SELECT visitor_kind, count(DISTINCT visitor_id), count(*) FROM event_log "
                        "GROUP BY ALL ORDER BY 1")
    assert rows == [("consent", 1, 1), ("hash", 2, 3)]
    assert server.query("SELECT visitor_id FROM event_log WHERE visitor_kind = 'consent'") == [("k3j2h4g5f6d7s8a9",)]


def test_geoip_and_trusted_proxy(tmp_path: Path, site_db: Path, make_server) -> None:  # type: ignore[no-untyped-def]
    mmdb = make_mmdb(tmp_path / "city.mmdb")
    srv = make_server(site_db, "--geoip", str(mmdb), "--trusted-proxy", "127.0.0.1")
    body = '{"site":"ecloserie","url":"https://www.ecloserie.test/","event_id":"%s"}'
    assert post(srv, body % "fr", **{"X-Forwarded-For": "10.0.0.1, 203.0.113.9"}).status_code == 204
    assert post(srv, body % "be", **{"X-Forwarded-For": "198.51.100.20"}).status_code == 204
    assert post(srv, body % "none").status_code == 204
    srv.stop()
    assert srv.query("SELECT event_id, country, region, city FROM events ORDER BY event_id") == [
        ("be", "BE", None, None), ("fr", "FR", "Auvergne-Rhône-Alpes", "Lyon"), ("none", None, None, None)]


def test_forwarded_for_is_ignored_from_untrusted_peers(tmp_path: Path, site_db: Path, make_server) -> None:  # type: ignore[no-untyped-def]
    mmdb = make_mmdb(tmp_path / "city.mmdb")
    srv = make_server(site_db, "--geoip", str(mmdb))
    assert post(srv, '{"site":"ecloserie","url":"https://www.ecloserie.test/"}',
                **{"X-Forwarded-For": "203.0.113.9"}).status_code == 204
    srv.stop()
    assert srv.query("SELECT country FROM events") == [(None,)]


def test_allow_listed_parameters_are_kept(db_path: Path, make_server) -> None:  # type: ignore[no-untyped-def]
    webleads("site", "add", "ecloserie", "--origin", ORIGIN, "--allow-param", "formation", db=db_path)
    srv = make_server(db_path)
    assert post(srv, '{"site":"ecloserie","url":"https://www.ecloserie.test/p?formation=dev&nom=Dupont"}'
                ).status_code == 204
    srv.stop()
    assert srv.query("SELECT url FROM events") == [("https://www.ecloserie.test/p?formation=dev",)]


def test_cors_preflight_and_headers(server: Server) -> None:
    ok = httpx.options(server.url + "/e", headers={"Origin": ORIGIN, "Access-Control-Request-Method": "POST"})
    assert ok.status_code == 204 and ok.headers["access-control-allow-origin"] == ORIGIN
    other = httpx.options(server.url + "/e", headers={"Origin": "https://evil.test"})
    assert other.status_code == 403 and "access-control-allow-origin" not in other.headers
    r = post(server, '{"site":"ecloserie","url":"https://www.ecloserie.test/"}')
    assert r.headers["access-control-allow-origin"] == ORIGIN


def test_snippet_is_served_with_caching_headers(server: Server) -> None:
    r = httpx.get(server.url + "/s.js")
    assert r.status_code == 200 and "javascript" in r.headers["content-type"]
    assert "max-age" in r.headers["cache-control"] and r.content
    again = httpx.get(server.url + "/s.js", headers={"If-None-Match": r.headers["etag"]})
    assert again.status_code == 304


def test_root_page_says_what_to_do_next_and_health_answers(server: Server) -> None:
    page = httpx.get(server.url + "/")
    assert page.status_code == 200
    for words in ("webleads site add", "webleads token create", "/dashboard", 'data-site=&quot;ecloserie&quot;'):
        assert words in page.text
    health = httpx.get(server.url + "/healthz").json()
    assert health["status"] == "ok" and health["sites"] == 1
    missing = httpx.get(server.url + "/nothing-here")
    assert missing.status_code == 404 and missing.json()["error"] == "not_found"
