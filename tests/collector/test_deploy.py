"""Run by a volunteer: commands find the service's database from any folder through the settings file,
never start an empty database by mistake, name the user to run as; backups with rotation and restores
that keep the service's owner, tried under a collector run as its own system user."""

from __future__ import annotations

import os
import pwd
import shutil
import stat
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import duckdb
import httpx
import pytest

from webleads.collector import ops

from conftest import ORIGIN, Server, free_port, webleads


def command(*args: str, cwd: Path, env: dict[str, str] | None = None,
            as_user: tuple[str, ...] = ()) -> subprocess.CompletedProcess[str]:
    """`webleads ARGS` as a person types it: no --db, in folder `cwd`, without the service's WEBLEADS_DB."""
    clean = {k: v for k, v in os.environ.items() if k not in ("WEBLEADS_DB", "WEBLEADS_CONFIG")}
    return subprocess.run([*as_user, sys.executable, "-m", "webleads", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=120, env={**clean, **(env or {})})


def test_a_command_in_the_wrong_folder_says_so_and_creates_nothing(tmp_path: Path) -> None:
    elsewhere = tmp_path / "home"
    elsewhere.mkdir()
    for args in (("site", "add", "ecloserie", "--origin", ORIGIN), ("doctor",), ("token", "create"),
                 ("backup", "--into", str(tmp_path / "b")), ("restore", str(tmp_path / "x.duckdb"))):
        result = command(*args, cwd=elsewhere)
        assert result.returncode == 1, (args, result.stdout)
        assert "no database in this folder" in result.stderr and "--db" in result.stderr, result.stderr
        assert "Traceback" not in result.stderr and "s.js" not in result.stdout
    missing = tmp_path / "var" / "webleads.duckdb"
    result = command("site", "list", cwd=elsewhere, env={"WEBLEADS_DB": str(missing)})
    assert result.returncode == 1 and f"no database at {missing} (named by WEBLEADS_DB)" in result.stderr
    assert list(elsewhere.iterdir()) == [] and not missing.parent.exists()
    # an explicit --db names a new file: that is how a database is started without `serve`
    made = command("site", "add", "ecloserie", "--origin", ORIGIN, "--db", "new.duckdb", cwd=elsewhere)
    assert made.returncode == 0 and (elsewhere / "new.duckdb").exists()


def test_the_settings_file_leads_every_command_to_the_running_collector(site_db: Path, tmp_path: Path,
                                                                       make_server: object) -> None:
    settings = tmp_path / "etc" / "webleads.toml"
    settings.parent.mkdir()
    settings.write_text(f'db = "{site_db}"\npublic_url = "https://stats.example.org"\n')
    system = {"WEBLEADS_SYSTEM_CONFIG": str(settings)}
    server = make_server(site_db, env=system)  # type: ignore[operator]
    elsewhere = tmp_path / "home"
    elsewhere.mkdir()
    added = command("site", "add", "fablab", "--origin", "https://fablab.test", cwd=elsewhere, env=system)
    assert added.returncode == 0, added.stderr
    assert 'src="https://stats.example.org/s.js" data-site="fablab"' in added.stdout
    assert httpx.post(server.url + "/e", content='{"site":"fablab","url":"https://fablab.test/"}',
                      headers={"Origin": "https://fablab.test"}).status_code == 204
    doctor = command("doctor", "--offline", cwd=elsewhere, env=system)
    assert "collector running" in doctor.stdout and str(site_db) in doctor.stdout, doctor.stdout
    assert list(elsewhere.iterdir()) == []


def test_rotation_keeps_the_newest_of_7_days_and_4_weeks() -> None:
    names = [f"webleads-2026-11-{day:02d}-{hour:02d}0000.duckdb" for day in range(1, 31) for hour in (3, 15)]
    names += ["notes.txt", "webleads-2026-11-31-030000.duckdb.wal", "other.duckdb"]
    gone = ops.to_rotate(names, 7, 4)
    kept = sorted(set(names) - set(gone))
    daily = [f"webleads-2026-11-{day:02d}-150000.duckdb" for day in range(24, 31)]
    # ISO weeks of November 2026 end on Sundays the 8th, 15th, 22nd, 29th; the 30th starts a new week
    weekly = [f"webleads-2026-11-{day:02d}-150000.duckdb" for day in (15, 22, 29, 30)]
    assert kept == sorted({*daily, *weekly, "notes.txt", "webleads-2026-11-31-030000.duckdb.wal", "other.duckdb"})
    assert ops.to_rotate(names[:3], 7, 4) == [names[0]]  # the same day's earlier one


def test_restore_refuses_a_file_that_is_not_a_backup_and_keeps_the_database(site_db: Path, tmp_path: Path) -> None:
    junk = tmp_path / "junk.duckdb"
    junk.write_bytes(b"not a database" * 100)
    result = webleads("restore", str(junk), db=site_db, check=False)
    assert result.returncode == 1 and "cannot restore" in result.stderr and "Traceback" not in result.stderr
    assert webleads("site", "list", db=site_db).stdout.startswith("ecloserie")
    copy = tmp_path / "copy.duckdb"
    webleads("backup", str(copy), db=site_db)
    os.chmod(site_db, 0o640)  # (a store that opens it makes it 0600 again)
    webleads("restore", str(copy), db=site_db)
    assert stat.S_IMODE(site_db.stat().st_mode) == 0o640  # the mode of the file it replaced
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


# --- under a collector run as its own system user (root only: it makes a throwaway user) -------------
@pytest.fixture
def service_user() -> Iterator[pwd.struct_passwd]:
    if os.geteuid() != 0:
        pytest.skip("making a throwaway system user and running the collector as it needs root")
    name = "wlt" + uuid.uuid4().hex[:8]
    subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", name], check=True)
    try:
        yield pwd.getpwnam(name)
    finally:
        subprocess.run(["userdel", name], check=False)


def as_user(user: pwd.struct_passwd) -> tuple[str, ...]:
    return ("setpriv", f"--reuid={user.pw_uid}", f"--regid={user.pw_gid}", "--init-groups", "--")


def test_backup_and_restore_under_a_service_run_as_its_own_user(service_user: pwd.struct_passwd,
                                                                tmp_path: Path) -> None:
    user = service_user
    home = Path(tempfile.mkdtemp(prefix="webleads-service-"))  # /var/lib/webleads: the user's own folder
    try:
        os.chown(home, user.pw_uid, user.pw_gid)
        db = home / "webleads.duckdb"
        settings = home / "webleads.toml"  # /etc/webleads/webleads.toml, readable by all
        settings.write_text(f'db = "{db}"\n')
        os.chmod(settings, 0o644)
        env = {"WEBLEADS_SYSTEM_CONFIG": str(settings), "HOME": str(home)}
        run_as = as_user(user)
        made = command("site", "add", "ecloserie", "--origin", ORIGIN, "--db", str(db), cwd=home, env=env,
                       as_user=run_as)
        assert made.returncode == 0, made.stderr
        # One process: a venv whose interpreter lives under root's private home (pyenv) cannot be spawned
        # again by another user, and the front processes are not what this test is about.
        server = Server(db=db, port=free_port(), log_path=tmp_path / "serve.log", env=env, as_user=run_as,
                        extra_args=("--workers", "0"))
        server.start()
        try:
            for n in range(5):
                assert httpx.post(server.url + "/e", headers={"Origin": ORIGIN}, timeout=10,
                                  content=f'{{"site":"ecloserie","url":"{ORIGIN}/p{n}"}}').status_code == 204
            # root, from another folder: told which user to run as, nothing done
            refused = command("token", "create", cwd=tmp_path, env=env)
            assert refused.returncode == 1 and "Traceback" not in refused.stderr
            assert f"run this command as {user.pw_name}" in refused.stderr, refused.stderr
            assert f"sudo -u {user.pw_name} webleads" in refused.stderr
            # the service's user, from / and without WEBLEADS_DB: the settings file leads to the collector
            listed = command("site", "list", cwd=Path("/"), env=env, as_user=run_as)
            assert listed.returncode == 0 and listed.stdout.startswith("ecloserie"), listed.stderr
            # the guide's cron line (docs/deployment.md): dated backups in a folder of the service's user, rotated
            backups = home / "backups"
            cron = [str(backups) if a == "/var/backups/webleads" else a for a in guide_block("cron").split()[7:-1]]
            for _ in range(2):
                done = command(*cron, cwd=Path("/"), env=env, as_user=run_as)
                assert done.returncode == 0 and "(5 events)" in done.stdout, done.stderr
            made_today = sorted(backups.iterdir())
            assert len(made_today) == 2 or "Deleted the older backup" in done.stdout
            old = backups / "webleads-2026-01-05-030000.duckdb"
            shutil.copyfile(made_today[-1], old)
            done = command("backup", "--into", str(backups), "--keep-daily", "1", "--keep-weekly", "1",
                           cwd=Path("/"), env=env, as_user=run_as)
            assert done.returncode == 0 and f"Deleted the older backup {old}" in done.stdout, done.stdout
            latest = sorted(backups.iterdir())[-1]
            assert [p.stat().st_uid for p in backups.iterdir()] == [user.pw_uid]
            assert stat.S_IMODE(latest.stat().st_mode) == 0o600
            running = command("restore", str(latest), cwd=tmp_path, env=env)
            assert running.returncode == 1 and "stop it" in running.stderr
            # more events after the backup: the restore takes them away
            assert httpx.post(server.url + "/e", headers={"Origin": ORIGIN}, timeout=10,
                              content=f'{{"site":"ecloserie","url":"{ORIGIN}/late"}}').status_code == 204
        finally:
            assert server.stop() in (0, -15)  # uvicorn re-raises the SIGTERM it handled
        restored = command("restore", str(latest), cwd=tmp_path, env=env)  # as root, as docs/deployment.md says
        assert restored.returncode == 0 and "Restored 5 events" in restored.stdout, restored.stderr
        assert (db.stat().st_uid, db.stat().st_gid) == (user.pw_uid, user.pw_gid)
        assert stat.S_IMODE(db.stat().st_mode) == 0o600
        kept = [p for p in home.iterdir() if ".before-restore-" in p.name]
        assert kept and all(p.stat().st_uid == user.pw_uid for p in kept)
        server.start()  # the service starts again on the restored file
        try:
            listed = command("site", "list", cwd=Path("/"), env=env, as_user=run_as)
            assert listed.returncode == 0, listed.stderr
        finally:
            assert server.stop() in (0, -15)  # uvicorn re-raises the SIGTERM it handled
        with duckdb.connect(str(db), read_only=True) as conn:
            paths = sorted(p for (p,) in conn.execute("SELECT path FROM events").fetchall())
        assert paths == [f"/p{n}" for n in range(5)]
    finally:
        shutil.rmtree(home, ignore_errors=True)


# --- the deployment guide's examples, checked by the tools that will read them ---------------------------
DEPLOYMENT = Path(__file__).resolve().parents[2] / "docs" / "deployment.md"


def guide_block(lang: str) -> str:
    """The first ```LANG block of docs/deployment.md (the server's guide)."""
    text = DEPLOYMENT.read_text(encoding="utf-8")
    start = text.index(f"```{lang}\n") + len(lang) + 4
    return text[start:text.index("```", start)]


def test_the_cron_line_is_the_tested_backup_command() -> None:
    fields = guide_block("cron").split()
    # minute hour day month weekday user command...: the line run by the service test, with its paths
    assert fields[:6] == ["17", "3", "*", "*", "*", "webleads"] and fields[6] == "/usr/local/bin/webleads"
    assert fields[7:] == ["backup", "--into", "/var/backups/webleads", "--keep-daily", "7", "--keep-weekly", "4",
                          ">/dev/null"]


def test_the_unit_file_passes_systemd_analyze_verify(tmp_path: Path) -> None:
    if shutil.which("systemd-analyze") is None:
        pytest.skip("systemd-analyze is not installed (apt-get install systemd)")
    unit = guide_block("ini")
    assert "ExecStart=/opt/webleads/bin/webleads serve" in unit and "User=webleads" in unit
    # verify wants the program it names to exist: the guide's path, or a stand-in where it is absent
    program = Path("/opt/webleads/bin/webleads")
    if not program.exists():
        program = tmp_path / "webleads"
        program.write_text("#!/bin/sh\n")
        program.chmod(0o755)
        unit = unit.replace("/opt/webleads/bin/webleads", str(program))
    path = tmp_path / "webleads.service"
    path.write_text(unit)
    result = subprocess.run(["systemd-analyze", "verify", str(path)], capture_output=True, text=True, timeout=60)
    complaints = [line for line in (result.stdout + result.stderr).splitlines() if "webleads.service" in line]
    assert result.returncode == 0 and complaints == [], result.stdout + result.stderr


def test_the_nginx_example_passes_nginx_t(tmp_path: Path) -> None:
    nginx = shutil.which("nginx") or ("/usr/sbin/nginx" if os.path.exists("/usr/sbin/nginx") else None)
    if nginx is None:
        pytest.skip("nginx is not installed (apt-get install nginx; .ci/run installs it)")
    (tmp_path / "webleads").write_text(guide_block("nginx"))
    # the server block goes in http {}, as sites-enabled/ does in Debian's nginx.conf
    (tmp_path / "nginx.conf").write_text(f"pid {tmp_path}/nginx.pid;\nerror_log stderr;\nevents {{}}\n"
                                         f"http {{\n    include {tmp_path}/webleads;\n}}\n")
    result = subprocess.run([nginx, "-t", "-e", "stderr", "-p", str(tmp_path), "-c", str(tmp_path / "nginx.conf")],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and "test is successful" in result.stderr, result.stderr


def test_the_caddy_example_validates(tmp_path: Path) -> None:
    caddy = shutil.which("caddy")
    if caddy is None:
        pytest.skip("caddy is not installed (apt-get install caddy; .ci/run installs it)")
    (tmp_path / "Caddyfile").write_text(guide_block("caddy"))
    home = {"HOME": str(tmp_path), "XDG_DATA_HOME": str(tmp_path), "XDG_CONFIG_HOME": str(tmp_path)}
    result = subprocess.run([caddy, "validate", "--adapter", "caddyfile", "--config", str(tmp_path / "Caddyfile")],
                            capture_output=True, text=True, timeout=60, env={**os.environ, **home})
    assert result.returncode == 0 and "Valid configuration" in result.stdout + result.stderr, result.stderr
