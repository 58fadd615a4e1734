"""The one straight line of ingest: events -> validated -> enriched rows -> committed.

Shared by the database process (the store and the registry are the real ones) and the front
processes (stand-ins reaching the database process over a unix socket); it loads neither DuckDB nor
Starlette, so a front process stays small."""

from __future__ import annotations

import hashlib
from typing import Any

from .endpoints import Endpoints
from .enrich import Context, Geo, build_row
from .optcheck import CHECKED, Checks, check_token
from .rows import COLUMN_INDEX, Overloaded, StoreClosed, utcnow
from .settings import Settings
from .validate import Rejected, check_time, validate_event

IS_BOT = COLUMN_INDEX["is_bot"]
NO_CONSENT = "no_consent"  # a consent-required site's event without the visitor id that consent brings


class Collector:
    """Everything a request needs, built once at start-up. In the front process (collector/front.py)
    the store and the registry are stand-ins that reach the database process over a unix socket."""

    def __init__(self, settings: Settings, store: Any, registry: Any = None) -> None:
        self.settings = settings
        self.store = store
        if registry is None:
            from .registry import Registry  # the database process only: it loads DuckDB

            registry = Registry(store)
        self.registry = registry
        self.geo = Geo(settings.geoip or None, on_failure=self.enrich_failed)
        self.rejections: dict[str, int] = {}
        # Enrichment steps that failed (the event was stored without what they add), by step.
        self.enrich_failures: dict[str, int] = {"geo": 0}
        self.dropped: dict[str, int] = {}
        self.bots_flagged = 0
        self.checks = Checks()  # the opt-out page's test visits (collector/optcheck.py)
        self._origins: frozenset[str] = frozenset()
        self._origins_of: object = None  # the registry's dict of sites they were taken from
        from webleads.snippet import script

        self.script = script(settings.beacon_path, settings.pixel_path)
        self.script_etag = '"' + hashlib.sha256(self.script).hexdigest()[:16] + '"'
        self.endpoints = Endpoints(self)

    def reject(self, exc: Rejected) -> None:
        self.rejections[exc.code] = self.rejections.get(exc.code, 0) + 1

    def enrich_failed(self, step: str) -> None:
        self.enrich_failures[step] = self.enrich_failures.get(step, 0) + 1

    def checked(self, site: str, token: str) -> None:
        """A test visit of the opt-out page arrived: this browser is still counted."""
        self.checks.saw(site, token)

    def drop(self, reasons: dict[str, int]) -> None:
        """Valid events answered as usual and stored nowhere (DNT, GPC, no consent, opt-out checks), by reason."""
        for reason, n in reasons.items():
            self.dropped[reason] = self.dropped.get(reason, 0) + n

    # --- the one straight line: events -> validated -> enriched rows -> committed --------------
    async def ingest(self, events: list[Any], ctx: Context, allowed_origin: str | None,
                     extra_params: dict[str, str] | None = None, live: bool = True) -> int:
        now = utcnow()
        salt = self.registry.cached_salt(now) or await self.registry.salt_async(now)
        rows = []
        dropped: dict[str, int] = {}
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
            token = check_token(ev.url)
            if token is not None:  # the opt-out page's test visit: it shows the browser is counted, and no more
                self.checked(site.name, token)
                dropped[CHECKED] = dropped.get(CHECKED, 0) + 1
                continue
            # The snippet's privacy rules, enforced here for every client: validated (a bad event is
            # refused as usual), answered as if stored, and neither enriched nor stored.
            refused = ctx.refused or (NO_CONSENT if site.consent == "required" and not ev.visitor_id else None)
            if refused:
                dropped[refused] = dropped.get(refused, 0) + 1
                continue
            row = build_row(ev, site, ctx, now, salt, self.geo, extra_params)
            self.bots_flagged += row[IS_BOT]
            rows.append(row)
        if dropped:
            self.drop(dropped)
            if not rows:
                return 0
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
        """Whether some site has this origin (for CORS). Asked at every beacon: the set of origins is
        rebuilt only when the registry's dict of sites is replaced, as it is at every change."""
        sites = self.registry.sites
        if sites is not self._origins_of:
            self._origins = frozenset(o for s in sites.values() for o in s.origins)
            self._origins_of = sites
        return origin in self._origins
