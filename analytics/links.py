"""The short links' report (`webleads link list`): per link, scans, visitors who landed through it and
conversions whose journey went through it, over the same filters as the other reports.

A link's visits are the sessions whose landing carries its tags (source, medium, campaign, and its
content when it has one), so a visit typed by hand with the same tags counts too: give each printed
item its own campaign or content to tell them apart.
"""

from __future__ import annotations

from typing import Any

from . import sessions
from .queries import sql
from .reports import Report, filters, rows_of
from .sessions import Source

LINK_COLUMNS = ("code", "url", "scans", "visitors", "conversions", "short_url", "site", "utm_source", "utm_medium",
                "utm_campaign", "utm_content", "scanners", "created_at")


def link_list(source: Source, base_url: str, **options: Any) -> Report:
    """Every short link with its counts in the period (scans and visits in it; conversions in it with
    their lookback window)."""
    f = filters(**options)
    sessions.prepare(source)
    found = rows_of(source, sql("journeys") + sql("link_list"), f.params())
    rows = [{"code": r["code"], "url": r["target"], "scans": int(r["scans"]), "visitors": int(r["visitors"]),
             "conversions": int(r["conversions"]), "short_url": f"{base_url}/r/{r['code']}", "site": r["site"],
             "utm_source": r["utm_source"], "utm_medium": r["utm_medium"], "utm_campaign": r["utm_campaign"],
             "utm_content": r["utm_content"], "scanners": int(r["scanners"]),
             "created_at": r["created_at"].isoformat(timespec="seconds")} for r in found]
    notes = [] if rows else ["No short link yet: webleads link add CODE --to URL --utm-source ... "
                             "--utm-medium affiche --utm-campaign ..."]
    return Report(rows, LINK_COLUMNS, notes, None)
