"""The dashboard: the reports as web pages at /dashboard, in French by default (English with ?lang=en).

Server-rendered HTML (Jinja2, autoescaped), charts as inline SVG, one small script and one style sheet
from dashboard/static/ (no inline script or style: the Content-Security-Policy allows only these). Sign
in with an API token, then a session cookie (auth.py). Pages: overview, attribution with a comparison
of models, funnels, leads (with their outcomes), campaign link builder (with short links and QR codes),
ROI, declared sources, the privacy notice of each site; each table downloads as the same CSV as the API.
"""

from __future__ import annotations

from starlette.routing import BaseRoute, Route

from . import auth, board_page, closedloop, downloads, pages, privacy_page
from .context import report_errors
from .render import static


def routes() -> list[BaseRoute]:
    def guard(handler: auth.Handler) -> auth.Handler:
        return auth.signed_in(report_errors(handler))

    return [
        Route("/dashboard", report_errors(pages.home), methods=["GET"]),
        Route("/dashboard/", report_errors(pages.home), methods=["GET"]),
        Route("/dashboard/signin", auth.signin, methods=["POST"]),
        Route("/dashboard/signout", auth.signout, methods=["POST"]),
        Route("/dashboard/attribution", guard(pages.attribution), methods=["GET"]),
        Route("/dashboard/funnel", guard(pages.funnel), methods=["GET"]),
        Route("/dashboard/leads", guard(pages.leads), methods=["GET"]),
        Route("/dashboard/links", guard(pages.links_page), methods=["GET"]),
        Route("/dashboard/privacy", guard(privacy_page.privacy), methods=["GET"]),
        Route("/dashboard/overview.csv", auth.signed_in(downloads.overview_csv, download=True), methods=["GET"]),
        Route("/dashboard/attribution.csv", auth.signed_in(downloads.attribution_csv, download=True),
              methods=["GET"]),
        Route("/dashboard/compare.csv", auth.signed_in(downloads.compare_csv, download=True), methods=["GET"]),
        Route("/dashboard/funnel.csv", auth.signed_in(downloads.funnel_csv, download=True), methods=["GET"]),
        Route("/dashboard/leads.csv", auth.signed_in(downloads.leads_csv, download=True), methods=["GET"]),
        *closedloop.routes(guard),
        Route("/dashboard/static/{name}", static, methods=["GET"]),
        Route("/dashboard/report", guard(board_page.report), methods=["GET"]),
        Route("/dashboard/report.xlsx", auth.signed_in(board_page.report_xlsx, download=True), methods=["GET"]),
        *excel_routes(),
    ]


def excel_routes() -> list[BaseRoute]:
    """Each download again as an Excel file: the same handler, at the address ending in .xlsx."""
    tables = {"overview": downloads.overview_csv, "attribution": downloads.attribution_csv,
              "compare": downloads.compare_csv, "funnel": downloads.funnel_csv, "leads": downloads.leads_csv,
              "roi": closedloop.roi_csv, "declared": closedloop.declared_csv}
    return [Route(f"/dashboard/{name}.xlsx", auth.signed_in(handler, download=True), methods=["GET"])
            for name, handler in tables.items()]
