"""The link between the front processes and the database process: one unix socket, framed JSON.

The front processes answer the public ingest endpoints (collector/front.py); the database process
holds the DuckDB file and its writer thread. Keeping them apart keeps DuckDB's Python binding, which
takes the interpreter lock back at every step of a query, from stalling the event loop that answers
beacons (and the other way round).

Frames are a 4-byte big-endian length and an orjson object with an "op":

  front -> database                               database -> front
  hello                                           sites {sites}          (also pushed on change)
  ingest {id, groups: [[row, ...], ...]}          ack {id, results: [{stored, duplicates} | {error}]}
  salt {id, day}                                  salt {id, day, salt}
  sites                                           sites {sites}
  counts {rejections | enrich_failures | dropped | checks: [[site, token]]}
                                                  -     (sent as each refusal, failure, drop or check happens)

Rows are tuples in rows.COLUMN_NAMES order; their two timestamps travel as ISO strings. An
ingest frame carries the events of every request a front answered in one turn of its event loop;
each request learns its own outcome after COMMIT, as in a single process.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import functools
import logging
import os
import socket
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import asdict
from datetime import date, datetime
from typing import Any

import orjson

from .enrich import SiteConfig
from .rows import COLUMN_INDEX, Overloaded, StoreClosed, WriteResult

log = logging.getLogger("webleads.link")

MAX_FRAME = 256 * 1024 * 1024
_TS = (COLUMN_INDEX["received_at"], COLUMN_INDEX["ts"])
IS_BOT = COLUMN_INDEX["is_bot"]


def frame(message: dict[str, Any]) -> bytes:
    payload = orjson.dumps(message)
    return len(payload).to_bytes(4, "big") + payload


async def read_frame(reader: asyncio.StreamReader) -> dict[str, Any]:
    size = int.from_bytes(await reader.readexactly(4), "big")
    if size > MAX_FRAME:
        raise ConnectionError(f"frame of {size} bytes on the link")
    message = orjson.loads(await reader.readexactly(size))
    if not isinstance(message, dict):
        raise ConnectionError("the link carried something else than an object")
    return message


def sites_message(sites: dict[str, SiteConfig]) -> dict[str, Any]:
    return {"op": "sites", "sites": [asdict(s) for s in sites.values()]}


def _row(raw: list[Any]) -> tuple[Any, ...]:
    for i in _TS:
        raw[i] = datetime.fromisoformat(raw[i])
    return tuple(raw)


# --- the database process's side -------------------------------------------------------------------
class LinkServer:
    """Serves the front processes of one collector (its store, registry and counters).

    Plain threads, not the event loop: a thread per front reads its frames and queues the rows, and
    the writer thread, as it settles a batch, sends the acknowledgement itself. An acknowledgement
    thus leaves as soon as the COMMIT returns, without waiting for this process's event loop."""

    def __init__(self, collector: Any, path: str) -> None:
        self.collector = collector
        self.path = path
        self.sock: socket.socket | None = None
        self.conns: set[_FrontConn] = set()
        self.lock = threading.Lock()
        self.in_flight = 0  # ingest frames not yet acknowledged

    @property
    def connected(self) -> int:
        return len(self.conns)

    async def start(self) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(self.path)
        os.chmod(self.path, 0o600)
        self.sock.listen(64)
        threading.Thread(target=self._accept, name="webleads-link", daemon=True).start()
        self.collector.registry.on_change.append(self.push_sites)

    def _accept(self) -> None:
        assert self.sock is not None
        while True:
            try:
                sock, _ = self.sock.accept()
            except OSError:  # closed
                return
            conn = _FrontConn(self, sock)
            with self.lock:
                self.conns.add(conn)
            threading.Thread(target=conn.serve, name="webleads-link-front", daemon=True).start()

    def push_sites(self) -> None:
        """Send the sites to every front (called after every change of the registry)."""
        data = frame(sites_message(self.collector.registry.sites))
        with self.lock:
            conns = list(self.conns)
        for conn in conns:
            conn.send(data)

    async def close(self) -> None:
        """After the fronts have stopped: the last acknowledgements are sent, then the sockets close."""
        deadline = time.monotonic() + 30
        while self.in_flight > 0 and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        if self.sock is not None:
            with contextlib.suppress(OSError):
                self.sock.shutdown(socket.SHUT_RDWR)
            self.sock.close()
        with self.lock:
            conns = list(self.conns)
        for conn in conns:
            conn.close()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)


