"""The Starlette application: beacons, pixel, snippet, health, root page; the API and dashboard
routes come from the analytics package."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import hashlib
import logging
from collections.abc import AsyncIterator
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import BaseRoute, Route

from . import endpoints, pages
from .endpoints import Dispatch, Endpoints
from .enrich import Context, Geo, build_row
from .housekeeping import background
from .registry import Registry, embed_tag
from .settings import Settings
from .store import COLUMN_INDEX, Overloaded, Store, StoreClosed, utcnow
from .validate import Rejected, check_time, validate_event

log = logging.getLogger("webleads.collector")

NO_STORE = {"Cache-Control": "no-store, max-age=0"}
IS_BOT = COLUMN_INDEX["is_bot"]


class Collector:
    """Everything a request needs, built once at start-up. In the front process (collector/front.py)
    the store and the registry are stand-ins that reach the database process over a unix socket."""

    def __init__(self, settings: Settings, store: Any, registry: Any = None) -> None:
        self.settings = settings
        self.store = store
        self.registry = registry if registry is not None else Registry(store)
        self.geo = Geo(settings.geoip or None)
        self.rejections: dict[str, int] = {}
        self.bots_flagged = 0
        from webleads.snippet import script

        self.script = script(settings.beacon_path, settings.pixel_path)
        self.script_etag = '"' + hashlib.sha256(self.script).hexdigest()[:16] + '"'
        self.endpoints = Endpoints(self)

    def reject(self, exc: Rejected) -> None:
        self.rejections[exc.code] = self.rejections.get(exc.code, 0) + 1

    # --- the one straight line: events -> validated -> enriched rows -> committed --------------
    async def ingest(self, events: list[Any], ctx: Context, allowed_origin: str | None,
                     extra_params: dict[str, str] | None = None, live: bool = True) -> int:
        now = utcnow()
        salt = self.registry.cached_salt(now) or await self.registry.salt_async(now)
        rows = []
        for raw in events:
            ev = validate_event(raw)
            site = self.registry.get(ev.site) or await self.registry.fresh(ev.site)
            if site is None:
                raise Rejected(400, "unknown_site",
                               f"site '{ev.site}' is not registered (webleads site add {ev.site} --origin ...)")
            if allowed_origin is not None and allowed_origin not in site.origins:
                raise Rejected(403, "origin_not_allowed",
                               f"origin {allowed_origin} is not among the origins of site '{site.name}'")
            if live and ev.ts is not None:
                check_time(ev.ts, now, self.settings.max_past_seconds, self.settings.max_future_seconds)
            row = build_row(ev, site, ctx, now, salt, self.geo, extra_params)
            self.bots_flagged += row[IS_BOT]
            rows.append(row)
        try:
            future = self.store.submit_async(rows)
        except (Overloaded, StoreClosed):
            raise Rejected(503, "overloaded", "the collector is busy; retry in a few seconds") from None
        try:
            result = await future
        except Overloaded:
            raise Rejected(503, "overloaded", "the collector is busy; retry in a few seconds") from None
        except Exception:
            raise Rejected(503, "storage_error", "the event could not be stored; retry later") from None
        return int(result.stored)

    def origin_allowed_anywhere(self, origin: str) -> bool:
        return any(origin in s.origins for s in self.registry.sites.values())


def error_response(exc: Rejected, headers: dict[str, str] | None = None) -> Response:
    hdrs = {"X-Webleads-Reason": exc.code, **(headers or {})}
    if exc.status == 503:
        hdrs["Retry-After"] = "2"
    return JSONResponse({"error": exc.code, "reason": exc.reason}, status_code=exc.status, headers=hdrs)


async def read_body(request: Request, limit: int) -> bytes:
    """A Starlette request's body, capped as the beacons' is (the API's events and imports)."""
    return await endpoints.read_body(request.receive, endpoints.header_map(request.scope), limit)


async def healthz(request: Request) -> Response:
    c: Collector = request.app.state.collector
    try:
        await run_in_threadpool(c.store.query, "SELECT 1 AS ok")
    except Exception as exc:  # noqa: BLE001 - a health check reports, it does not raise
        return JSONResponse({"status": "error", "reason": f"database: {exc}"}, status_code=503)
    return JSONResponse({"status": "ok", "queue_depth": c.store.queue_depth,
                         "events_committed": c.store.stats["events"],
                         "sites": len(c.registry.sites), "geoip": c.geo.reader is not None},
                        headers=NO_STORE)


async def home(request: Request) -> Response:
    c: Collector = request.app.state.collector
    sites = list(c.registry.sites.values())
    tag = (embed_tag(c.settings.base_url, c.settings.script_path, sites[0].name, sites[0].consent) if sites
           else embed_tag(c.settings.base_url, c.settings.script_path, "NOM-DU-SITE"))
    return HTMLResponse(pages.home(c.settings, len(sites), tag), headers=NO_STORE)


def extra_routes() -> list[BaseRoute]:
    """API, dashboard and the local command channel, from their own modules."""
    routes: list[BaseRoute] = []
    from webleads.analytics.api import routes as api_routes
    from webleads.dashboard import routes as dashboard_routes

    routes += api_routes() + dashboard_routes()
    from .housekeeping import routes as housekeeping_routes
    from .remote import routes as remote_routes

    routes += remote_routes() + housekeeping_routes()
    return routes


def create_app(settings: Settings, store: Store | None = None) -> Starlette:
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
    app = Starlette(routes=routes, lifespan=lifespan, exception_handlers={404: _not_found, 405: _not_allowed})
    return app


def _prepare_sessions(store: Store) -> None:
    from webleads.analytics import sessions

    try:
        sessions.prepare(store)
    except Exception:  # derived tables can be rebuilt later; the collector must start
        log.exception("bringing the sessions up to date at start failed; the first report will retry")


async def _not_found(request: Request, exc: Exception) -> Response:
    return error_response(Rejected(404, "not_found", f"nothing at {request.url.path}; see / for what is here"))


async def _not_allowed(request: Request, exc: Exception) -> Response:
    return error_response(Rejected(405, "method_not_allowed", f"{request.method} is not allowed here"))


__all__ = ["create_app", "Collector"]
