"""/dashboard/report (the board report as a page, printable on A4) and /dashboard/report.xlsx (the same
sections, one sheet each). The numbers come from board.gather(); parameters: month (YYYY-MM, default the
last full month), model (default last_non_direct), site, outcome (default inscrit), repeated step, tz.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from webleads.analytics import reports
from webleads.collector.errors import error_response

from . import board, excel
from .context import site_names
from .i18n import Text
from .render import language, page, secure


def _ask(request: Request) -> tuple[dict[str, Any], str]:
    """The board's parameters from the query string, and the query string that asks for them again.
    A bad value is a ReportError: a 400 page (or JSON error for the download) saying which."""
    q = request.query_params
    tz = q.get("tz") or reports.DEFAULT_TZ
    reports.zone(tz)
    month = board.parse_month(q.get("month"), tz)
    site = q.get("site") or None
    if site is not None and site not in site_names(request):
        raise reports.ReportError("bad_site", f"no site named {site[:64]!r}")
    asked = {"month": month, "model": q.get("model") or board.DEFAULT_MODEL, "site": site, "tz": tz,
             "outcome": (q.get("outcome") or board.DEFAULT_OUTCOME).strip()[:101],
             "steps": [s.strip() for s in q.getlist("step") if s.strip()] or list(board.DEFAULT_STEPS)}
    pairs = [("month", month.strftime("%Y-%m")), ("model", asked["model"]), ("outcome", asked["outcome"])]
    pairs += [("site", site)] if site else []
    pairs += [("tz", tz)] if tz != reports.DEFAULT_TZ else []
    pairs += [("step", s) for s in asked["steps"]]
    return asked, urlencode(pairs)


def _gather(request: Request, asked: dict[str, Any]) -> board.Board:
    return board.gather(request.app.state.store, asked["month"], model=asked["model"], outcome=asked["outcome"],
                        steps=asked["steps"], tz=asked["tz"], site=asked["site"])


async def report(request: Request) -> Response:
    asked, query = _ask(request)
    found = await run_in_threadpool(_gather, request, asked)
    t = Text(language(request))
    return page(request, "board.html", chrome=True, models=reports.MODELS, query=query, f=found.filters(),
                sites=site_names(request), active="report", signed_in=True, **board.context(t, found))


async def report_xlsx(request: Request) -> Response:
    try:
        asked, _ = _ask(request)
        found = await run_in_threadpool(_gather, request, asked)
    except reports.ReportError as exc:
        return secure(error_response(exc))
    body = await run_in_threadpool(board.workbook, found, language(request))
    return excel.response(body, f"webleads-board-{asked['month']:%Y-%m}")
