"""Events posted and pixels fetched arrive in the DuckDB file with their enrichment."""

from __future__ import annotations

import httpx

from conftest import ORIGIN, Server

CHROME = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
          "Chrome/131.0.0.0 Safari/537.36")


def post(server: Server, body: str, **headers: str) -> httpx.Response:
    hdrs = {"Origin": ORIGIN, "Content-Type": "text/plain", "User-Agent": CHROME, **headers}
    return httpx.post(server.url + "/e", content=body, headers=hdrs)


def test_beacon_is_stored_with_its_enrichment(server: Server) -> None:
    body = ('{"site":"ecloserie","url":"https://www.ecloserie.test/formation?utm_source=Newsletter'
            '&utm_medium=email&utm_campaign=nov&secret=1&gclid=abc#top","referrer":"https://www.google.fr/search?q=x"}')
    assert post(server, body).status_code == 204
    server.stop()
    rows = server.query("SELECT url, path, referrer, referrer_domain, utm_source, utm_medium, utm_campaign, "
                        "click_id, click_id_type, browser, os, device, is_bot, type FROM events")
    assert rows == [("https://www.ecloserie.test/formation?utm_source=Newsletter&utm_medium=email"
                     "&utm_campaign=nov&gclid=abc", "/formation", "https://www.google.fr/search",
                     "google.fr", "Newsletter", "email", "nov", "abc", "gclid", "Chrome", "Windows",
                     "desktop", False, "pageview")]
