"""Front processes: they answer the public port, so that the database process's work never stalls
the event loop that answers beacons.

`webleads serve` binds the public port, then starts `settings.workers` front processes (default 1)
that share it. A front answers the beacon, its preflight, the pixel and the snippet itself: it
validates and enriches each event, then hands the rows to the database process over the link
(collector/link.py) and answers 2xx only once they are committed. Every other request (root page,
dashboard, API, metrics) is relayed unchanged to the database process, which
listens on a unix socket in a private directory; the front tells it the client's address in
X-Webleads-Peer.

A front dies with the database process (PR_SET_PDEATHSIG on Linux, and the link closing), so a
killed collector never leaves a process holding the port. With `workers = 0` everything runs in one
process, as a plain Starlette app.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import gc
import logging
import os
import signal
import socket
import subprocess
import sys
from dataclasses import asdict, fields
from http.cookiejar import CookieJar, DefaultCookiePolicy
from typing import Any

import httpx
import orjson
import uvicorn

from .endpoints import Receive, Scope, Send, header_map, read_body, refuse
from .guard import guarded_protocol
from .ingest import Collector
from .link import Link, LinkServer
from .settings import Settings
from .validate import Rejected

log = logging.getLogger("webleads.front")

PEER_HEADER = b"x-webleads-peer"
# Hop-by-hop headers are not relayed (RFC 9110 7.6.1); Date comes from the server that answers. The body
# is read whole before it is relayed, so its length is the relay's to state, and no 100-continue is due.
_HOP_REQUEST = {b"connection", b"keep-alive", b"te", b"trailer", b"upgrade", b"transfer-encoding", PEER_HEADER,
                b"content-length", b"expect"}
# The relay reads a request's body whole (the client's pace, bounded by the protocol's body deadline,
# collector/guard.py) before it takes a connection to the database process: a client that sends its
# body slowly, or never, holds nothing shared. The largest body behind the relay is the API's events
# (1 MiB); the database process applies each route's own limit.
RELAY_MAX_BODY = 1024 * 1024 + 4096
# Connections to the database process, per front. Each is held only while the database process
# answers (reports, commands, dashboard pages); the database process runs those on its thread pool (a
# few dozen threads), so more connections would only queue there.
RELAY_CONNECTIONS = 64
# Waiting longer than this for one of them means the database process is saturated: answer 503 with
# Retry-After rather than pile up requests.
RELAY_POOL_SECONDS = 10.0
# Relayed answers up to this size are read whole before they are sent on (see relay()).
RELAY_ANSWER_BUFFER = 1024 * 1024
# No read timeout: the database process is ours, and some answers legitimately take minutes (an
# import or a backup run through the command channel, a large report).
RELAY_TIMEOUT = httpx.Timeout(connect=5.0, read=None, write=30.0, pool=RELAY_POOL_SECONDS)
_HOP_RESPONSE = {"connection", "keep-alive", "te", "trailer", "upgrade", "transfer-encoding", "date", "server"}


def bind_public(host: str, port: int) -> socket.socket:
    """The public listening socket, shared by the front processes."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise OSError(exc.errno, f"cannot listen on {host}:{port} ({exc.strerror}); "
                                 "is another collector running? Stop it or pick another --port") from None
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


