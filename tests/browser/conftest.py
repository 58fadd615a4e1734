"""Fixtures for the snippet in real headless Chromium against a real collector.

- `chromium`: one Debian /usr/bin/chromium for this package, driven by Playwright (never a browser
  download). Missing chromium skips the browser tests, except under CI, where it fails them. The
  fixtures are package-scoped: Playwright's sync API keeps an event loop in the main thread while it
  runs, so it is stopped before the other test folders (which call asyncio.run) are run.
- `pages`: fixture pages on a second local origin (a threaded http.server), registered per test.
- `collector`: a fresh `webleads serve` per test, with the site `pages` registered for the pages'
  origin; wait for beacons with `collector.wait(n)`, then `collector.rows(sql)` stops it and reads
  DuckDB.
- `visit`: opens a page in a new browser context (a new visitor), records page errors (the teardown
  fails the test on any), console messages and the requests that went to the collector.
"""

from __future__ import annotations

import gzip
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import duckdb
import httpx
import pytest

from conftest import CHROMIUM, CHROMIUM_ARGS, Server, free_port, require_chromium, webleads

SITE = "pages"
# A desktop Chrome as a visitor's browser would announce it (headless Chromium's own user-agent says
# "HeadlessChrome", which the collector rightly flags as a bot).
HUMAN_UA = ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
            "Chrome/131.0.0.0 Safari/537.36")
# Under Playwright navigator.webdriver is true, as under any automation; a visitor's browser says false.
HUMAN_INIT = "Object.defineProperty(Navigator.prototype, 'webdriver', {get: () => false});"


# --- the browser ---------------------------------------------------------------------------------
@pytest.fixture(scope="package")
def chromium() -> Iterator[Any]:
    require_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        # Playwright turns the back/forward cache off by default; the snippet must handle it.
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS,
                                             ignore_default_args=["--disable-back-forward-cache"])
        try:
            yield browser
        finally:
            browser.close()


# --- fixture pages on their own origin -------------------------------------------------------------
@dataclass
class Route:
    body: bytes
    headers: dict[str, str]
    content_type: str


class Pages:
    """A second local origin serving the pages a test registers (GET and POST alike)."""

    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}
        self.posted: list[tuple[str, bytes]] = []
        pages = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                route = pages.routes.get(urlsplit(self.path).path)
                if route is None:
                    self.send_response(404)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("Content-Type", route.content_type)
                self.send_header("Content-Length", str(len(route.body)))
                for key, value in route.headers.items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(route.body)

            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                self._answer()

            def do_POST(self) -> None:  # noqa: N802
                length = int(self.headers.get("Content-Length") or 0)
                pages.posted.append((self.path, self.rfile.read(length)))
                self._answer()

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.origin = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.server.serve_forever, name="fixture-pages", daemon=True)
        self.thread.start()

    def add(self, path: str, html: str, headers: dict[str, str] | None = None,
            content_type: str = "text/html; charset=utf-8") -> str:
        self.routes[path] = Route(html.encode(), headers or {}, content_type)
        return self.origin + path

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="package")
def page_server() -> Iterator[Pages]:
    pages = Pages()
    try:
        yield pages
    finally:
        pages.close()


@pytest.fixture
def pages(page_server: Pages) -> Pages:
    page_server.routes.clear()
    page_server.posted.clear()
    return page_server


def tag(collector: Server, **data: str | bool) -> str:
    """The embed tag for the site `pages`, with extra data-* attributes (True: no value)."""
    attrs = "".join(f" data-{k.replace('_', '-')}" + ("" if v is True else f'="{v}"') for k, v in data.items())
    return f'<script async src="{collector.url}/s.js" data-site="{SITE}"{attrs}></script>'


def html(collector: Server, body: str = "", head: str = "", **data: str | bool) -> str:
    """A page with the embed tag in its head (after `head`)."""
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>t</title>{head}{tag(collector, **data)}"
            f"</head><body>{body}</body></html>")


# --- the collector -------------------------------------------------------------------------------
@dataclass
class Collector(Server):
    """A running `webleads serve` with helpers to wait for beacons and read what was stored."""

    def committed(self) -> int:
        return int(httpx.get(self.url + "/healthz", timeout=5).json()["events_committed"])

    def wait(self, count: int, timeout: float = 15, settle: float = 0.6) -> None:
        """Wait until `count` events are committed, then `settle` seconds more for any stray extra
        (the snippet polls the address every 250 ms), so that counts can be asserted exactly."""
        deadline = time.monotonic() + timeout
        while (got := self.committed()) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"{got} events committed after {timeout}s, expected {count}:\n{self.log()}")
            time.sleep(0.05)
        time.sleep(settle)

    def rows(self, sql: str = "SELECT * FROM event_log ORDER BY received_at") -> list[dict[str, Any]]:
        """Stop the collector (SIGTERM drains its queue) and read rows, as dicts, from its file."""
        self.stop()
        with duckdb.connect(str(self.db), read_only=True) as conn:
            cursor = conn.execute(sql)
            names = [d[0] for d in cursor.description]
            return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


