"""Operations: retention purge, backup and restore under load, /metrics, privacy notice, doctor,
opt-out page."""

from __future__ import annotations

import threading
from datetime import datetime
from pathlib import Path

import duckdb
import httpx

from webleads.collector import ops
from webleads.collector.enrich import bot_pattern
from webleads.collector.journal import Journal
from webleads.collector.registry import Registry
from webleads.collector.rows import COLUMN_NAMES
from webleads.collector.store import EVENT_COLUMNS, Store

from conftest import ORIGIN, Server, webleads
from support import CHROME, make_mmdb, metric, pixel_load, run_async


def row(event_id: str, ts: datetime, site: str = "ecloserie") -> tuple[object, ...]:
    values: dict[str, object] = {name: None for name, _ in EVENT_COLUMNS}
    values.update(event_id=event_id, received_at=ts, ts=ts, site=site, type="pageview", visitor_id="v",
                  visitor_kind="import", is_bot=False, origin="import")
    return tuple(values[name] for name, _ in EVENT_COLUMNS)


def test_purge_removes_only_events_past_retention(tmp_path: Path) -> None:
    store = Store(str(tmp_path / "p.duckdb"))
    try:
        registry = Registry(store)
        registry.add_site("ecloserie", [ORIGIN])
        registry.add_site("fablab", ["https://fablab.test"], retention_months=13)
        now = datetime(2028, 6, 15, 12, 0)
        store.write([row("m24", datetime(2026, 6, 16, 12, 0)), row("m26", datetime(2026, 4, 15, 12, 0)),
                     row("m25-edge", datetime(2026, 5, 15, 12, 0, 1)), row("new", datetime(2028, 6, 1)),
                     row("f12", datetime(2027, 7, 1), "fablab"), row("f14", datetime(2027, 4, 1), "fablab")])
        assert ops.purge(store, 25, now=now, dry_run=True) == {"ecloserie": 1, "fablab": 1}
        assert store.query("SELECT count(*) AS n FROM event_log")[0]["n"] == 6
        assert ops.purge(store, 25, now=now) == {"ecloserie": 1, "fablab": 1}
        left = {r["event_id"] for r in store.query("SELECT event_id FROM event_log")}
        assert left == {"m24", "m25-edge", "new", "f12"}
        # the purge ends with a checkpoint that merges the row groups: nothing is left in the log
        wal = tmp_path / "p.duckdb.wal"
        assert not wal.exists() or wal.stat().st_size == 0
        assert ops.purge(store, 25, now=now) == {}
    finally:
        store.close()


def test_outcomes_age_out_with_their_leads(tmp_path: Path) -> None:
    store = Store(str(tmp_path / "o.duckdb"))
    try:
        Registry(store).add_site("ecloserie", [ORIGIN])
        old, recent = row("lead-old", datetime(2026, 4, 15, 12, 0)), row("lead-new", datetime(2028, 6, 1))
        kind = [name for name, _ in EVENT_COLUMNS].index("type")
        store.write([r[:kind] + ("conversion",) + r[kind + 1:] for r in (old, recent)])
        store.run_write(lambda conn: conn.execute(
            "INSERT INTO lead_outcomes VALUES ('lead-old', 'inscrit', 100, TIMESTAMP '2026-05-01', "
            "TIMESTAMP '2026-05-01', 'import'), ('lead-new', 'inscrit', 200, TIMESTAMP '2028-06-02', "
            "TIMESTAMP '2028-06-02', 'dashboard')"))
        assert ops.purge(store, 25, now=datetime(2028, 6, 15, 12, 0)) == {"ecloserie": 1}
        assert [r["lead_id"] for r in store.query("SELECT lead_id FROM lead_outcomes")] == ["lead-new"]
    finally:
        store.close()


def test_purge_command_through_the_cli(site_db: Path) -> None:
    out = webleads("purge", "--dry-run", db=site_db).stdout
    assert "Nothing to purge" in out


