"""CSV downloads of what the pages show: the same filters (the page's query string), the same data
function, and the CSV writer of the CLI and API (webleads.analytics.formats: DESIGN.md's columns first,
formula-like cells neutralised), so a download equals the API's CSV for the same query.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from webleads.analytics import formats, reports
from webleads.collector.errors import error_response
from webleads.collector.validate import Rejected

from . import data, excel, overview
from .context import read_filters
from .filters import Filters
from .i18n import Text
from .render import language, secure


def csv_response(text: str, name: str) -> Response:
    return secure(Response(text, media_type="text/csv; charset=utf-8",
                           headers={"Content-Disposition": f'attachment; filename="{name}.csv"'}))


def _name(kind: str, f: Filters, *parts: str) -> str:
    return "-".join(["webleads", kind, *parts, f.start.isoformat(), f.end.isoformat()])


async def _download(request: Request, make: Callable[[Any, Filters], tuple[Sequence[dict[str, Any]],
                                                                              Sequence[str], str]]) -> Response:
    """The table as CSV (the API's bytes) or, at the same address ending in .xlsx, as an Excel file in the
    page's language (excel.py)."""
    f = read_filters(request)
    try:
        rows, columns, name = await run_in_threadpool(make, request.app.state.store, f)
    except reports.ReportError as exc:
        return secure(error_response(exc))
    if request.url.path.endswith(".xlsx"):
        body = await run_in_threadpool(excel.table, Text(language(request)), f, rows, columns, name)
        return excel.response(body, name)
    return csv_response(formats.to_csv(rows, columns), name)


async def attribution_csv(request: Request) -> Response:
    def make(store: Any, f: Filters) -> tuple[Any, Any, str]:
        report = data.attribution(store, f)
        return report, report.columns, _name("attribution", f, f.model, f.by)

    return await _download(request, make)


async def compare_csv(request: Request) -> Response:
    def make(store: Any, f: Filters) -> tuple[Any, Any, str]:
        comparison = data.compare(store, f)
        if len(comparison.models) < 2:
            raise reports.ReportError("bad_compare", "give at least two models with compare=")
        return comparison.rows, comparison.columns, _name("comparison", f, f.by)

    return await _download(request, make)


async def funnel_csv(request: Request) -> Response:
    by = request.query_params.get("by") or None  # as in the API: the split of the funnel, if any

    def make(store: Any, f: Filters) -> tuple[Any, Any, str]:
        if not f.steps:
            raise reports.ReportError("bad_step", "give at least one step, e.g. step=pageview:/formation*")
        report = data.funnel(store, f, by=by)
        return report, report.columns, _name("funnel", f, *((by,) if by else ()))

    return await _download(request, make)


async def leads_csv(request: Request) -> Response:
    t = Text(language(request))  # the search (q=) matches what the page showed, in its language

    def make(store: Any, f: Filters) -> tuple[Any, Any, str]:
        report, _ = data.leads(store, f, t)
        return report, report.columns, _name("leads", f)

    return await _download(request, make)


DAILY_COLUMNS = ("day", "visitors", "pageviews", "conversions")


async def overview_csv(request: Request) -> Response:
    table = request.query_params.get("table") or "daily"
    if table not in ("daily", *overview.TOP_DIMENSIONS):
        return secure(error_response(Rejected(400, "bad_table", "table is daily, channel, campaign, source or "
                                                                "landing_page")))

    def make(store: Any, f: Filters) -> tuple[Any, Any, str]:
        ov = overview.compute(store, f)
        if table == "daily":
            return ov.days, DAILY_COLUMNS, _name("daily", f)
        rows = [{table: r["value"], "sessions": r["sessions"], "visitors": r["visitors"],
                 "conversions": r["conversions"], "share": round(r["sessions"] / r["total"], 6) if r["total"] else 0.0}
                for r in ov.top[table]]
        return rows, (table, "sessions", "visitors", "conversions", "share"), _name("top", f, table)

    return await _download(request, make)