# --- in the database process ---------------------------------------------------------------------
class Fronts:
    """Starts, watches and stops the front processes."""

    def __init__(self, settings: Settings, sock: socket.socket, link_path: str, core_path: str) -> None:
        self.settings = settings
        self.sock = sock
        self.link_path = link_path
        self.core_path = core_path
        self.procs: list[subprocess.Popen[bytes]] = []
        self.stopping = False
        self.restarts = 0
        self.link: LinkServer | None = None
        self._watch: asyncio.Task[None] | None = None

    def _spawn(self) -> subprocess.Popen[bytes]:
        config = {"settings": asdict(self.settings), "fd": self.sock.fileno(), "link": self.link_path,
                  "core": self.core_path, "parent": os.getpid()}
        env = {**os.environ, "WEBLEADS_FRONT": orjson.dumps(config).decode()}
        # Its own session: Ctrl+C reaches the database process, which stops the fronts in order.
        return subprocess.Popen([sys.executable, "-m", "webleads.collector.front"], env=env,
                                pass_fds=(self.sock.fileno(),), start_new_session=True)

    async def start(self, collector: Collector) -> None:
        self.link = LinkServer(collector, self.link_path)
        await self.link.start()
        self.procs = [self._spawn() for _ in range(self.settings.workers)]
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 60
        while self.link.connected < len(self.procs):
            dead = [p for p in self.procs if p.poll() is not None]
            if dead:
                raise RuntimeError(f"a front process exited at start (code {dead[0].returncode}); see the log above")
            if loop.time() > deadline:
                raise RuntimeError("the front processes did not connect within 60 s")
            await asyncio.sleep(0.02)
        self._watch = asyncio.create_task(self._watch_loop())

    async def _watch_loop(self) -> None:
        """A front that dies is replaced; if they keep dying (5 in a minute), the collector stops."""
        loop = asyncio.get_running_loop()
        restarts: list[float] = []
        while not self.stopping:
            await asyncio.sleep(0.5)
            for i, proc in enumerate(self.procs):
                if proc.poll() is None or self.stopping:
                    continue
                now = loop.time()
                restarts = [t for t in restarts if now - t < 60] + [now]
                if len(restarts) > 5:
                    log.error("front processes keep exiting (last: %d, code %s); stopping the collector",
                              proc.pid, proc.returncode)
                    os.kill(os.getpid(), signal.SIGTERM)
                    return
                log.error("front process %d exited with %s; starting another", proc.pid, proc.returncode)
                self.procs[i] = self._spawn()
                self.restarts += 1

    @property
    def alive(self) -> int:
        return sum(1 for p in self.procs if p.poll() is None)

    def signal_all(self, sig: int) -> None:
        """Stop the fronts. This process's copy of the public socket closes too: once the fronts
        have closed theirs, new connections are refused at once instead of waiting in the backlog."""
        self.stopping = True
        self.sock.close()
        for proc in self.procs:
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    proc.send_signal(sig)

    async def stop(self, timeout: float = 45) -> None:
        """Stop the fronts (they finish the requests they hold; their events are committed), then
        close the link."""
        self.signal_all(signal.SIGTERM)
        if self._watch is not None:
            self._watch.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watch
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while any(p.poll() is None for p in self.procs) and loop.time() < deadline:
            await asyncio.sleep(0.02)
        for proc in self.procs:
            if proc.poll() is None:
                log.error("front process %d did not stop in %.0f s; killing it", proc.pid, timeout)
                proc.kill()
                proc.wait()
        if self.link is not None:
            await self.link.close()


class ServerWithFronts(uvicorn.Server):
    """On SIGTERM or Ctrl+C the front processes stop taking requests at once; this process keeps
    committing their events until they have exited, then stops itself."""

    def __init__(self, config: uvicorn.Config, fronts: Fronts) -> None:
        super().__init__(config)
        self.fronts = fronts

    def handle_exit(self, sig: int, frame: Any) -> None:
        self.fronts.signal_all(signal.SIGTERM)
        super().handle_exit(sig, frame)