def test_backup_while_pixels_arrive_then_restore(server: Server, tmp_path: Path) -> None:
    results: list[set[str]] = []
    loader = threading.Thread(target=lambda: results.append(run_async(pixel_load(server.url, 1500, 10))))
    loader.start()
    try:
        backup_file = tmp_path / "backups" / "copy.duckdb"
        for _ in range(100):
            if httpx.get(server.url + "/healthz").json()["events_committed"] >= 200:
                break
        out = webleads("backup", str(backup_file), db=server.db).stdout
    finally:
        loader.join()
    backed_up = int(out.split("(")[1].split(" events")[0])
    assert backed_up >= 200 and backup_file.exists()
    again = webleads("backup", str(backup_file), db=server.db, check=False)
    assert again.returncode == 1 and "exists already" in again.stderr
    running = webleads("restore", str(backup_file), db=server.db, check=False)
    assert running.returncode == 1 and "stop it" in running.stderr
    server.stop()
    total = server.query("SELECT count(*) FROM event_log")[0][0]
    assert total >= len(results[0]) >= backed_up
    restored_db = tmp_path / "restored.duckdb"
    out = webleads("restore", str(backup_file), db=restored_db).stdout
    assert f"Restored {backed_up} events" in out
    with duckdb.connect(str(restored_db), read_only=True) as conn:
        names = {n for (n,) in conn.execute("SELECT name FROM event_log").fetchall()}
        assert len(names) == backed_up
        assert conn.execute("SELECT name FROM sites").fetchall() == [("ecloserie",)]
    with duckdb.connect(str(server.db), read_only=True) as conn:
        final = {n for (n,) in conn.execute("SELECT name FROM event_log").fetchall()}
    assert names <= final  # the backup is a consistent prefix of what the collector stored
    # Restored in place of a database whose journal still holds events (left by a crash): they
    # belong to the old database and go aside with it.
    stale = Journal(str(server.db) + ".journal", COLUMN_NAMES)
    stale.append([row("stale", datetime(2026, 11, 1))])
    stale.seal()
    out = webleads("restore", str(backup_file), db=server.db).stdout
    assert not Path(str(server.db) + ".journal").exists()
    kept = [p.name for p in tmp_path.iterdir() if ".before-restore-" in p.name]
    assert any(name.endswith(".journal") for name in kept), kept
    store = Store(str(server.db))
    try:
        assert store.recovered_from_journal == 0
        assert store.query("SELECT count(*) AS n FROM event_log") == [{"n": backed_up}]
    finally:
        store.close()


def test_metrics_move_with_accepted_rejected_and_bots(server: Server) -> None:
    before = httpx.get(server.url + "/metrics").text
    page = '{"site":"ecloserie","url":"https://www.ecloserie.test/"}'
    headers = {"Origin": ORIGIN, "Content-Type": "text/plain", "User-Agent": CHROME}
    assert httpx.post(server.url + "/e", content=page, headers=headers).status_code == 204
    assert httpx.post(server.url + "/e", content=page, headers={**headers, "User-Agent": "curl/8"}).status_code == 204
    assert httpx.post(server.url + "/e", content="{", headers=headers).status_code == 400
    assert httpx.post(server.url + "/e", content='{"site":"zz"}', headers=headers).status_code == 400
    after = httpx.get(server.url + "/metrics").text
    assert metric(after, "webleads_events_accepted_total") - metric(before, "webleads_events_accepted_total") == 2
    assert metric(after, "webleads_bots_flagged_total") - metric(before, "webleads_bots_flagged_total") == 1
    assert metric(after, 'webleads_events_rejected_total{reason="bad_json"}') == 1
    assert metric(after, 'webleads_events_rejected_total{reason="unknown_site"}') == 1
    assert metric(after, "webleads_database_bytes") > 0
    assert "# TYPE webleads_queue_depth gauge" in after
    # every batch falls in the histogram's last bucket, and in no fewer buckets as they widen
    batches = metric(after, "webleads_commit_duration_seconds_count")
    assert batches >= 2 and metric(after, 'webleads_commit_duration_seconds_bucket{le="+Inf"}') == batches
    buckets = [metric(after, f'webleads_commit_duration_seconds_bucket{{le="{b}"}}') for b in (0.005, 0.05, 1.0)]
    assert buckets == sorted(buckets) and buckets[-1] >= 1
    assert metric(after, "webleads_commit_duration_seconds_sum") > 0
    assert "# TYPE webleads_idle_checkpoints_total counter" in after
    # relayed by a proxy: not local any more, a token is needed
    relayed = httpx.get(server.url + "/metrics", headers={"X-Forwarded-For": "198.51.100.7"})
    assert relayed.status_code == 401
    token = webleads("token", "create", db=server.db).stdout.strip()
    with_token = httpx.get(server.url + "/metrics", headers={"X-Forwarded-For": "198.51.100.7",
                                                             "Authorization": f"Bearer {token}"})
    assert with_token.status_code == 200 and "webleads_events_accepted_total" in with_token.text


