"""Fixtures of the dashboard tests, built once for the folder (the suite stays under two minutes). They are
package-scoped, as the snippet's browser fixtures: Playwright's sync API keeps an event loop in the main
thread while it runs, so it must stop before other folders' tests call asyncio.run.

- `dash`: a database filled by the real `webleads demo`, a token from `webleads token create`, one
  `webleads serve` for every test, and a campaign named `<img src=x onerror=alert(1)>` (with a
  `<script>` source) sent as a real beacon, then converted, so that it reaches every report.
- `browser`: Debian's /usr/bin/chromium driven by Playwright (never a browser download). Missing
  chromium skips the browser tests, except under CI, where it fails them.
- `signed_in`: a new browser context already signed in (through the sign-in form, once for the folder),
  recording page errors, console errors, dialogs and every requested URL; the test fails on any page
  error, console error (a Content-Security-Policy violation is one) or dialog.
- `shot(page, name)`: a full-page screenshot in the test's output folder (tmp_path), copied to
  test-results/dashboard/.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import orjson
import pytest

from conftest import CHROMIUM, CHROMIUM_ARGS, Server, free_port, require_chromium, webleads

DEMO_VISITORS = 1500
DEMO_SEED = 11
DEMO_ORIGIN = "https://www.ecloserie.fr"  # the pages of the demo's own site, `demo`
XSS_CAMPAIGN = "<img src=x onerror=alert(1)>"
XSS_SOURCE = "<script>alert(2)</script>"
HUMAN_UA = ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
            "Chrome/131.0.0.0 Safari/537.36")
RESULTS = Path(__file__).resolve().parents[2] / "test-results" / "dashboard"


@dataclass
class Dash:
    server: Server
    token: str
    today: date  # in Europe/Paris, the reports' default time zone

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def everything(self) -> dict[str, str]:
        """A range that holds all the demo's 90 days and today's beacons."""
        return {"from": (self.today - timedelta(days=100)).isoformat(), "to": self.today.isoformat()}

    def api(self, report: str, params: dict[str, Any] | list[tuple[str, str]], fmt: str = "json") -> httpx.Response:
        pairs = list(params.items()) if isinstance(params, dict) else list(params)
        response = httpx.get(f"{self.url}/api/v1/reports/{report}", params=pairs + [("format", fmt)],
                             headers={"Authorization": f"Bearer {self.token}"}, timeout=60)
        assert response.status_code == 200, response.text
        return response

    def cli(self, *args: str) -> str:
        return webleads(*args, db=self.server.db).stdout


def _beacon(srv: Server, event: dict[str, Any]) -> None:
    response = httpx.post(srv.url + "/e", content=orjson.dumps(event), timeout=10,
                          headers={"Origin": DEMO_ORIGIN, "Content-Type": "text/plain", "User-Agent": HUMAN_UA})
    assert response.status_code == 204, response.text


@pytest.fixture(scope="package")
def dash(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dash]:
    folder = tmp_path_factory.mktemp("dashboard")
    db = folder / "demo.duckdb"
    webleads("demo", "--visitors", str(DEMO_VISITORS), "--seed", str(DEMO_SEED), db=db)
    token = webleads("token", "create", "--name", "dashboard-tests", db=db).stdout.strip().splitlines()[-1]
    srv = Server(db=db, port=free_port(), log_path=folder / "serve.log")
    srv.start()
    try:
        landing = (f"{DEMO_ORIGIN}/candidater?utm_source={XSS_SOURCE}&utm_medium=email"
                   f"&utm_campaign={XSS_CAMPAIGN}")
        _beacon(srv, {"site": "demo", "type": "pageview", "url": landing, "visitor_id": "xss-visitor",
                      "referrer": "https://mail.example.org/"})
        _beacon(srv, {"site": "demo", "type": "conversion", "name": "candidater", "visitor_id": "xss-visitor",
                      "url": f"{DEMO_ORIGIN}/candidater"})
        yield Dash(srv, token, datetime.now(ZoneInfo("Europe/Paris")).date())
    finally:
        srv.kill()


# --- the browser -------------------------------------------------------------------------------------
@pytest.fixture(scope="package")
def browser() -> Iterator[Any]:
    require_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()


@dataclass
class Tab:
    """One browser context and its page, with what happened in it."""
    context: Any
    page: Any
    base: str
    errors: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)
    urls: list[str] = field(default_factory=list)

    def open(self, path: str) -> Any:
        response = self.page.goto(self.base + path)
        assert response is not None and response.status == 200, (path, response and response.status)
        return response

    def rows(self, table: str) -> list[list[str | None]]:
        """The data-value of every cell of a table's body, row by row."""
        return self.page.eval_on_selector_all(  # type: ignore[no-any-return]
            f"#{table} tbody tr", "rows => rows.map(r => [...r.children].map(c => c.dataset.value ?? null))")

    def texts(self, table: str) -> list[list[str]]:
        return self.page.eval_on_selector_all(  # type: ignore[no-any-return]
            f"#{table} tbody tr", "rows => rows.map(r => [...r.children].map(c => c.innerText.trim()))")


def open_tab(browser: Any, base: str, **options: Any) -> Tab:
    context = browser.new_context(user_agent=HUMAN_UA, accept_downloads=True, **options)
    page = context.new_page()
    tab = Tab(context, page, base)
    page.on("pageerror", lambda exc: tab.errors.append(f"page error: {exc}"))
    page.on("console", lambda msg: tab.errors.append(f"console {msg.type}: {msg.text}")
            if msg.type == "error" else None)
    page.on("dialog", lambda dialog: (tab.dialogs.append(dialog.message), dialog.dismiss()))
    context.on("request", lambda request: tab.urls.append(request.url))
    return tab


@pytest.fixture(scope="package")
def signed_in_state(browser: Any, dash: Dash) -> dict[str, Any]:
    """The cookies of a browser that signed in through the form (once for the session)."""
    tab = open_tab(browser, dash.url)
    try:
        tab.open("/dashboard")
        tab.page.fill("#token", dash.token)
        with tab.page.expect_navigation():
            tab.page.click("form[action='/dashboard/signin'] button[type=submit]")
        assert tab.page.locator("h1").inner_text() in ("Vue d’ensemble", "Overview")
        return tab.context.storage_state()  # type: ignore[no-any-return]
    finally:
        tab.context.close()


@pytest.fixture
def new_tab(browser: Any, dash: Dash) -> Iterator[Callable[..., Tab]]:
    """new_tab(**context_options) -> Tab (signed out unless given a storage_state); the test fails on a page
    error, a console error or a dialog in any of its tabs."""
    tabs: list[Tab] = []

    def make(**options: Any) -> Tab:
        tab = open_tab(browser, dash.url, **options)
        tabs.append(tab)
        return tab

    yield make
    problems = [e for t in tabs for e in t.errors] + [f"dialog: {d}" for t in tabs for d in t.dialogs]
    for t in tabs:
        t.context.close()
    assert not problems, problems


@pytest.fixture
def signed_in(new_tab: Callable[..., Tab], signed_in_state: dict[str, Any]) -> Tab:
    """A signed-in tab (French, the default language)."""
    return new_tab(storage_state=signed_in_state)


@pytest.fixture
def shot(tmp_path: Path) -> Callable[[Any, str], Path]:
    def take(page: Any, name: str) -> Path:
        path = tmp_path / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        RESULTS.mkdir(parents=True, exist_ok=True)
        shutil.copy(path, RESULTS / path.name)
        return path

    return take