class FromFront:
    """The database process's ASGI app behind the unix socket: the client's address comes from the
    front (X-Webleads-Peer). Only front processes can reach that socket (a private directory)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            peer = None
            headers = []
            for name, value in scope["headers"]:
                if name == PEER_HEADER:
                    peer = value.decode("latin-1")
                else:
                    headers.append((name, value))
            scope = {**scope, "headers": headers, "client": (peer, 0) if peer else None}
        await self.app(scope, receive, send)


# --- in a front process --------------------------------------------------------------------------
class FrontCollector(Collector):
    """Refusals, dropped events, failed enrichments and the opt-out page's test visits are counted by the
    database process, which answers /metrics and /opt-out (bots are counted there from the rows themselves)."""

    def reject(self, exc: Rejected) -> None:
        self.store.count_rejection(exc.code)

    def enrich_failed(self, step: str) -> None:
        self.store.count_enrich_failure(step)

    def drop(self, reasons: dict[str, int]) -> None:
        self.store.count_dropped(reasons)

    def checked(self, site: str, token: str) -> None:
        self.store.count_check(site, token)


class FrontApp:
    """ASGI: the ingest endpoints here, everything else relayed to the database process."""

    def __init__(self, settings: Settings, link_path: str, core_path: str) -> None:
        self.settings = settings
        self.link_path = link_path
        self.core_path = core_path
        self.routes: dict[tuple[str, str], Any] = {}

    def refused(self, exc: Rejected) -> None:
        """A request the protocol refused (collector/guard.py): counted with the others."""
        collector = getattr(self, "collector", None)
        if collector is not None:
            collector.reject(exc)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            handler = self.routes.get((scope["method"], scope["path"]))
            if handler is not None:
                await handler(scope, receive, send)
            else:
                await self.relay(scope, receive, send)
        elif scope["type"] == "lifespan":
            await self.lifespan(receive, send)
        elif scope["type"] == "websocket":  # nothing here speaks WebSocket
            await receive()
            await send({"type": "websocket.close", "code": 1008})

    async def lifespan(self, receive: Receive, send: Send) -> None:
        await receive()  # lifespan.startup
        try:
            self.link = Link(self.link_path, self.settings.queue_events, on_lost=_database_gone)
            await self.link.connect()
            self.collector = FrontCollector(self.settings, store=self.link, registry=self.link)
            self.routes = self.collector.endpoints.routes
            # The relay is many clients' go-between: it must keep no cookie (a session cookie kept here
            # would sign every visitor in), follow no redirect and add no header of its own.
            limits = httpx.Limits(max_connections=RELAY_CONNECTIONS, max_keepalive_connections=RELAY_CONNECTIONS)
            self.client = httpx.AsyncClient(transport=httpx.AsyncHTTPTransport(uds=self.core_path, limits=limits),
                                            timeout=RELAY_TIMEOUT, follow_redirects=False,
                                            cookies=CookieJar(policy=DefaultCookiePolicy(allowed_domains=[])))
        except Exception as exc:  # noqa: BLE001 - reported to uvicorn, which exits
            await send({"type": "lifespan.startup.failed", "message": f"front process: {exc}"})
            return
        gc.freeze()  # what start-up built lives as long as the process: full collections skip it
        await send({"type": "lifespan.startup.complete"})
        await receive()  # lifespan.shutdown, after the last request was answered
        await self.client.aclose()
        await self.link.close()
        self.collector.geo.close()
        await send({"type": "lifespan.shutdown.complete"})

    async def relay(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        client = scope.get("client")
        headers = [(k, v) for k, v in scope["headers"] if k not in _HOP_REQUEST]
        if client:
            headers.append((PEER_HEADER, str(client[0]).encode("latin-1")))
        has_body = any(k in (b"content-length", b"transfer-encoding") for k, _ in scope["headers"])
        try:
            content = await read_body(receive, header_map(scope), RELAY_MAX_BODY) if has_body else None
        except Rejected as exc:
            self.refused(exc)
            await refuse(send, exc)  # dropped by uvicorn if the client is gone
            return
        target = scope.get("raw_path") or scope["path"].encode()
        query = scope.get("query_string") or b""
        url = "http://webleads" + target.decode("latin-1") + ("?" + query.decode("latin-1") if query else "")
        try:
            request = self.client.build_request(scope["method"], url, headers=headers, content=content)
            sent = {k for k, _ in headers}
            for name in (b"user-agent", b"accept", b"accept-encoding"):
                if name not in sent:  # httpx's own defaults are not the client's
                    del request.headers[name.decode()]
            response = await self.client.send(request, stream=True)
        except httpx.PoolTimeout:
            exc = Rejected(503, "relay_busy", "the collector is busy answering reports; retry in a moment")
            self.refused(exc)
            await refuse(send, exc)
            return
        except (httpx.InvalidURL, httpx.LocalProtocolError):  # a target or header httpx will not send
            exc = Rejected(400, "bad_request", "this request cannot be relayed")
            self.refused(exc)
            await refuse(send, exc)
            return
        except httpx.HTTPError:
            await refuse(send, Rejected(503, "database_process_unavailable",
                                        "the collector's database process does not answer; retry in a moment"))
            return
        kept = [(k, v) for k, v in response.headers.raw if k.decode("latin-1").lower() not in _HOP_RESPONSE]
        start = {"type": "http.response.start", "status": response.status_code, "headers": kept}
        try:
            # An answer that fits RELAY_ANSWER_BUFFER (all but large downloads) is read whole and its
            # connection handed back before the client gets it: a client that does not read its answers
            # (or pipelines requests without reading) then holds nothing shared either.
            chunks = response.aiter_raw()
            held: list[bytes] = []
            size = 0
            whole = True
            try:
                async for chunk in chunks:
                    held.append(chunk)
                    size += len(chunk)
                    if size > RELAY_ANSWER_BUFFER:
                        whole = False
                        break
            except httpx.HTTPError:
                await refuse(send, Rejected(503, "database_process_unavailable",
                                            "the collector's database process does not answer; retry in a moment"))
                return
            if whole:
                await response.aclose()
                await send(start)
                await send({"type": "http.response.body", "body": b"".join(held)})
                return
            await send(start)
            await send({"type": "http.response.body", "body": b"".join(held), "more_body": True})
            try:
                async for chunk in chunks:
                    await send({"type": "http.response.body", "body": chunk, "more_body": True})
            except httpx.HTTPError:  # the database process went away mid-answer: end it short
                log.warning("relayed answer to %s %s cut short", scope["method"], scope["path"])
            await send({"type": "http.response.body", "body": b""})
        finally:
            await response.aclose()


def quiet_uvicorn(level: str) -> str:
    """uvicorn's start-up lines name internal sockets: keep its logger at warning unless debugging."""
    return level if level in ("debug", "trace") else "warning"


