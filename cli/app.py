"""The web application assembled from its parts: the collector's routes (collector/app.py), the report
API (analytics/api.py) and the dashboard, with the collector's start and stop around them."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware

from webleads.analytics import sessions
from webleads.analytics.api import routes as api_routes
from webleads.collector.app import EXCEPTION_HANDLERS, CheckHost
from webleads.collector.app import routes as collector_routes
from webleads.collector.housekeeping import background
from webleads.collector.ingest import Collector
from webleads.collector.settings import Settings
from webleads.collector.storage import Storage
from webleads.collector.store import Store
from webleads.dashboard import routes as dashboard_routes

log = logging.getLogger("webleads.collector")


def create_app(settings: Settings, store: Storage | None = None) -> Starlette:
    """The ASGI app. It opens settings.db at start-up (unless a store is given) and closes the store
    at shutdown, after the last request: the queue is drained and the file checkpointed. The local
    command channel is not among its routes: it has its own unix socket (collector/remote.py)."""

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

    routes = [*collector_routes(settings), *api_routes(), *dashboard_routes()]
    return Starlette(routes=routes, lifespan=lifespan, middleware=[Middleware(CheckHost, settings=settings)],
                     exception_handlers=EXCEPTION_HANDLERS)


def _prepare_sessions(store: Storage) -> None:
    try:
        sessions.prepare(store)
    except Exception:  # derived tables can be rebuilt later; the collector must start
        log.exception("bringing the sessions up to date at start failed; the first report will retry")
