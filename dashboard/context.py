"""What every page handler needs, below the pages themselves: the request's filters, the registered
sites, the values each template shares (the filter form, the menu, the demo notice), the 400 page for a
parameter the reports refuse, and the notes under an attribution table (the attribution and ROI pages).

pages.py, closedloop.py, downloads.py, privacy_page.py and board_page.py import this module and none of
them imports another page module back, so the dashboard's imports have no cycle.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from webleads.analytics import reports

from . import filters
from .i18n import Text
from .render import page


def report_errors(handler: Callable[[Request], Awaitable[Response]]) -> Callable[[Request], Awaitable[Response]]:
    """A parameter the reports refuse (one the filters could not foresee) is a 400 page saying why."""

    @functools.wraps(handler)
    async def answer(request: Request) -> Response:
        try:
            return await handler(request)
        except reports.ReportError as exc:
            return page(request, "error.html", status=400, message=None, reason=exc.reason,
                        **common(request, read_filters(request), ""))

    return answer


def site_names(request: Request) -> list[str]:
    return sorted(request.app.state.collector.registry.sites)


def read_filters(request: Request) -> filters.Filters:
    return filters.parse(request.query_params, site_names(request))


def common(request: Request, f: filters.Filters, active: str) -> dict[str, Any]:
    """The template values of every page: its filters, the sites, the active menu entry, the demo sites."""
    return {"f": f, "sites": site_names(request), "active": active, "signed_in": True, "demo_sites": _demo(request, f)}


def _demo(request: Request, f: filters.Filters) -> list[str]:
    """The demo sites among those the page shows: `webleads demo` data is synthetic, and every page says so."""
    registry = request.app.state.collector.registry
    return [name for name in ([f.site] if f.site else site_names(request)) if registry.is_demo(name)]


def attribution_notes(t: Text, report: reports.Report, model: str) -> list[str]:
    total = report.conversions or 0
    notes = []
    if total == 0:
        notes.append(t.gettext("No conversion in this period: nothing to attribute."))
    elif total < reports.FEW_CONVERSIONS:
        notes.append(t.ngettext(
            "Caution: only %(num)s conversion. With so few, a handful of leads more or less changes the order: "
            "read the counts, not only the percentages.",
            "Caution: only %(num)s conversions. With so few, a handful of leads more or less changes the order: "
            "read the counts, not only the percentages.", total))
    if model == "markov" and 0 < total < reports.FEW_FOR_MARKOV:
        notes.append(t.ngettext(
            "The Markov model estimates the chances of moving from one channel to another: with %(num)s "
            "conversion its results are unstable. Compare it with the linear or position-based model.",
            "The Markov model estimates the chances of moving from one channel to another: with %(num)s "
            "conversions its results are unstable. Compare it with the linear or position-based model.", total))
    return notes