class _FrontConn:
    def __init__(self, server: LinkServer, sock: socket.socket) -> None:
        self.server = server
        self.sock = sock
        self.send_lock = threading.Lock()
        # Acknowledgements are sent from the writer thread: a front that stops reading must not
        # stall it for long (sends only; reads wait as long as the link is idle).
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, struct.pack("ll", 5, 0))

    def send(self, data: bytes) -> None:
        with self.send_lock:
            try:
                self.sock.sendall(data)
            except OSError:  # the front is gone; its requests get no answer from here
                pass

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)
        self.sock.close()

    def serve(self) -> None:
        stream = self.sock.makefile("rb")
        try:
            while True:
                head = stream.read(4)
                if len(head) < 4:
                    return
                size = int.from_bytes(head, "big")
                if size > MAX_FRAME:
                    log.error("a front sent a frame of %d bytes; closing its link", size)
                    return
                message = orjson.loads(stream.read(size))
                op = message.get("op")
                if op in ("hello", "sites"):
                    self.send(frame(sites_message(self.server.collector.registry.sites)))
                elif op == "ingest":
                    self._ingest(message)
                elif op == "salt":
                    self._salt(message)
                elif op == "counts":
                    self._count(message)
        except (OSError, ValueError):
            pass
        finally:
            with self.server.lock:
                self.server.conns.discard(self)
            stream.close()
            self.close()

    def _ingest(self, message: dict[str, Any]) -> None:
        server, store = self.server, self.server.collector.store
        groups = message["groups"]
        results: list[dict[str, Any] | None] = [None] * len(groups)
        left = [len(groups)]
        lock = threading.Lock()
        with server.lock:
            server.in_flight += 1

        def settle(i: int, result: dict[str, Any]) -> None:
            results[i] = result
            with lock:
                left[0] -= 1
                last = left[0] == 0
            if last:  # in the writer thread, right after the COMMIT
                self.send(frame({"op": "ack", "id": message["id"], "results": results}))
                with server.lock:
                    server.in_flight -= 1

        def done(i: int, future: concurrent.futures.Future[WriteResult]) -> None:
            try:
                result = future.result()
            except Exception:  # noqa: BLE001 - the store logged it; the front answers 503
                settle(i, {"error": "storage_error"})
            else:
                settle(i, {"stored": result.stored, "duplicates": result.duplicates})

        for i, group in enumerate(groups):
            try:
                rows = [_row(r) for r in group]
                server.collector.bots_flagged += sum(1 for r in rows if r[IS_BOT])
                future = store.submit(rows)
            except Overloaded:
                settle(i, {"error": "overloaded"})
            except StoreClosed:
                settle(i, {"error": "closed"})
            except (TypeError, ValueError, IndexError):
                log.exception("a front sent rows that do not fit the table")
                settle(i, {"error": "storage_error"})
            else:
                future.add_done_callback(functools.partial(done, i))

    def _salt(self, message: dict[str, Any]) -> None:
        day = date.fromisoformat(message["day"])
        salt = self.server.collector.registry.salt_for(datetime(day.year, day.month, day.day))
        self.send(frame({"op": "salt", "id": message["id"], "day": message["day"], "salt": salt.hex()}))

    def _count(self, message: dict[str, Any]) -> None:
        c = self.server.collector
        for code, n in (message.get("rejections") or {}).items():
            c.rejections[str(code)] = c.rejections.get(str(code), 0) + int(n)
        for step, n in (message.get("enrich_failures") or {}).items():
            c.enrich_failures[str(step)] = c.enrich_failures.get(str(step), 0) + int(n)
        if message.get("dropped"):
            c.drop({str(reason): int(n) for reason, n in message["dropped"].items()})
        for site, token in message.get("checks") or []:
            c.checked(str(site), str(token))


