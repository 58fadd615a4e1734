"""The Starlette application: beacons, pixel, snippet, health, root page; the API and dashboard
routes come from the analytics package."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from collections.abc import AsyncIterator
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.requests import ClientDisconnect, Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp

from . import pages
from .endpoints import Dispatch, Receive, Scope, Send, refuse
from .errors import error_response
from .hosts import AllowedHosts
from .housekeeping import background
from .ingest import Collector
from .registry import embed_tag
from .rows import utcnow
from .settings import Settings
from .storage import Storage
from .store import Store
from .validate import Rejected

log = logging.getLogger("webleads.collector")

NO_STORE = {"Cache-Control": "no-store, max-age=0"}


async def healthz(request: Request) -> Response:
    c: Collector = request.app.state.collector
    try:
        await run_in_threadpool(c.store.query, "SELECT 1 AS ok")
    except Exception as exc:  # noqa: BLE001 - a health check reports, it does not raise
        return JSONResponse({"status": "error", "reason": f"database: {exc}"}, status_code=503)
    answer: dict[str, Any] = {"status": "ok", "queue_depth": c.store.queue_depth,
                              "events_committed": c.store.stats["events"],
                              "sites": len(c.registry.sites), "geoip": c.geo.reader is not None}
    watch = getattr(c, "quiet", None)
    if watch is not None and watch.checked_at is not None:  # from the last check (collector/quiet.py)
        now = utcnow()
        answer["last_events"] = {a.site: a.last_event.isoformat() + "Z" if a.last_event else None
                                 for a in watch.latest}
        answer["warnings"] = [a.describe(now) for a in watch.latest if a.quiet]
        if answer["warnings"] and request.query_params.get("strict"):
            return JSONResponse({**answer, "status": "quiet"}, status_code=503, headers=NO_STORE)
    return JSONResponse(answer, headers=NO_STORE)


async def home(request: Request) -> Response:
    c: Collector = request.app.state.collector
    sites = list(c.registry.sites.values())
    tag = (embed_tag(c.settings.base_url, c.settings.script_path, sites[0].name, sites[0].consent) if sites
           else embed_tag(c.settings.base_url, c.settings.script_path, "NOM-DU-SITE"))
    return HTMLResponse(pages.home(c.settings, len(sites), tag), headers=NO_STORE)


def extra_routes() -> list[BaseRoute]:
    """API, dashboard, metrics and opt-out, from their own modules. The local command channel is not
    among them: it has its own unix socket (collector/remote.py), never the public port."""
    routes: list[BaseRoute] = []
    from webleads.analytics.api import routes as api_routes
    from webleads.dashboard import routes as dashboard_routes

    routes += api_routes() + dashboard_routes()
    from .housekeeping import routes as housekeeping_routes
    from .shortlinks import routes as link_routes

    routes += housekeeping_routes() + link_routes()
    return routes


def create_app(settings: Settings, store: Storage | None = None) -> Starlette:
    """The ASGI app. It opens settings.db at start-up (unless a store is given) and closes the store
    at shutdown, after the last request: the queue is drained and the file checkpointed."""

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        st = store or Store(settings.db, settings.queue_events, settings.batch_events, settings.commit_linger_ms)
        collector = Collector(settings, st)
        app.state.collector = collector
        app.state.store = st
        app.state.settings = settings
        if collector.geo.reader is None:
            log.warning("no GeoIP database configured: country, region and city stay empty "
                        "(set --geoip or WEBLEADS_GEOIP to a GeoLite2 or DB-IP .mmdb file)")
        fronts = getattr(app.state, "fronts", None)
        if fronts is not None:
            await fronts.start(collector)  # front processes answering the public port
        started = getattr(app.state, "on_started", None)
        if started:
            started(collector)
        # Bring the analytics' derived tables (sessions) up to date in the background, so that the
        # `events` view's session_id is current without waiting for the first report.
        warmup = asyncio.create_task(run_in_threadpool(_prepare_sessions, st))
        # What start-up built (modules, the recent event ids, caches) lives as long as the process:
        # moved out of the collector's sight, full collections pause for milliseconds, not tens.
        gc.freeze()
        try:
            async with background(collector):
                yield
        finally:
            if fronts is not None:
                await fronts.stop()  # they finish their requests; their events are committed
            if not warmup.done():
                await asyncio.wait([warmup])
            stopping = getattr(app.state, "on_stopping", None)
            if stopping:
                stopping(collector)
            await run_in_threadpool(st.close)  # drains the queue, checkpoints, closes
            collector.geo.close()
            log.info("collector stopped; %d events committed in this run", st.stats["events"])

    s = settings
    routes: list[BaseRoute] = [
        Route("/", home, methods=["GET"]),
        Route(s.beacon_path, Dispatch(), methods=["POST", "OPTIONS"]),
        Route(s.pixel_path, Dispatch(), methods=["GET"]),
        Route(s.script_path, Dispatch(), methods=["GET"]),
        Route("/healthz", healthz, methods=["GET"]),
        *extra_routes(),
    ]
    app = Starlette(routes=routes, lifespan=lifespan, middleware=[Middleware(CheckHost, settings=settings)],
                    exception_handlers={404: _not_found, 405: _not_allowed, ClientDisconnect: _client_gone})
    return app


class CheckHost:
    """Refuses requests naming another host than this collector (collector/hosts.py), except on the
    public paths. In front of every route, so relayed requests are checked here too."""

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.allowed = AllowedHosts(settings)
        self.public = frozenset((settings.beacon_path, settings.pixel_path, settings.script_path))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] not in self.public:
            host = next((v for k, v in scope["headers"] if k == b"host"), None)
            if not self.allowed(host):
                exc = Rejected(421, "unknown_host", "this collector does not answer to that name "
                                                    "(see public_url)")
                collector = getattr(scope["app"].state, "collector", None)
                if collector is not None:
                    collector.reject(exc)
                await refuse(send, exc)
                return
        await self.app(scope, receive, send)


def _prepare_sessions(store: Storage) -> None:
    from webleads.analytics import sessions

    try:
        sessions.prepare(store)
    except Exception:  # derived tables can be rebuilt later; the collector must start
        log.exception("bringing the sessions up to date at start failed; the first report will retry")


async def _not_found(request: Request, exc: Exception) -> Response:
    return error_response(Rejected(404, "not_found", f"nothing at {request.url.path}; see / for what is here"))


async def _client_gone(request: Request, exc: Exception) -> Response:
    """The client went away while its body was read (a sign-in form, a command): nobody is left to
    answer, and it is no fault of ours. Counted, not logged."""
    gone = Rejected(400, "disconnected", "the client went away before the body ended")
    request.app.state.collector.reject(gone)
    return error_response(gone)


async def _not_allowed(request: Request, exc: Exception) -> Response:
    return error_response(Rejected(405, "method_not_allowed", f"{request.method} is not allowed here"))


__all__ = ["create_app", "Collector"]
