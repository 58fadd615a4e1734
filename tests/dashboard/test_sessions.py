"""Dashboard sessions outlive a restart of the collector; a remembered browser keeps its cookie 30 days;
sign-out and token revocation end them for good. A real `webleads serve`, stopped and started again."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

from conftest import Server, free_port, webleads


def sign_in(srv: Server, token: str, **extra: str) -> httpx.Response:
    return httpx.post(srv.url + "/dashboard/signin", data={"token": token, **extra}, headers={"Origin": srv.url},
                      timeout=30)


def cookie_of(response: httpx.Response) -> tuple[str, list[str]]:
    found = [v for k, v in response.headers.multi_items() if k == "set-cookie" and v.startswith("wl_session=")]
    assert len(found) == 1, response.headers
    parts = [a.strip().lower() for a in found[0].split(";")]
    return found[0].split(";")[0].split("=", 1)[1], parts


def signed_in(srv: Server, value: str) -> bool:
    page = httpx.get(srv.url + "/dashboard/leads", cookies={"wl_session": value}, timeout=30)
    return page.status_code == 200 and 'id="leads"' in page.text


def test_sessions_survive_a_restart_until_signed_out_or_revoked(site_db: Path, tmp_path: Path) -> None:
    first = webleads("token", "create", "--name", "coordination", db=site_db).stdout.strip()
    second = webleads("token", "create", "--name", "benevole", db=site_db).stdout.strip()
    srv = Server(db=site_db, port=free_port(), log_path=tmp_path / "serve.log").start()
    try:
        remembered, attributes = cookie_of(sign_in(srv, first, remember="1"))
        assert f"max-age={30 * 86400}" in attributes
        for_now, attributes = cookie_of(sign_in(srv, first))
        assert not any(a.startswith(("max-age", "expires")) for a in attributes)  # ends with the browser
        other, _ = cookie_of(sign_in(srv, second))
        leaving, _ = cookie_of(sign_in(srv, second))
        out = httpx.post(srv.url + "/dashboard/signout", cookies={"wl_session": leaving}, headers={"Origin": srv.url},
                         timeout=30)
        assert out.status_code == 303 and not signed_in(srv, leaving)
        srv.stop()
        with_server: Any = srv
        assert with_server.query("SELECT count(*) FROM dashboard_sessions") == [(3,)]
        assert not any(remembered in str(row) for row in with_server.query("SELECT * FROM dashboard_sessions"))

        srv.start()  # the same database: everyone signed in is still signed in
        assert signed_in(srv, remembered) and signed_in(srv, for_now) and signed_in(srv, other)
        assert not signed_in(srv, leaving)
        token_id = next(line.split()[0] for line in webleads("token", "list", db=site_db).stdout.splitlines()
                        if "benevole" in line)
        webleads("token", "revoke", token_id, db=site_db)
        srv.stop()
        srv.start()
        assert not signed_in(srv, other)  # revoked: gone, also across a restart
        assert signed_in(srv, remembered)
    finally:
        srv.kill()


def test_backups_leave_the_sessions_out(site_db: Path, tmp_path: Path) -> None:
    token = webleads("token", "create", db=site_db).stdout.strip()
    srv = Server(db=site_db, port=free_port(), log_path=tmp_path / "serve.log").start()
    try:
        assert sign_in(srv, token).status_code == 303
        webleads("backup", str(tmp_path / "copy.duckdb"), db=site_db)
    finally:
        srv.kill()
    assert Server(db=tmp_path / "copy.duckdb", port=0).query("SELECT count(*) FROM dashboard_sessions") == [(0,)]