# --- the front process's side ----------------------------------------------------------------------
class Link:
    """The database as a front process sees it: a store (submit_async) and a registry (sites, salts)."""

    def __init__(self, path: str, queue_limit: int, on_lost: Callable[[], None]) -> None:
        self.path = path
        self.queue_limit = queue_limit
        self.on_lost = on_lost
        self.sites: dict[str, SiteConfig] = {}
        self._salt: tuple[date, bytes] | None = None
        self._pending: list[tuple[list[tuple[Any, ...]], asyncio.Future[WriteResult]]] = []
        self._waiting: dict[int, tuple[list[asyncio.Future[WriteResult]], int]] = {}
        self._replies: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._ids = 0
        self._in_flight = 0
        self._flush_scheduled = False
        self._closed = False
        self._last_refresh: dict[str, float] = {}
        self._sites_ready: asyncio.Event | None = None
        self._reader_task: asyncio.Task[None] | None = None

    async def connect(self) -> None:
        self.loop = asyncio.get_running_loop()
        self._sites_ready = asyncio.Event()
        self.reader, self.writer = await asyncio.open_unix_connection(self.path, limit=MAX_FRAME)
        self.writer.write(frame({"op": "hello"}))
        self._reader_task = asyncio.create_task(self._read())
        await asyncio.wait_for(self._sites_ready.wait(), 30)

    # the store's face
    @property
    def queue_depth(self) -> int:
        return self._in_flight

    def submit_async(self, rows: list[tuple[Any, ...]]) -> asyncio.Future[WriteResult]:
        if self._closed:
            raise StoreClosed()
        if self._in_flight + len(rows) > self.queue_limit and self._in_flight > 0:
            raise Overloaded()
        future: asyncio.Future[WriteResult] = self.loop.create_future()
        self._pending.append((rows, future))
        self._in_flight += len(rows)
        if not self._flush_scheduled:
            self._flush_scheduled = True
            self.loop.call_soon(self._flush)
        return future

    def _flush(self) -> None:
        """One frame for every request answered in this turn of the loop (group commit starts here)."""
        self._flush_scheduled = False
        pending, self._pending = self._pending, []
        if not pending:
            return
        if self._closed:
            for _, future in pending:
                if not future.done():
                    future.set_exception(StoreClosed())
            return
        self._ids += 1
        self._waiting[self._ids] = ([future for _, future in pending], sum(len(rows) for rows, _ in pending))
        self.writer.write(frame({"op": "ingest", "id": self._ids, "groups": [rows for rows, _ in pending]}))

    # the registry's face
    def get(self, name: str) -> SiteConfig | None:
        return self.sites.get(name)

    def cached_salt(self, now: datetime) -> bytes | None:
        if self._salt is not None and self._salt[0] == now.date():
            return self._salt[1]
        return None

    async def salt_async(self, now: datetime) -> bytes:
        reply = await self._ask({"op": "salt", "day": now.date().isoformat()})
        salt = bytes.fromhex(reply["salt"])
        self._salt = (date.fromisoformat(reply["day"]), salt)
        return salt

    async def fresh(self, name: str) -> SiteConfig | None:
        """A site this front has not heard of: ask once (at most every 2 s per name) in case it was
        added a moment ago, before the database process's push arrived."""
        now = self.loop.time()
        if self._closed or now - self._last_refresh.get(name, -10.0) < 2.0 or len(self._last_refresh) > 10_000:
            return None
        self._last_refresh[name] = now
        assert self._sites_ready is not None
        self._sites_ready.clear()
        self.writer.write(frame({"op": "sites"}))
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self._sites_ready.wait(), 5)
        return self.sites.get(name)

    def count_rejection(self, code: str) -> None:
        """Sent at once, so /metrics (answered by the database process) is exact when read next."""
        if not self._closed:
            self.writer.write(frame({"op": "counts", "rejections": {code: 1}}))

    def count_enrich_failure(self, step: str) -> None:
        if not self._closed:
            self.writer.write(frame({"op": "counts", "enrich_failures": {step: 1}}))

    def count_dropped(self, reasons: dict[str, int]) -> None:
        """Events not stored by privacy rule (DNT, GPC, no consent), sent at once as refusals are."""
        if not self._closed:
            self.writer.write(frame({"op": "counts", "dropped": reasons}))

    def count_check(self, site: str, token: str) -> None:
        """The opt-out page's test visit, sent before the beacon is answered: the page asks next."""
        if not self._closed:
            self.writer.write(frame({"op": "counts", "checks": [[site, token]]}))

    async def _ask(self, message: dict[str, Any]) -> dict[str, Any]:
        if self._closed:
            raise StoreClosed()
        self._ids += 1
        future: asyncio.Future[dict[str, Any]] = self.loop.create_future()
        self._replies[self._ids] = future
        self.writer.write(frame({**message, "id": self._ids}))
        return await future

    async def _read(self) -> None:
        try:
            while True:
                message = await read_frame(self.reader)
                op = message.get("op")
                if op == "ack":
                    self._acknowledge(message)
                elif op == "sites":
                    self.sites = {s["name"]: SiteConfig(s["name"], tuple(s["origins"]), tuple(s["allowed_params"]),
                                                        s["consent"], s["retention_months"])
                                  for s in message["sites"]}
                    assert self._sites_ready is not None
                    self._sites_ready.set()
                elif op == "salt":
                    future = self._replies.pop(message["id"], None)
                    if future is not None and not future.done():
                        future.set_result(message)
        except (asyncio.IncompleteReadError, ConnectionError, OSError):
            pass
        self._lost()

    def _acknowledge(self, message: dict[str, Any]) -> None:
        futures, events = self._waiting.pop(message["id"], ([], 0))
        self._in_flight -= events
        for future, result in zip(futures, message["results"], strict=True):
            if future.done():
                continue
            if "error" in result:
                future.set_exception(Overloaded() if result["error"] in ("overloaded", "closed")
                                     else RuntimeError(result["error"]))
            else:
                future.set_result(WriteResult(result["stored"], result["duplicates"]))

    def _lost(self) -> None:
        """The database process is gone: nothing waiting can be acknowledged any more."""
        if self._closed:
            return
        self._closed = True
        for futures, _ in self._waiting.values():
            for future in futures:
                if not future.done():
                    future.set_exception(StoreClosed())
        for future in self._replies.values():
            if not future.done():
                future.set_exception(StoreClosed())
        self._waiting.clear()
        self.on_lost()

    async def close(self) -> None:
        self._closed = True
        self.writer.close()
        if self._reader_task is not None:
            self._reader_task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._reader_task
