"""The front processes: they answer the public port, die with the database process, are replaced
when they die alone, and stop in order; `--workers 0` runs everything in one process."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path
from typing import Any

import httpx

from conftest import ORIGIN, Server, webleads


def front_pids(parent: int) -> list[int]:
    """Live front processes whose parent is `parent` (from /proc)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes()
        except OSError:
            continue
        state, ppid = stat[stat.rindex(")") + 2:].split()[:2]
        if int(ppid) == parent and state != "Z" and b"webleads.collector.front" in cmdline:
            found.append(int(entry))
    return found


def alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2] != "Z"


def beacon(server: Server, name: str) -> int:
    body = f'{{"site":"ecloserie","type":"event","name":"{name}","url":"{ORIGIN}/"}}'
    return httpx.post(server.url + "/e", content=body, headers={"Origin": ORIGIN}, timeout=10).status_code


def wait_for(check: Any, seconds: float = 20) -> Any:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"{check} still false after {seconds}s")


def test_the_public_port_is_answered_by_a_front_process(server: Server) -> None:
    assert server.proc is not None
    fronts = front_pids(server.proc.pid)
    assert len(fronts) == 1
    assert beacon(server, "a") == 204
    # relayed to the database process: the root page, the health check, the metrics (local client)
    assert "webleads" in httpx.get(server.url + "/").text
    assert httpx.get(server.url + "/healthz").json()["status"] == "ok"
    assert httpx.get(server.url + "/metrics").status_code == 200
    # the client's address crosses the relay: a proxied client is not local
    assert httpx.get(server.url + "/metrics", headers={"X-Forwarded-For": "203.0.113.9"}).status_code == 401
    assert httpx.get(server.url + "/nope").status_code == 404
    # a front keeps small: it has loaded neither DuckDB nor Arrow, even after answering
    libraries = Path(f"/proc/{fronts[0]}/maps").read_text()
    assert "_duckdb" not in libraries and "libarrow" not in libraries
    assert "_duckdb" in Path(f"/proc/{server.proc.pid}/maps").read_text()


def test_kill_9_of_the_database_process_takes_its_front_down_and_frees_the_port(server: Server) -> None:
    assert server.proc is not None
    [front] = front_pids(server.proc.pid)
    assert beacon(server, "before") == 204
    server.kill()
    wait_for(lambda: not alive(front), 10)
    server.start()  # same port, same file
    assert beacon(server, "after") == 204
    server.stop()
    assert sorted(server.query("SELECT name FROM event_log")) == [("after",), ("before",)]


def test_a_front_that_dies_is_replaced(server: Server) -> None:
    assert server.proc is not None
    [front] = front_pids(server.proc.pid)
    os.kill(front, signal.SIGKILL)
    fresh = wait_for(lambda: [p for p in front_pids(server.proc.pid) if p != front])  # type: ignore[union-attr]
    assert len(fresh) == 1
    assert wait_for(lambda: beacon(server, "again") == 204)
    assert "starting another" in server.log()
    metrics = httpx.get(server.url + "/metrics").text
    assert "webleads_front_processes 1\n" in metrics and "webleads_front_restarts_total 1\n" in metrics


def test_two_workers_share_the_port_and_stop_in_order(site_db: Path, make_server: Any) -> None:
    srv = make_server(site_db, "--workers", "2")
    assert len(front_pids(srv.proc.pid)) == 2
    assert [beacon(srv, f"n{i}") for i in range(40)] == [204] * 40
    assert srv.stop() in (0, -signal.SIGTERM)
    assert srv.query("SELECT count(*) FROM event_log") == [(40,)]
    assert "Traceback" not in srv.log()


def test_workers_0_runs_everything_in_one_process(site_db: Path, make_server: Any) -> None:
    srv = make_server(site_db, "--workers", "0")
    assert front_pids(srv.proc.pid) == []
    assert beacon(srv, "solo") == 204
    assert httpx.get(srv.url + "/healthz").json()["status"] == "ok"
    srv.stop()
    assert srv.query("SELECT name FROM event_log") == [("solo",)]


def test_a_busy_port_is_a_plain_error(server: Server, tmp_path: Path) -> None:
    other = Server(db=tmp_path / "other.duckdb", port=server.port, log_path=tmp_path / "other.log")
    other.launch()
    assert other.proc is not None and other.proc.wait(30) == 1
    assert f"cannot listen on 127.0.0.1:{server.port}" in other.log() and "Traceback" not in other.log()


def test_the_relay_keeps_no_session_between_clients(server: Server) -> None:
    """One person's dashboard session cookie must never reach another's requests."""
    token = webleads("token", "create", db=server.db).stdout.strip()
    with httpx.Client(base_url=server.url) as alice:
        signin = alice.post("/dashboard/signin", data={"token": token}, headers={"Origin": server.url})
        assert signin.status_code == 303 and "wl_session" in signin.headers["set-cookie"]
        assert alice.get("/dashboard/attribution").status_code == 200
    with httpx.Client(base_url=server.url) as bob:
        assert bob.get("/dashboard/attribution").status_code == 401
