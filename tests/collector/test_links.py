"""Short links and QR codes (`webleads link`, `/r/CODE`) through the real command and a real
`webleads serve`; the QR code read back by zbarimg as a phone would; the Offline channel."""

from __future__ import annotations

import csv
import io
import shutil
import subprocess
import time
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from conftest import ORIGIN, Server, webleads

BROWSER = ("Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
           "Chrome/131.0.0.0 Mobile Safari/537.36")
POSTER = ("link", "add", "affiche-mairie", "--to", ORIGIN + "/portes-ouvertes?lang=fr#programme",
          "--utm-source", "mairie", "--utm-medium", "affiche", "--utm-campaign", "portes-ouvertes")


def test_link_mistakes_are_one_line_errors(site_db: Path) -> None:
    webleads(*POSTER, db=site_db)
    base = ["--utm-source", "s", "--utm-medium", "m", "--utm-campaign", "c"]
    cases = [
        (POSTER, "is taken already"),
        (("link", "add", "no way!", "--to", ORIGIN + "/", *base), "letters, digits"),
        (("link", "add", "x" * 33, "--to", ORIGIN + "/", *base), "1 to 32"),
        (("link", "add", "evil", "--to", "https://phishing.example/", *base), "not on the site's origins"),
        (("link", "add", "js", "--to", "javascript:alert(1)", *base), "must be an http(s) address"),
        (("link", "add", "blank", "--to", ORIGIN + "/", "--utm-source", " ", "--utm-medium", "m",
          "--utm-campaign", "c"), "--utm-source is required"),
        (("link", "add", "nosite", "--to", ORIGIN + "/", "--site", "nope", *base), "no site named 'nope'"),
        (("link", "qr", "missing", "--out", "x.png"), "no short link 'missing'"),
        (("link", "qr", "affiche-mairie", "--out", "x.pdf"), "give a .png or .svg"),
    ]
    for args, words in cases:
        result = webleads(*args, db=site_db, check=False)
        assert result.returncode == 1 and words in result.stderr, (args, result.stderr)
        assert "Traceback" not in result.stderr
    # elsewhere on purpose
    webleads("link", "add", "partenaire", "--to", "https://partner.example/agenda", "--any-target", *base, db=site_db)


def test_a_scan_redirects_with_the_tags_and_counts_people_not_bots(server: Server) -> None:
    out = webleads(*POSTER, db=server.db).stdout
    assert out.splitlines()[0] == f"{server.url}/r/affiche-mairie"
    answer = httpx.get(server.url + "/r/affiche-mairie", headers={"User-Agent": BROWSER}, timeout=10)
    assert answer.status_code == 302 and answer.headers["cache-control"] == "no-store"
    target = urlsplit(answer.headers["location"])
    assert (target.scheme + "://" + target.netloc, target.path, target.fragment) == (ORIGIN, "/portes-ouvertes",
                                                                                       "programme")
    assert parse_qs(target.query) == {"lang": ["fr"], "utm_source": ["mairie"], "utm_medium": ["affiche"],
                                      "utm_campaign": ["portes-ouvertes"]}
    httpx.get(server.url + "/r/affiche-mairie", headers={"User-Agent": "Googlebot/2.1"}, timeout=10)
    httpx.get(server.url + "/r/affiche-mairie", headers={"User-Agent": BROWSER, "Sec-GPC": "1"}, timeout=10)
    unknown = httpx.get(server.url + "/r/nope", timeout=10)
    assert unknown.status_code == 404 and "location" not in unknown.headers and "Lien inconnu" in unknown.text
    hostile = httpx.get(server.url + "/r/%3Cscript%3E", timeout=10)
    assert hostile.status_code == 404 and "<script>" not in hostile.text

    # the visit lands with the tags (same phone), then applies
    landing = target.geturl()
    for event in ({"site": "ecloserie", "url": landing},
                  {"site": "ecloserie", "type": "conversion", "name": "candidater", "url": ORIGIN + "/candidater"}):
        sent = httpx.post(server.url + "/e", json=event, headers={"Origin": ORIGIN, "User-Agent": BROWSER},
                          timeout=10)
        assert sent.status_code == 204
    rows = list(csv.DictReader(io.StringIO(webleads("link", "list", "--format", "csv", db=server.db).stdout)))
    assert [(r["code"], r["scans"], r["visitors"], r["conversions"]) for r in rows] == [
        ("affiche-mairie", "1", "1", "1")]
    with_bots = webleads("link", "list", "--format", "csv", "--include-bots", db=server.db).stdout
    assert list(csv.DictReader(io.StringIO(with_bots)))[0]["scans"] == "2"
    channels = webleads("report", "attribution", "--model", "last_touch", "--format", "csv", db=server.db).stdout
    assert "Offline,1.0" in channels
    server.stop()
    assert server.query("SELECT count(*), count(*) FILTER (WHERE is_bot) FROM link_scans") == [(2, 1)]
    scanned = server.query("SELECT visitor_id FROM link_scans WHERE NOT is_bot")[0][0]
    landed = server.query("SELECT DISTINCT visitor_id FROM event_log")
    assert landed == [(scanned,)]  # one person: the scan and the visit share the day's visitor hash


@pytest.mark.skipif(shutil.which("zbarimg") is None, reason="zbar-tools is not installed (apt-get install zbar-tools)")
def test_the_qr_code_reads_back_as_the_short_link(site_db: Path, tmp_path: Path) -> None:
    webleads(*POSTER, db=site_db)
    png, svg = tmp_path / "affiche.png", tmp_path / "affiche.svg"
    collector = "https://stats.ecloserie.test"
    webleads("link", "qr", "affiche-mairie", "--out", str(png), "--collector", collector, db=site_db)
    webleads("link", "qr", "affiche-mairie", "--out", str(svg), "--collector", collector, db=site_db)
    read = subprocess.run(["zbarimg", "--raw", "-q", str(png)], capture_output=True, text=True, timeout=60)
    assert read.stdout.strip() == f"{collector}/r/affiche-mairie"
    width = int.from_bytes(png.read_bytes()[16:20], "big")  # the PNG header's width
    assert width >= 1200
    assert svg.read_text().startswith("<?xml") and "<svg" in svg.read_text()


def test_scans_are_written_soon_and_at_shutdown(server: Server) -> None:
    webleads(*POSTER, db=server.db)
    for _ in range(5):
        assert httpx.get(server.url + "/r/affiche-mairie", headers={"User-Agent": BROWSER},
                         timeout=10).status_code == 302
    time.sleep(0.2)
    server.stop()
    assert server.query("SELECT count(*) FROM link_scans") == [(5,)]
