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
  counts {rejections}                             -      (sent as each refusal happens)

Rows are tuples in store.EVENT_COLUMNS order; their two timestamps travel as ISO strings. An
ingest frame carries the events of every request a front answered in one turn of its event loop;
each request learns its own outcome after COMMIT, as in a single process.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Callable
from dataclasses import asdict
from datetime import date, datetime
from typing import Any

import orjson

from .enrich import SiteConfig
from .store import COLUMN_INDEX, Overloaded, StoreClosed, WriteResult

log = logging.getLogger("webleads.link")

MAX_FRAME = 256 * 1024 * 1024
_TS = (1, 2)  # received_at, ts
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
    """Serves the front processes of one collector (its store, registry and counters)."""

    def __init__(self, collector: Any, path: str) -> None:
        self.collector = collector
        self.path = path
        self.server: asyncio.AbstractServer | None = None
        self.writers: set[asyncio.StreamWriter] = set()
        self.tasks: set[asyncio.Task[None]] = set()
        self.loop: asyncio.AbstractEventLoop | None = None

    async def start(self) -> None:
        self.loop = asyncio.get_running_loop()
        self.server = await asyncio.start_unix_server(self._serve, self.path, limit=MAX_FRAME)
        os.chmod(self.path, 0o600)
        self.collector.registry.on_change.append(self.push_sites)

    def push_sites(self) -> None:
        """Send the sites to every front (from any thread: the registry changes in the writer's callers)."""
        if self.loop is None:
            return
        data = frame(sites_message(self.collector.registry.sites))

        def push() -> None:
            for writer in list(self.writers):
                if not writer.is_closing():
                    writer.write(data)

        try:
            self.loop.call_soon_threadsafe(push)
        except RuntimeError:  # the loop is closed
            pass

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.writers.add(writer)
        try:
            while True:
                message = await read_frame(reader)
                op = message.get("op")
                if op in ("hello", "sites"):
                    writer.write(frame(sites_message(self.collector.registry.sites)))
                elif op == "ingest":
                    self._spawn(self._ingest(message, writer))
                elif op == "salt":
                    self._spawn(self._salt(message, writer))
                elif op == "counts":
                    self._count(message)
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            self.writers.discard(writer)
            writer.close()

    def _spawn(self, coro: Any) -> None:
        task = asyncio.create_task(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _ingest(self, message: dict[str, Any], writer: asyncio.StreamWriter) -> None:
        store = self.collector.store
        waiting: list[asyncio.Future[WriteResult] | str] = []
        for group in message["groups"]:
            try:
                rows = [_row(r) for r in group]
                self.collector.bots_flagged += sum(1 for r in rows if r[IS_BOT])
                waiting.append(store.submit_async(rows))
            except Overloaded:
                waiting.append("overloaded")
            except StoreClosed:
                waiting.append("closed")
            except (TypeError, ValueError, IndexError):
                log.exception("a front sent rows that do not fit the table")
                waiting.append("storage_error")
        results: list[dict[str, Any]] = []
        for item in waiting:
            if isinstance(item, str):
                results.append({"error": item})
                continue
            try:
                done = await item
                results.append({"stored": done.stored, "duplicates": done.duplicates})
            except Exception:  # noqa: BLE001 - the store logged it; the front answers 503
                results.append({"error": "storage_error"})
        if not writer.is_closing():
            writer.write(frame({"op": "ack", "id": message["id"], "results": results}))

    async def _salt(self, message: dict[str, Any], writer: asyncio.StreamWriter) -> None:
        day = date.fromisoformat(message["day"])
        salt = await self.collector.registry.salt_async(datetime(day.year, day.month, day.day))
        if not writer.is_closing():
            writer.write(frame({"op": "salt", "id": message["id"], "day": message["day"], "salt": salt.hex()}))

    def _count(self, message: dict[str, Any]) -> None:
        c = self.collector
        for code, n in (message.get("rejections") or {}).items():
            c.rejections[str(code)] = c.rejections.get(str(code), 0) + int(n)

    async def close(self) -> None:
        """After the fronts have stopped: the last acknowledgements are sent, then the socket closes."""
        if self.server is not None:
            self.server.close()
        if self.tasks:
            await asyncio.wait(list(self.tasks), timeout=30)
        for writer in list(self.writers):
            writer.close()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)


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
