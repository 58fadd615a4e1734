"""The collector's part of the web application: beacons, pixel, snippet, health, the root page, the host
check in front of every route and the error pages. cli/app.py assembles them with the API and the
dashboard."""

from __future__ import annotations

import logging
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect, Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp

from . import pages
from .endpoints import Dispatch, Receive, Scope, Send, refuse
from .errors import error_response
from .hosts import AllowedHosts
from .housekeeping import routes as housekeeping_routes
from .ingest import Collector
from .registry import embed_tag
from .rows import utcnow
from .settings import Settings
from .shortlinks import routes as link_routes
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


def routes(settings: Settings) -> list[BaseRoute]:
    """The collector's own routes: the root page, the beacon, the pixel, the snippet, health, the opt-out
    and metrics pages (housekeeping) and the short links. The application around them, with the API and
    the dashboard, is assembled by the command line (cli/app.py)."""
    s = settings
    return [
        Route("/", home, methods=["GET"]),
        Route(s.beacon_path, Dispatch(), methods=["POST", "OPTIONS"]),
        Route(s.pixel_path, Dispatch(), methods=["GET"]),
        Route(s.script_path, Dispatch(), methods=["GET"]),
        Route("/healthz", healthz, methods=["GET"]),
        *housekeeping_routes(),
        *link_routes(),
    ]


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


# Not found, not allowed, the client gone: answered in the collector's error shape.
EXCEPTION_HANDLERS: dict[Any, Any] = {404: _not_found, 405: _not_allowed, ClientDisconnect: _client_gone}
