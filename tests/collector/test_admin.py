"""Administration commands: change a site's origins, remove a site, list and revoke tokens, and the
demo kept on a site of its own. Through the real `webleads` command, on a file and through a running
collector."""

from __future__ import annotations

import time
from pathlib import Path

import httpx

from conftest import ORIGIN, Server, webleads


def beacon(server: Server, site: str, origin: str) -> httpx.Response:
    return httpx.post(server.url + "/e", content=f'{{"site":"{site}","url":"{origin}/"}}', headers={"Origin": origin},
                      timeout=10)


def test_site_set_changes_origins_and_the_collector_applies_them_at_once(server: Server) -> None:
    other = "https://ecloserie.test"
    assert beacon(server, "ecloserie", other).headers.get("x-webleads-reason") == "origin_not_allowed"
    out = webleads("site", "set", "ecloserie", "--add-origin", other, db=server.db).stdout
    assert f"{other}, {ORIGIN}" in out
    assert beacon(server, "ecloserie", other).status_code == 204
    webleads("site", "set", "ecloserie", "--remove-origin", ORIGIN, db=server.db)
    assert beacon(server, "ecloserie", ORIGIN).status_code == 403
    webleads("site", "set", "ecloserie", "--origin", ORIGIN, db=server.db)  # replaces them all
    assert webleads("site", "list", db=server.db).stdout.split() == ["ecloserie", ORIGIN]
    assert beacon(server, "ecloserie", other).status_code == 403


def test_site_set_refuses_mistakes_in_one_line(site_db: Path) -> None:
    cases = [
        (("site", "set", "ecloserie", "--remove-origin", ORIGIN), "no origin left"),
        (("site", "set", "ecloserie", "--remove-origin", "https://elsewhere.test"), "has no origin"),
        (("site", "set", "missing", "--add-origin", ORIGIN), "no site named 'missing'"),
        (("site", "set", "ecloserie", "--add-origin", "ftp://x.test"), "is not of the form"),
    ]
    for args, words in cases:
        result = webleads(*args, db=site_db, check=False)
        assert result.returncode == 1 and words in result.stderr, (args, result.stderr)
        assert "Traceback" not in result.stderr
    assert webleads("site", "list", db=site_db).stdout.split() == ["ecloserie", ORIGIN]


def test_site_remove_refuses_beacons_and_purges_only_when_confirmed(server: Server) -> None:
    assert beacon(server, "ecloserie", ORIGIN).status_code == 204
    refused = webleads("site", "remove", "ecloserie", "--purge-events", db=server.db, check=False)
    assert refused.returncode == 1 and "delete the 1 event(s)" in refused.stderr and "--yes" in refused.stderr
    kept = webleads("site", "remove", "ecloserie", db=server.db).stdout
    assert "removed" in kept and "1 event(s) stay" in kept
    assert beacon(server, "ecloserie", ORIGIN).headers.get("x-webleads-reason") == "unknown_site"
    # the events of a site removed before can still be deleted, once confirmed
    gone = webleads("site", "remove", "ecloserie", "--purge-events", "--yes", db=server.db).stdout
    assert "with its 1 event(s)" in gone
    server.stop()
    assert server.query("SELECT count(*) FROM event_log") == [(0,)]
    assert server.query("SELECT count(*) FROM sites") == [(0,)]


def test_tokens_are_listed_without_secret_and_revoked(server: Server) -> None:
    first = webleads("token", "create", "--name", "coordination", db=server.db).stdout.strip()
    second = webleads("token", "create", "--name", "benevole", db=server.db).stdout.strip()
    report = server.url + "/api/v1/reports/leads"
    assert httpx.get(report, headers={"Authorization": f"Bearer {first}"}, timeout=30).status_code == 200
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:  # the last use is written in the background
        listed = webleads("token", "list", db=server.db).stdout
        if "never" in listed.splitlines()[1] or "coordination" not in listed.splitlines()[1]:
            time.sleep(0.2)
            continue
        break
    lines = listed.splitlines()
    assert "coordination" in lines[1] and "never" not in lines[1], listed
    assert "benevole" in lines[2] and lines[2].rstrip().endswith("never"), listed
    assert first not in listed and second not in listed
    token_id = lines[1].split()[0]
    assert webleads("token", "revoke", token_id, db=server.db).stdout.startswith(f"Token {token_id} (coordination)")
    assert httpx.get(report, headers={"Authorization": f"Bearer {first}"}, timeout=30).status_code == 401
    assert httpx.get(report, headers={"Authorization": f"Bearer {second}"}, timeout=30).status_code == 200
    webleads("token", "create", "--name", "benevole", db=server.db)
    ambiguous = webleads("token", "revoke", "benevole", db=server.db, check=False)
    assert ambiguous.returncode == 1 and "2 tokens are named 'benevole'" in ambiguous.stderr
    unknown = webleads("token", "revoke", "nope", db=server.db, check=False)
    assert unknown.returncode == 1 and "no token" in unknown.stderr


def test_demo_writes_to_its_own_site_and_is_removed_whole(site_db: Path) -> None:
    out = webleads("demo", "--visitors", "40", db=site_db).stdout
    assert "site 'demo'" in out and "webleads demo --remove" in out
    refused = webleads("demo", "--site", "ecloserie", db=site_db, check=False)
    assert refused.returncode == 1 and "real site" in refused.stderr
    with_server = Server(db=site_db, port=0)
    assert with_server.query("SELECT DISTINCT site FROM event_log") == [("demo",)]
    assert with_server.query("SELECT name, demo FROM sites ORDER BY name") == [("demo", True), ("ecloserie", False)]
    loop = ("SELECT (SELECT count(*) FROM short_links), (SELECT count(*) FROM link_scans), "
            "(SELECT count(*) FROM campaign_costs), (SELECT count(*) FROM lead_outcomes)")
    assert all(n > 0 for n in with_server.query(loop)[0][:3])  # 40 visitors may give no outcome
    removed = webleads("demo", "--remove", db=site_db).stdout
    assert "Demo site 'demo' removed" in removed
    assert with_server.query("SELECT count(*) FROM event_log") == [(0,)]
    assert with_server.query(loop) == [(0, 0, 0, 0)]
    assert with_server.query("SELECT name FROM sites") == [("ecloserie",)]
    again = webleads("demo", "--remove", db=site_db, check=False)
    assert again.returncode == 1 and "nothing to remove" in again.stderr
