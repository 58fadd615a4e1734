"""The overview's numbers: totals, days, visitors of the last 30 minutes (over the documented `events`
view) and the top channels, campaigns, sources and landing pages (over the analytics' `sessions`).

Bots are left out of every count; the page says how many events that was. Everything runs in one
worker thread per page (DuckDB calls block), with cursors of the collector's store.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from webleads.analytics import sessions
from webleads.collector.store import Store, utcnow

from .filters import Filters
from .render import sql

TOP_DIMENSIONS = ("channel", "campaign", "source", "landing_page")
TOP_LIMIT = 8
LIVE_MINUTES = 30


@dataclass
class Overview:
    visitors: int = 0
    pageviews: int = 0
    conversions: int = 0
    converted: int = 0
    bot_events: int = 0
    live: int = 0
    days: list[dict[str, Any]] = field(default_factory=list)
    top: dict[str, list[dict[str, Any]]] = field(default_factory=dict)


def compute(store: Store, f: Filters, now: datetime | None = None) -> Overview:
    start, end = f.instants()
    base = {"start": start, "end": end, "site": f.site}
    totals = store.query(sql("overview_totals"), base)[0]
    days = store.query(sql("overview_daily"), {**base, "first": f.start, "last": f.end, "tz": f.tz})
    since = (now or utcnow()) - timedelta(minutes=LIVE_MINUTES)
    live = store.query(sql("overview_live"), {"since": since, "site": f.site})[0]["visitors"]
    sessions.prepare(store)  # the derived sessions, up to date with the events
    top: dict[str, list[dict[str, Any]]] = {d: [] for d in TOP_DIMENSIONS}
    for row in store.query(sql("overview_top"), {**base, "limit": TOP_LIMIT}):
        top[row["dimension"]].append(row)
    return Overview(visitors=int(totals["visitors"]), pageviews=int(totals["pageviews"]),
                    conversions=int(totals["conversions"]), converted=int(totals["converted"]),
                    bot_events=int(totals["bot_events"]), live=int(live), days=days, top=top)