def _database_gone() -> None:
    """The link closed: the database process stopped or died. Nothing more can be committed."""
    log.error("the database process is gone; this front process stops")
    os._exit(1)


def _die_with_parent(parent: int) -> None:
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    if os.getppid() != parent:  # the parent died before the line above
        os._exit(1)


def main() -> None:
    config = orjson.loads(os.environ.pop("WEBLEADS_FRONT"))
    _die_with_parent(int(config["parent"]))
    known = {f.name: f for f in fields(Settings)}
    values = {k: tuple(v) if isinstance(v, list) else v for k, v in config["settings"].items() if k in known}
    settings = Settings(**values)
    logging.basicConfig(level=settings.log_level.upper(),
                        format=f"%(asctime)s %(levelname)s %(name)s[front {os.getpid()}]: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per relayed request otherwise
    sock = socket.socket(fileno=int(config["fd"]))
    app = FrontApp(settings, config["link"], config["core"])
    server = uvicorn.Server(uvicorn.Config(app, access_log=False, log_level=quiet_uvicorn(settings.log_level),
                                           loop="auto", http=guarded_protocol(app.refused), ws="none",
                                           lifespan="on", timeout_graceful_shutdown=30,
                                           server_header=False, proxy_headers=False))
    server.run(sockets=[sock])
    if not server.started:
        sys.exit(3)


if __name__ == "__main__":
    main()
