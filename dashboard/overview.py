"""The overview's numbers: totals, days, visitors of the last 30 minutes (over event_log, the table behind
the documented `events` view: see sql/overview_counts.sql) and the top channels, campaigns, sources and
landing pages (over the analytics' derived `sessions`, one row per visit described by its landing).

Bots are left out of every count; the page says how many events that was. Conversions are those the site
accepted; the page says how many submissions it rejected, by status. Everything runs in one
worker thread per page (DuckDB calls block), with cursors of the collector's store.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

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
    rejected: list[dict[str, Any]] = field(default_factory=list)  # {status, conversions}, most first
    live: int = 0
    days: list[dict[str, Any]] = field(default_factory=list)
    top: dict[str, list[dict[str, Any]]] = field(default_factory=dict)


def local_time(tz: str, start: datetime, end: datetime) -> tuple[str, dict[str, Any]]:
    """SQL for `ts` (naive UTC) as a naive local time of `tz` between start and end, and its parameters.

    DuckDB's timezone() costs about 40 ms per 100,000 rows; the offset is constant between daylight
    saving changes, so the expression is `ts + offset` with a CASE over the (rare) changes in the period,
    found here with zoneinfo. The SQL text holds only parameter names; every value is bound.
    """
    zone = ZoneInfo(tz)

    def offset(seconds: int) -> timedelta:
        found = datetime.fromtimestamp(seconds, UTC).astimezone(zone).utcoffset()
        return found or timedelta(0)

    first, last = int(start.replace(tzinfo=UTC).timestamp()), int(end.replace(tzinfo=UTC).timestamp())
    pieces = [(first, offset(first))]
    for day in range(first, last, 86400):
        nxt = min(day + 86400, last)
        if offset(nxt) != pieces[-1][1]:
            lo, hi = day, nxt  # the change is in (lo, hi]: find its second
            while hi - lo > 1:
                mid = (lo + hi) // 2
                lo, hi = (mid, hi) if offset(mid) == pieces[-1][1] else (lo, mid)
            pieces.append((hi, offset(hi)))
    params: dict[str, Any] = {}
    cases = []
    for i, (since, shift) in reversed(list(enumerate(pieces))):
        params[f"offset{i}"] = shift
        if i:
            params[f"since{i}"] = datetime.fromtimestamp(since, UTC).replace(tzinfo=None)
            cases.append(f"WHEN ts >= $since{i} THEN $offset{i}")
    if not cases:
        return "(ts + $offset0)", params
    return f"(ts + CASE {' '.join(cases)} ELSE $offset0 END)", params


def compute(store: Store, f: Filters, now: datetime | None = None) -> Overview:
    sessions.prepare(store)  # the derived sessions (for the top lists) and the wl_is_bot macro
    start, end = f.instants()
    base = {"start": start, "end": end, "site": f.site}
    shift, shift_params = local_time(f.tz, start, end)
    counts = store.query(sql("overview_counts").replace("{local_ts}", shift), {**base, **shift_params})
    totals = next((r for r in counts if r["day"] is None), None)
    per_day = {r["day"]: r for r in counts if r["day"] is not None}
    days = []
    day = f.start
    while day <= f.end:  # every day of the period, those without traffic too
        found = per_day.get(day)
        days.append({"day": day, "visitors": found["visitors"] if found else 0,
                     "pageviews": found["pageviews"] if found else 0,
                     "conversions": found["conversions"] if found else 0})
        day += timedelta(days=1)
    since = (now or utcnow()) - timedelta(minutes=LIVE_MINUTES)
    live = store.query(sql("overview_live"), {"since": since, "site": f.site})[0]["visitors"]
    top: dict[str, list[dict[str, Any]]] = {d: [] for d in TOP_DIMENSIONS}
    for row in store.query(sql("overview_top"), {**base, "limit": TOP_LIMIT}):
        top[row["dimension"]].append(row)
    if totals is None:  # no event at all in the period
        return Overview(live=int(live), days=days, top=top)
    rejected = store.query(sql("overview_rejected"), base)
    return Overview(visitors=int(totals["visitors"]), pageviews=int(totals["pageviews"]),
                    conversions=int(totals["conversions"]), converted=int(totals["converted"]),
                    bot_events=int(totals["bot_events"]), rejected=rejected, live=int(live), days=days, top=top)
