"""The public port's HTTP protocol: uvicorn's httptools protocol with the limits uvicorn lacks.

uvicorn offers a keep-alive timeout (idle time between two requests, kept at its default) and
`limit_concurrency`; its head size cap (`h11_max_incomplete_event_size`) applies to h11 only. With
httptools it has no time limit on a request head or body, no cap on the head's size (llhttp buffers
a header of any length), and it logs one warning per unreadable request. Held or endless requests
then cost a task and a connection each, for as long as the client likes. This subclass adds:

- a deadline per request: the head must arrive within HEAD_SECONDS of its first byte (or of the
  connection's opening), the body within BODY_SECONDS of the head; then 408 and close. A connection
  that never sent a byte is closed quietly (browsers open such connections ahead of need).
- a cap on the head's size, MAX_HEAD_BYTES: 431.
- a cap on open connections per process (MAX_CONNECTIONS, and below the process's limit of open
  files): further ones are closed at once, which bounds memory and keeps descriptors for the work
  in progress. uvicorn's `limit_concurrency` would instead answer each request past the limit with
  its own 503 and a log line.
- unreadable requests answered 400 without a log line.

Every refusal has the project's error shape and is counted by reason (one log line per reason per
minute, from the database process's summary), never logged per request.

The deadlines are checked by one watchdog per process, once a second, over the open connections: on
the hot path a request only stores two timestamps, instead of arming and cancelling timers.
"""

from __future__ import annotations

import asyncio
import contextlib
import resource
from collections.abc import Callable
from typing import Any, ClassVar

import httptools
import orjson
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

from .validate import Rejected

# A beacon's head is a few hundred bytes; cookies of the site's domain and a long pixel address can
# make it several KB. Servers commonly refuse past 8 to 16 KB per line (nginx, Node).
MAX_HEAD_BYTES = 32 * 1024
# Slow mobile networks still send a head, or a beacon's body (64 KiB at most), in well under a second;
# the largest body (the API's events, 1 MiB) comes from a back office's server. Past these, the client
# is not really sending.
HEAD_SECONDS = 10.0
BODY_SECONDS = 10.0
# After a refusal, the rest of what the client sends is read and dropped for a moment, so that the
# answer is not lost to a reset (closing a socket with unread data sends RST).
LINGER_SECONDS = 2.0
# Open connections per process. Far above what a busy site keeps open (each visitor holds one or two
# for a few seconds), far below what exhausts memory or descriptors.
MAX_CONNECTIONS = 10_000
# Descriptors kept for what is not a client connection (the database link, the relay's pool, files).
RESERVED_FILES = 256
WATCH_EVERY = 1.0

Refused = Callable[[Rejected], None]


def _answer(exc: Rejected) -> bytes:
    body = orjson.dumps({"error": exc.code, "reason": exc.reason})
    return b"".join([STATUS_LINE[exc.status], b"content-type: application/json\r\nx-webleads-reason: ",
                     exc.code.encode(), b"\r\ncontent-length: ", str(len(body)).encode(),
                     b"\r\nconnection: close\r\n\r\n", body])


