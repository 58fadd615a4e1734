"""Attacks on the public port, replayed against a real `webleads serve`: held request bodies that
starve the relay, slow and oversized requests, protocol errors and disconnects that used to log
tracebacks, and a Host header from a DNS-rebinding page."""

from __future__ import annotations

import contextlib
import re
import resource
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx

from conftest import ORIGIN, Server, free_port, webleads

BEACON = f'{{"site":"ecloserie","type":"event","name":"x","url":"{ORIGIN}/"}}'


def connect(server: Server, timeout: float = 20) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=timeout)
    return sock


def read_answer(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes (or the socket's timeout, which raises)."""
    data = b""
    with contextlib.suppress(ConnectionResetError):
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    return data


def status_of(answer: bytes) -> int | None:
    match = re.match(rb"HTTP/1\.[01] (\d{3})", answer)
    return int(match.group(1)) if match else None


def rejected(server: Server) -> dict[str, int]:
    text = httpx.get(server.url + "/metrics", timeout=10).text
    return {m.group(1): int(m.group(2)) for m in re.finditer(r'rejected_total\{reason="([^"]+)"\} (\d+)', text)}


@contextlib.contextmanager
def held_bodies(server: Server, path: str, count: int) -> Iterator[list[socket.socket]]:
    """`count` connections that send a request head announcing 4000 bytes, then a few, and wait."""
    socks = []
    try:
        for _ in range(count):
            sock = connect(server)
            sock.sendall(f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\nContent-Type: application/json"
                         f"\r\nAuthorization: Bearer nope\r\nContent-Length: 4000\r\n\r\n[{{".encode())
            socks.append(sock)
        yield socks
    finally:
        for sock in socks:
            sock.close()


# --- 1: the relay's pool ------------------------------------------------------------------------
def test_held_request_bodies_do_not_starve_health_api_and_commands(server: Server) -> None:
    token = webleads("token", "create", db=server.db).stdout.strip()
    with held_bodies(server, "/api/v1/events", 110):
        time.sleep(0.5)  # let the front take them all
        started = time.monotonic()
        assert httpx.get(server.url + "/healthz", timeout=5).status_code == 200
        report = httpx.get(server.url + "/api/v1/reports/attribution", params={"model": "last_touch"},
                           headers={"Authorization": f"Bearer {token}"}, timeout=5)
        assert report.status_code == 200
        sites = subprocess.run([sys.executable, "-m", "webleads", "site", "list", "--db", str(server.db)],
                               capture_output=True, text=True, timeout=20)
        assert sites.returncode == 0 and "ecloserie" in sites.stdout
        assert time.monotonic() - started < 15


# --- 6: slow and oversized requests --------------------------------------------------------------
def test_slow_heads_and_bodies_are_cut_off(server: Server) -> None:
    silent = connect(server)
    head = connect(server)
    head.sendall(f"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\nX-Slow: aaa".encode())
    body = connect(server)
    body.sendall(f"POST /e HTTP/1.1\r\nHost: 127.0.0.1\r\nOrigin: {ORIGIN}\r\nContent-Length: 300\r\n\r\n"
                 f"{BEACON[:20]}".encode())
    relayed = connect(server)
    relayed.sendall(b"POST /api/v1/events HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 300\r\n\r\n[")
    started = time.monotonic()
    answers = [read_answer(s) for s in (silent, head, body, relayed)]
    assert time.monotonic() - started < 16
    assert answers[0] == b""  # a connection that never spoke is closed quietly
    assert [status_of(a) for a in answers[1:]] == [408, 408, 408]
    assert b'"error":"request_timeout"' in answers[2]
    assert rejected(server).get("request_timeout", 0) >= 3
    for sock in (silent, head, body, relayed):
        sock.close()


def test_oversized_request_heads_are_refused(server: Server) -> None:
    for size in (64 * 1024, 4 * 1024 * 1024):
        sock = connect(server)
        request = (f"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: {'a' * size}\r\n\r\n").encode()
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            sock.sendall(request)
        answer = read_answer(sock)
        sock.close()
        assert status_of(answer) == 431, (size, answer[:200])
        assert b"x-webleads-reason: header_too_large" in answer.lower()
    # a head of ordinary size (cookies, a long pixel address) is still answered
    pixel = httpx.get(server.url + "/p.gif", params={"site": "ecloserie", "url": ORIGIN + "/?" + "q" * 1500},
                      headers={"Cookie": "c=" + "b" * 16000}, timeout=10)
    assert pixel.status_code == 200, pixel.headers
    assert rejected(server).get("header_too_large") == 2


class FewFilesServer(Server):
    """A collector whose processes may open only FILES files, as under a low `ulimit -n`."""

    FILES = 300

    def launch(self) -> Server:
        assert self.log_path is not None
        limit = (self.FILES, self.FILES)
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "webleads", "serve", "--db", str(self.db), "--port", str(self.port)],
                stdout=log, stderr=subprocess.STDOUT,
                preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_NOFILE, limit))
        return self


