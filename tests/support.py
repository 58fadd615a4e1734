"""Helpers shared by test modules (a test module never imports another): a browser's user-agent, a
GeoIP file, a load of pixel requests, and reading /metrics."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path
from typing import Any

import httpx

CHROME = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
          "Chrome/131.0.0.0 Safari/537.36")


def make_mmdb(path: Path) -> Path:
    from mmdb_writer import MMDBWriter
    from netaddr import IPSet

    writer = MMDBWriter(ip_version=6, database_type="GeoLite2-City", languages=["en", "fr"], ipv4_compatible=True)
    writer.insert_network(IPSet(["203.0.113.0/24"]), {
        "country": {"iso_code": "FR", "names": {"en": "France", "fr": "France"}},
        "subdivisions": [{"iso_code": "ARA", "names": {"en": "Auvergne-Rhone-Alpes", "fr": "Auvergne-Rhône-Alpes"}}],
        "city": {"names": {"en": "Lyon", "fr": "Lyon"}}})
    writer.insert_network(IPSet(["198.51.100.0/24"]), {"country": {"iso_code": "BE", "names": {"en": "Belgium"}}})
    writer.to_db_file(str(path))
    return path


async def pixel_load(url: str, count: int, concurrency: int, stop_after: float | None = None,
                     acked: set[str] | None = None) -> set[str]:
    """Send `count` pixel events named n0..n{count-1}; return (and fill) the names answered 200."""
    acked = set() if acked is None else acked
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(count):
        queue.put_nowait(i)
    started = time.monotonic()

    async def worker(client: httpx.AsyncClient) -> None:
        while not queue.empty():
            if stop_after is not None and time.monotonic() - started > stop_after:
                return
            i = queue.get_nowait()
            try:
                r = await client.get(url + "/p.gif", params={"site": "ecloserie", "type": "event", "name": f"n{i}"})
            except httpx.HTTPError:
                continue
            if r.status_code == 200:
                acked.add(f"n{i}")

    limits = httpx.Limits(max_connections=concurrency)
    async with httpx.AsyncClient(limits=limits, timeout=10) as client:
        await asyncio.gather(*(worker(client) for _ in range(concurrency)))
    return acked


def run_async(coro: Any) -> Any:
    """asyncio.run in a thread of its own: another test module's Playwright (sync API) may keep an event
    loop running in the main thread."""
    result: list[Any] = []
    errors: list[BaseException] = []

    def target() -> None:
        try:
            result.append(asyncio.run(coro))
        except BaseException as exc:  # noqa: BLE001 - re-raised in the caller
            errors.append(exc)

    thread = threading.Thread(target=target)
    thread.start()
    thread.join()
    if errors:
        raise errors[0]
    return result[0]


def metric(text: str, name: str) -> float:
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[-1])
    return 0.0