class GuardedHttpTools(HttpToolsProtocol):
    """uvicorn's httptools protocol with deadlines, a head size cap and a connection cap."""

    refused: ClassVar[Refused]  # counts a refusal by reason; set by guarded_protocol()
    max_connections: ClassVar[int] = MAX_CONNECTIONS

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._deadline = self.loop.time() + HEAD_SECONDS
        self._head = 0  # bytes of the request head so far; -1 once the head is complete
        self._tail = b""  # the last bytes of the previous chunk of head: its end may straddle two
        self._begun = False  # a request has started (its first byte came)
        self._lingering = False
        if len(self.connections) > self.max_connections:
            self.refused(Rejected(503, "too_many_connections", "too many open connections"))
            transport.abort()
            return
        watch = getattr(self.server_state, "webleads_watchdog", None)
        if watch is None:
            self.server_state.webleads_watchdog = self.loop.create_task(  # type: ignore[attr-defined]
                _watchdog(self.connections, self.loop))

    def data_received(self, data: bytes) -> None:
        if self._lingering:
            return
        head = self._head
        if head >= 0:
            seen = head + len(data)
            # Only when the cap is passed: is the head's end within it? (A chunk may hold the end of
            # the head and a body.)
            if seen > MAX_HEAD_BYTES and \
                    (self._tail + data).find(b"\r\n\r\n", 0, MAX_HEAD_BYTES - head + len(self._tail)) == -1:
                self._refuse(Rejected(431, "header_too_large",
                                      f"the request head is larger than {MAX_HEAD_BYTES} bytes"))
                return
            self._head = seen
            self._tail = data[-3:]
        # uvicorn's own data_received, without its log line per unreadable request.
        self._unset_keepalive_if_required()
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            pass  # nothing here speaks WebSocket or h2c: the request is answered as plain HTTP/1.1
        except httptools.HttpParserError:
            self._refuse(Rejected(400, "bad_http", "the request is not valid HTTP/1.1"))

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._begun = True
        self._deadline = self.loop.time() + HEAD_SECONDS

    def on_headers_complete(self) -> None:
        self._head = -1
        self._deadline = self.loop.time() + BODY_SECONDS
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._head = 0
        self._tail = b""
        self._begun = False
        # The answer is the application's to give; the idle time that follows is uvicorn's keep-alive.
        self._deadline = 0.0

    def expired(self) -> None:
        """The watchdog found this connection past its deadline."""
        if self._lingering or not self._begun:
            self.transport.close()  # done lingering, or a connection that never spoke
        elif self._head >= 0:
            self._refuse(Rejected(408, "request_timeout", f"the request head took over {HEAD_SECONDS:g} s"))
        elif self.cycle is not None and self.cycle.response_complete:
            self.transport.close()  # answered early (413...), and the body it did not need never ends
        else:
            self._refuse(Rejected(408, "request_timeout", f"the request body took over {BODY_SECONDS:g} s"))

    def _refuse(self, exc: Rejected) -> None:
        # A body that times out is counted here (request_timeout), and once more by the handler that was
        # reading it (disconnected): it cannot tell a deadline from a client gone.
        self.refused(exc)
        cycle = self.cycle
        if cycle is not None and not cycle.response_complete:
            # The application may be waiting for the body: it now reads a disconnect, and what it
            # sends is dropped.
            cycle.disconnected = True
            cycle.message_event.set()
            if cycle.response_started:  # too late for an answer of our own
                self.transport.close()
                return
        if self.transport.is_closing():
            return
        self.transport.write(_answer(exc))
        self._lingering = True
        self._deadline = self.loop.time() + LINGER_SECONDS
        self.flow.resume_reading()
        with contextlib.suppress(OSError, RuntimeError, NotImplementedError):
            self.transport.write_eof()  # the answer is all we send; the client's rest is dropped


async def _watchdog(connections: set[Any], loop: asyncio.AbstractEventLoop) -> None:
    while True:
        await asyncio.sleep(WATCH_EVERY)
        now = loop.time()
        for conn in [c for c in connections if 0.0 < getattr(c, "_deadline", 0.0) < now]:
            conn.expired()


def connection_cap() -> int:
    """How many client connections this process can hold. The soft limit on open files is raised to
    the hard one where allowed (systemd's default soft limit, 1024, is far below what a front can
    serve): past it, accepting fails with EMFILE and the event loop logs an error for each attempt."""
    try:
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        wanted = MAX_CONNECTIONS + RESERVED_FILES
        if soft != resource.RLIM_INFINITY and soft < wanted:
            target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
            with contextlib.suppress(ValueError, OSError):
                resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
                soft = target
    except (ValueError, OSError):
        return MAX_CONNECTIONS
    if soft == resource.RLIM_INFINITY:
        return MAX_CONNECTIONS
    return max(16, min(MAX_CONNECTIONS, soft - RESERVED_FILES))


def guarded_protocol(refused: Refused) -> type[GuardedHttpTools]:
    """The protocol class to give uvicorn (Config(http=...)), counting refusals with `refused`."""
    return type("GuardedHttpTools", (GuardedHttpTools,),
                {"refused": staticmethod(refused), "max_connections": connection_cap()})