def test_connections_past_the_cap_are_closed_at_once(site_db: Path, tmp_path: Path) -> None:
    srv = FewFilesServer(db=site_db, port=free_port(), log_path=tmp_path / "few.log").start()
    socks = []
    try:
        for _ in range(400):
            socks.append(connect(srv, timeout=5))
        time.sleep(1)
        closed = 0
        for sock in socks:
            sock.settimeout(0.01)
            with contextlib.suppress(TimeoutError, BlockingIOError):
                closed += sock.recv(1) == b""
        assert closed >= 400 - FewFilesServer.FILES  # refused at once, not left waiting in the backlog
    finally:
        for sock in socks:
            sock.close()
    try:
        time.sleep(0.5)
        assert httpx.get(srv.url + "/healthz", timeout=5).status_code == 200
        assert rejected(srv).get("too_many_connections", 0) >= 1
        assert "Traceback" not in srv.log() and "Too many open files" not in srv.log(), srv.log()[-3000:]
    finally:
        srv.kill()


# --- 9: no tracebacks from what clients do ------------------------------------------------------
def cut_requests(server: Server) -> None:
    """Requests whose client goes away mid-body, and requests the parser cannot read."""
    form = "token=abc&next=%2Fdashboard"
    for path, extra in (("/dashboard/signin", f"Origin: {server.url}\r\n"), ("/api/v1/events", ""),
                        ("/dashboard/signin", f"Origin: {server.url}\r\n")):
        for _ in range(3):
            sock = connect(server)
            sock.sendall(f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n{extra}"
                         f"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 200\r\n\r\n"
                         f"{form}".encode())
            time.sleep(0.1)
            sock.close()
    for raw in (b"GARBAGE\r\n\r\n", b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nBad Header: x\r\n\r\n",
                b"GET /\xff\xfe HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
                b"POST /dashboard/signin HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 5\r\n"
                b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n"):
        sock = connect(server)
        sock.sendall(raw)
        answer = read_answer(sock)
        sock.close()
        assert status_of(answer) in (None, 400, 404, 421), answer[:300]


def test_cut_requests_and_protocol_errors_log_no_traceback(server: Server) -> None:
    cut_requests(server)
    time.sleep(1)
    assert httpx.get(server.url + "/healthz", timeout=5).status_code == 200
    log = server.log()
    assert "Traceback" not in log and "Exception in ASGI" not in log, log
    assert "Invalid HTTP request" not in log  # uvicorn's one line per bad request
    assert rejected(server).get("disconnected", 0) >= 9


def test_cut_sign_in_forms_log_no_traceback_in_one_process(site_db: Path, make_server: Any) -> None:
    srv = make_server(site_db, "--workers", "0")
    cut_requests(srv)
    time.sleep(1)
    log = srv.log()
    assert "Traceback" not in log and "Exception in ASGI" not in log, log
    assert rejected(srv).get("disconnected", 0) >= 6  # the sign-in forms (the API answered 401 first)


# --- 13: Host -------------------------------------------------------------------------------------
PROTECTED = ("/", "/metrics", "/healthz", "/opt-out", "/dashboard", "/api/v1/reports/attribution?model=last_touch",
             "/r/nope", "/nope")


def check_hosts(server: Server, good: tuple[str, ...]) -> None:
    port = server.port
    for path in PROTECTED:
        answer = httpx.get(server.url + path, headers={"Host": f"rebind.attacker.example:{port}"}, timeout=10)
        assert answer.status_code == 421, path
        assert answer.json()["error"] == "unknown_host" and answer.headers["x-webleads-reason"] == "unknown_host"
    for host in good:
        assert httpx.get(server.url + "/metrics", headers={"Host": host}, timeout=10).status_code == 200, host
    # the public paths answer whatever name a proxy passes on
    evil = {"Host": "www.ecloserie.test"}
    assert httpx.post(server.url + "/e", content=BEACON, headers={**evil, "Origin": ORIGIN}).status_code == 204
    assert httpx.get(server.url + "/p.gif", params={"site": "ecloserie"}, headers=evil).status_code == 200
    assert httpx.get(server.url + "/s.js", headers=evil).status_code == 200


def test_the_host_header_is_checked(server: Server) -> None:
    check_hosts(server, (f"127.0.0.1:{server.port}", f"localhost:{server.port}", "localhost", "[::1]:8000",
                         "app.localhost", "192.0.2.7"))
    assert rejected(server).get("unknown_host", 0) >= len(PROTECTED)


def test_the_host_header_is_checked_in_one_process_and_knows_the_public_name(site_db: Path,
                                                                           make_server: Any) -> None:
    srv = make_server(site_db, "--workers", "0", "--public-url", "https://stats.ecloserie.test")
    check_hosts(srv, ("stats.ecloserie.test", "STATS.ecloserie.test:443", f"127.0.0.1:{srv.port}"))


def test_opt_out_without_a_site_lists_nothing(server: Server) -> None:
    for query in ("", "?site=", "?site=nope"):
        page = httpx.get(server.url + "/opt-out" + query, timeout=10)
        assert page.status_code == 200
        assert ORIGIN not in page.text and "ecloserie" not in page.text
        assert "lien" in page.text  # says to open the link of a site
    assert f'href="{ORIGIN}/#webleads_ignore"' in httpx.get(server.url + "/opt-out?site=ecloserie").text