class Collectors:
    """Fresh collectors on copies of a template database. One is kept starting in the background
    while a test runs, so that the next test does not wait for a Python process to boot."""

    def __init__(self, template: Path, directory: Path) -> None:
        self.template = template
        self.directory = directory
        self.count = 0
        self.warm: Collector | None = None
        self.all: list[Collector] = []

    def launch(self, env: dict[str, str] | None = None) -> Collector:
        self.count += 1
        db = self.directory / f"webleads{self.count}.duckdb"
        shutil.copy(self.template, db)
        srv = Collector(db=db, port=free_port(), log_path=self.directory / f"serve{self.count}.log", env=env or {})
        self.all.append(srv)
        return srv.launch()

    def take(self, env: dict[str, str] | None = None) -> Collector:
        if env:
            return self.launch(env).ready()
        srv, self.warm = self.warm or self.launch(), self.launch()
        return srv.ready()

    def close(self) -> None:
        for srv in self.all:
            srv.kill()


@pytest.fixture(scope="package")
def collectors(page_server: Pages, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Collectors]:
    """The site `pages` is registered for the fixture pages' origin once, in a template database."""
    directory = tmp_path_factory.mktemp("collectors")
    template = directory / "template.duckdb"
    webleads("site", "add", SITE, "--origin", page_server.origin, db=template)
    pool = Collectors(template, directory)
    try:
        yield pool
    finally:
        pool.close()


@pytest.fixture
def start_collector(collectors: Collectors) -> Iterator[Callable[..., Collector]]:
    """start_collector(env={...}): a fresh collector, with extra WEBLEADS_* settings if given."""
    started: list[Collector] = []

    def start(env: dict[str, str] | None = None) -> Collector:
        srv = collectors.take(env)
        started.append(srv)
        return srv

    yield start
    for srv in started:
        srv.kill()


@pytest.fixture
def collector(start_collector: Callable[..., Collector]) -> Collector:
    return start_collector()


# --- visitors ----------------------------------------------------------------------------------
@dataclass
class Visit:
    """One browser context (a visitor) and its page, with what the page did."""
    context: Any
    page: Any
    errors: list[str] = field(default_factory=list)
    console: list[str] = field(default_factory=list)
    requests: list[Any] = field(default_factory=list)

    def beacons(self, collector: Server) -> list[str]:
        """Requests this visitor's pages sent to the collector (other than loading the script)."""
        return [f"{r.method} {r.url}" for r in self.requests
                if r.url.startswith(collector.url) and not urlsplit(r.url).path.endswith(".js")]

    def storage(self) -> dict[str, Any]:
        """Everything this visitor's browser keeps for the sites: cookies, localStorage, IndexedDB."""
        return self.context.storage_state(indexed_db=True)  # type: ignore[no-any-return]


@pytest.fixture
def visit(chromium: Any) -> Iterator[Callable[..., Visit]]:
    """visit(url=None, bot=False, init=None, **context_options) -> Visit (a new visitor each call)."""
    visits: list[Visit] = []

    def open_visit(url: str | None = None, bot: bool = False, init: str | None = None,
                   **options: Any) -> Visit:
        context = chromium.new_context(user_agent=HUMAN_UA, **options)
        if not bot:
            context.add_init_script(HUMAN_INIT)
        if init:
            context.add_init_script(init)
        page = context.new_page()
        v = Visit(context, page)
        page.on("pageerror", lambda exc: v.errors.append(str(exc)))
        page.on("console", lambda msg: v.console.append(msg.text))
        context.on("request", lambda request: v.requests.append(request))
        visits.append(v)
        if url:
            page.goto(url)
        return v

    yield open_visit
    errors = [e for v in visits for e in v.errors]
    for v in visits:
        v.context.close()
    assert not errors, f"the page threw: {errors}"


def local_storage(v, origin: str) -> dict[str, str]:
    """The localStorage a visit (what the `visit` fixture gives) left for one origin."""
    for entry in v.storage()["origins"]:
        if entry["origin"] == origin:
            return {item["name"]: item["value"] for item in entry["localStorage"]}
    return {}


def served_size(collector: Server) -> tuple[int, int]:
    """Bytes of /s.js as served, raw and gzip -9."""
    body = httpx.get(collector.url + "/s.js", timeout=5).content
    return len(body), len(gzip.compress(body, compresslevel=9, mtime=0))