def test_privacy_notice_follows_the_configuration(db_path: Path, tmp_path: Path) -> None:
    webleads("site", "add", "ecloserie", "--origin", ORIGIN, db=db_path)
    fr = webleads("privacy-notice", "--site", "ecloserie", db=db_path).stdout
    assert "25 mois" in fr and "rien n'est déposé sur votre appareil" in fr
    assert "Aucune localisation" in fr and "13 mois" in fr and "/opt-out?site=ecloserie" in fr
    webleads("site", "set", "ecloserie", "--consent", "required", "--retention-months", "13", db=db_path)
    mmdb = make_mmdb(tmp_path / "city.mmdb")
    changed = webleads("privacy-notice", "--site", "ecloserie", db=db_path,
                       env={"WEBLEADS_GEOIP": str(mmdb)}).stdout
    assert changed != fr
    assert "conservées 13 mois" in changed and "Avant votre consentement, rien n'est envoyé" in changed
    assert "votre région et votre ville" in changed
    en = webleads("privacy-notice", "--site", "ecloserie", "--lang", "en", db=db_path).stdout
    assert "kept for 13 months" in en and "Before you consent, nothing is sent" in en
    tag = webleads("snippet", "ecloserie", db=db_path).stdout
    assert 'data-consent="required"' in tag


def test_doctor_says_what_is_wrong(db_path: Path, tmp_path: Path) -> None:
    webleads("site", "add", "ecloserie", "--origin", "https://www.ecloserie.invalid", db=db_path)
    result = webleads("doctor", db=db_path, check=False, env={"WEBLEADS_GEOIP": str(tmp_path / "GeoLite2.mmdb")})
    assert result.returncode == 1
    out = result.stdout
    assert "[FAIL] configuration: setting 'geoip': no file at" in out
    assert "download a GeoLite2 or DB-IP Lite .mmdb file" in out
    assert "origin(s) https://www.ecloserie.invalid cannot be found in the DNS" in out
    assert "no API token" in out and "1 problem(s) found." in out
    webleads("token", "create", db=db_path)
    fine = webleads("doctor", "--offline", db=db_path, check=False)
    assert fine.returncode == 0 and "All checks passed." in fine.stdout


def test_doctor_and_opt_out_through_the_running_collector(server: Server) -> None:
    out = webleads("doctor", "--offline", db=server.db, check=False).stdout
    assert "collector running" in out and "site ecloserie: 1 origin(s)" in out
    page = httpx.get(server.url + "/opt-out?site=ecloserie")
    assert page.status_code == 200
    assert f'href="{ORIGIN}/#webleads_ignore"' in page.text


def test_imported_and_api_events_without_user_agent_are_not_bots(tmp_path: Path) -> None:
    from webleads.collector.batch import ingest_records

    store = Store(str(tmp_path / "i.duckdb"))
    try:
        registry = Registry(store)
        registry.add_site("ecloserie", [ORIGIN])
        records = [(1, {"site": "ecloserie", "type": "conversion", "name": "candidater", "visitor_id": "v1",
                        "url": ORIGIN + "/candidater", "ts": "2026-10-01T10:00:00Z"}),
                   (2, {"site": "ecloserie", "url": ORIGIN + "/", "user_agent": "curl/8.0", "visitor_id": "v2"}),
                   (3, {"site": "nope", "url": ORIGIN + "/"})]
        result = ingest_records(store, registry, records, "import")
        assert (result.accepted, result.rejected_total, dict(result.rejected)) == (2, 1, {"unknown_site": 1})
        rows = store.query("SELECT visitor_id, is_bot, bot_reason, device FROM event_log ORDER BY visitor_id")
        assert rows == [{"visitor_id": "v1", "is_bot": False, "bot_reason": None, "device": "other"},
                        {"visitor_id": "v2", "is_bot": True, "device": "bot",
                         "bot_reason": f"user-agent pattern {bot_pattern('curl/8.0')}"}]
    finally:
        store.close()
