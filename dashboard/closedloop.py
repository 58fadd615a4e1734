"""The closed loop on the dashboard: short links and their QR codes, campaign costs and ROI, lead outcomes,
and declared sources ("how did you hear of us?").

Pages: /dashboard/roi (with a cost form), /dashboard/declared; the link builder's short links
(/dashboard/links) and their QR codes; an outcome form per lead on /dashboard/leads. The numbers come from
the analytics' report functions (roi, declared, link_list), the writes from the collector's own functions
(add_link, store_costs, store_outcomes) with their own checks, so the dashboard, the CLI and the API
accept and refuse the same things. The QR code is made by collector.shortlinks.qr_code, as for
`webleads link qr`.

The POST forms are defended as the sign-in is (auth.py): an Origin (or Referer) naming this collector,
and the SameSite=Strict session cookie. A refused value is a page that says what to change (400), never
a 500.
"""

from __future__ import annotations

from datetime import date
from typing import Any
from urllib.parse import urlencode

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from webleads.analytics import formats, reports, sessions
from webleads.analytics.declared import declared
from webleads.analytics.links import link_list
from webleads.analytics.params import check_roi_dimension
from webleads.analytics.roi import ROI_DIMENSIONS, roi
from webleads.collector.backoffice import check_costs, check_outcomes, known_leads, store_costs, store_outcomes
from webleads.collector.errors import error_response
from webleads.collector.rows import utcnow
from webleads.collector.shortlinks import QR_KINDS, LinkError, ShortLink, add_link, check_link, find_link, qr_code
from webleads.collector.validate import Rejected

from . import auth, data, excel, links
from .context import attribution_notes, common, read_filters
from .downloads import csv_response
from .filters import Filters, Problem
from .i18n import Text
from .render import language, page, secure, sql

FEW_FOR_A_ROW = 5  # a cost per conversion over fewer credited conversions than this is mostly chance
NO_ANSWER = "(no answer)"


# --- reading -------------------------------------------------------------------------------------------
def outcome_names(store: Any) -> list[str]:
    return [r["outcome"] for r in store.query(sql("outcome_names"))]


def form_fields(store: Any, f: Filters) -> list[str]:
    sessions.prepare(store)  # the conversions table the query reads
    start, end = f.instants()
    return [r["field"] for r in store.query(sql("form_fields"), {"start": start, "end": end, "site": f.site})]


def roi_by(f: Filters) -> str:
    return f.by if f.by in ROI_DIMENSIONS else "channel"


def roi_report(store: Any, f: Filters) -> reports.Report:
    return roi(store, model=f.model, by=roi_by(f), lookback=f.lookback, conversion=f.conversion, outcome=f.outcome,
               **f.report_options())


def declared_report(store: Any, f: Filters, field: str) -> reports.Report:
    return declared(store, field=field, lookback=f.lookback, conversion=f.conversion, outcome=f.outcome,
                    **f.report_options())


def short_links(request: Request, f: Filters, site: str | None) -> list[dict[str, Any]]:
    """The site's short links with their counts in the period, and the cost of their tags' campaign."""
    store = request.app.state.store
    request.app.state.collector.scans.flush(store)  # the scans of the last seconds, not yet written
    found = link_list(store, request.app.state.settings.base_url, from_day=f.start, to_day=f.end, tz=f.tz,
                      site=site, lookback=f.lookback)
    costs: dict[tuple[str, str, str, str], float] = {}
    for r in store.query(sql("link_costs"), {"first": f.start, "last": f.end}):
        costs[(r["site"], r["source"], r["medium"], r["campaign"])] = float(r["cost"])
    rows = []
    for r in found:
        tags = (r["utm_source"].lower(), r["utm_medium"].lower(), r["utm_campaign"].lower())
        cost = sum(costs.get((s, *tags), 0.0) for s in ("", r["site"]))
        rows.append({**r, "cost": cost, "cost_per_lead": round(cost / r["conversions"], 2)
                     if cost and r["conversions"] else None})
    return rows


def matrix(report: reports.Report) -> dict[str, Any]:
    """declared() as a table: one row per answer (most leads first, no answer last), one column per
    channel (most leads first), and the share of the Direct leads that declared a source."""
    answers: dict[str, int] = {}
    channels: dict[str, int] = {}
    cells: dict[tuple[str, str], int] = {}
    for r in report:
        answers[r["declared"]] = answers.get(r["declared"], 0) + r["leads"]
        channels[r["channel"]] = channels.get(r["channel"], 0) + r["leads"]
        cells[(r["declared"], r["channel"])] = r["leads"]
    order = sorted(answers, key=lambda a: (a == NO_ANSWER, -answers[a], a))
    columns = sorted(channels, key=lambda c: (-channels[c], c))
    direct = channels.get("Direct", 0)
    direct_declared = sum(n for (a, c), n in cells.items() if c == "Direct" and a != NO_ANSWER)
    return {"answers": order, "channels": columns, "cells": cells, "answer_totals": answers,
            "channel_totals": channels, "direct": direct, "direct_declared": direct_declared}


# --- pages -------------------------------------------------------------------------------------------
async def roi_page(request: Request) -> Response:
    f = read_filters(request)
    try:
        check_roi_dimension(f.by)
    except reports.ReportError as exc:
        f.problems.append(Problem(f"by={f.by!r}", exc))
    t = Text(language(request))
    store = request.app.state.store

    def compute() -> tuple[reports.Report, list[str], list[str]]:
        return roi_report(store, f), outcome_names(store), data.names(store, f)["conversion"]

    report, outcomes, conversions = await run_in_threadpool(compute)
    notes = attribution_notes(t, report, f.model)
    if not any(r["cost"] for r in report):
        notes.append(t.gettext("No cost recorded for this period: add them with the form below or with "
                               "webleads cost import."))
    few = any(r["cost_per_conversion"] is not None and r["conversions"] < FEW_FOR_A_ROW for r in report)
    return page(request, "roi.html", report=report, by=roi_by(f), notes=notes, few=few, few_limit=FEW_FOR_A_ROW,
                models=reports.MODELS, dimensions=ROI_DIMENSIONS, outcomes=outcomes, conversions=conversions,
                today=date.today().isoformat(), saved=request.query_params.get("saved"),
                **common(request, f, "roi"))


async def roi_csv(request: Request) -> Response:
    f = read_filters(request)
    try:
        report = await run_in_threadpool(roi_report, request.app.state.store, f)
    except reports.ReportError as exc:
        return secure(error_response(exc))
    name = "-".join(["webleads-roi", f.model, roi_by(f), f.start.isoformat(), f.end.isoformat()])
    return await _table(request, f, report, name, by=roi_by(f))


async def _table(request: Request, f: Filters, report: reports.Report, name: str, by: str | None = None) -> Response:
    """The CSV (`report roi`'s and `report declared`'s bytes), or at the address ending in .xlsx the same
    rows as an Excel file in the page's language, as downloads.py does for the other tables."""
    if request.url.path.endswith(".xlsx"):
        t = Text(language(request))
        body = await run_in_threadpool(excel.table, t, f, report, report.columns, name, by)
        return excel.response(body, name)
    return csv_response(formats.to_csv(report, report.columns), name)


# Without ?field=, the captured field whose name reads like "how did you hear of us?" (« Comment nous
# avez-vous connus ? » is usually named connu, connaissance, source...), else the most frequent one.
DECLARED_HINTS = ("connu", "connais", "heard", "hear", "source", "origine", "canal", "how", "comment")


def _field(request: Request, fields: list[str]) -> str | None:
    field = (request.query_params.get("field") or "").strip()
    if field:
        return field
    hinted = [name for name in fields if any(h in name.lower() for h in DECLARED_HINTS)]
    return (hinted or fields or [None])[0]


async def declared_page(request: Request) -> Response:
    f = read_filters(request)
    store = request.app.state.store

    def compute() -> tuple[list[str], str | None, reports.Report | None, list[str]]:
        fields = form_fields(store, f)
        field = _field(request, fields)
        report = declared_report(store, f, field) if field else None
        return fields, field, report, outcome_names(store)

    fields, field, report, outcomes = await run_in_threadpool(compute)
    return page(request, "declared.html", field=field, fields=fields, report=report,
                table=matrix(report) if report is not None else None, outcomes=outcomes, no_answer=NO_ANSWER,
                **common(request, f, "declared"))


async def declared_csv(request: Request) -> Response:
    f = read_filters(request)
    field = (request.query_params.get("field") or "").strip()
    try:
        report = await run_in_threadpool(declared_report, request.app.state.store, f, field)
    except reports.ReportError as exc:
        return secure(error_response(exc))
    return await _table(request, f, report, "-".join(["webleads-declared", f.start.isoformat(), f.end.isoformat()]))


async def links_extras(request: Request, f: Filters, site: str | None) -> dict[str, Any]:
    """What the link builder adds for short links: the list, and the link just made (?short=CODE)."""
    listed = await run_in_threadpool(short_links, request, f, site)
    code = request.query_params.get("short")
    made = next((r for r in listed if r["code"] == code), None) if code else None
    return {"short_links": listed, "short_made": made}


async def leads_extras(request: Request) -> dict[str, Any]:
    return {"outcomes": await run_in_threadpool(outcome_names, request.app.state.store),
            "saved": request.query_params.get("saved"), "back": _here(request)}


def _here(request: Request) -> str:
    query = "&".join(p for p in request.url.query.split("&") if p and not p.startswith("saved="))
    return request.url.path + (f"?{query}" if query else "")


async def qr_download(request: Request) -> Response:
    code, _, kind = request.path_params["name"].rpartition(".")
    link = await run_in_threadpool(find_link, request.app.state.store, code) if kind in QR_KINDS else None
    if link is None:
        return secure(error_response(Rejected(404, "unknown_link", "no short link with this code and kind "
                                                                   "(.png or .svg)")))
    url = f"{request.app.state.settings.base_url}/r/{link.code}"
    body = await run_in_threadpool(qr_code, url, kind)
    media = "image/png" if kind == "png" else "image/svg+xml"
    return secure(Response(body, media_type=media,
                           headers={"Content-Disposition": f'attachment; filename="qr-{link.code}.{kind}"'}))


# --- the forms (POST) -----------------------------------------------------------------------------------
def posted(handler: auth.Handler, back: str) -> auth.Handler:
    """A form's POST: refused (403) unless it comes from a page of this collector, and answered with the
    sign-in form (401) without a session; `back` is where signing in returns to."""

    async def guarded(request: Request) -> Response:
        if not auth.same_origin(request):
            return page(request, "error.html", status=403, message="err.origin")
        if await auth.current(request) is None:
            return page(request, "signin.html", status=401, message=None, next=back, error=False)
        return await handler(request)

    return guarded


def _refused(request: Request, message: str, back: str, active: str, status: int = 400) -> Response:
    return page(request, "refused.html", status=status, message=message, back=back,
                **common(request, read_filters(request), active))


def _saved(back: str, what: str) -> Response:
    return secure(RedirectResponse(back + ("&" if "?" in back else "?") + f"saved={what}", status_code=303))


def link_message(t: Text, exc: LinkError, code: str, origins: tuple[str, ...]) -> str:
    messages = {
        "bad_code": t.gettext("The code must be 1 to 32 letters, digits, “-” or “_” (for example "
                              "townhall-poster)."),
        "bad_target": t.gettext("The address must start with http:// or https://."),
        "foreign_target": t.gettext("The page address must be on the site (%(origins)s): a short link does not "
                                    "send people elsewhere.", origins=", ".join(origins)),
        "missing_tag": t.gettext("Give the page address, the source, the medium and the campaign."),
        "bad_tag": t.gettext("Each tag has at most 100 characters."),
        "taken_code": t.gettext("The code “%(code)s” is already taken: choose another one.", code=code),
    }
    return messages.get(exc.kind, str(exc))


async def short_link_create(request: Request) -> Response:
    t = Text(language(request))
    form = await auth.read_form(request, limit=8192)
    sites = request.app.state.collector.registry.sites
    site_name = form.get("site") or (sorted(sites)[0] if len(sites) == 1 else "")
    site = sites.get(site_name)
    tags = {param: links.normalise(form.get(name, "")[:200]) or None for name, param in links.FIELDS}
    url, code = form.get("url", "").strip()[:2000], form.get("code", "").strip()[:40]
    builder = {"site": site_name, "url": url, **{name: form.get(name, "")[:200] for name, _ in links.FIELDS}}
    back = "/dashboard/links?" + urlencode({k: v for k, v in builder.items() if v})
    if site is None:
        return _refused(request, t.gettext("Choose one of the registered sites."), back, "links")
    try:
        check_link(code, url, site.origins, tags)
        link = ShortLink(code=code, site=site.name, target=url, created_at=utcnow(), **tags)  # type: ignore[arg-type]
        await run_in_threadpool(add_link, request.app.state.store, link)
    except LinkError as exc:
        return _refused(request, link_message(t, exc, code, site.origins), back, "links")
    return secure(RedirectResponse(f"{back}&short={code}#short-made", status_code=303))


def cost_message(t: Text, code: str) -> str:
    if code == "bad_date":
        return t.gettext("The day must be a date (YYYY-MM-DD).")
    if code in ("missing_cost", "bad_cost"):
        return t.gettext("The cost must be an amount in euros, 0 or more (for example 120.50).")
    if code.startswith("bad_"):
        return t.gettext("Source, medium and campaign have at most 100 characters each.")
    return t.gettext("Give the day, the source, the medium, the campaign and the cost.")


async def cost_create(request: Request) -> Response:
    t = Text(language(request))
    form = await auth.read_form(request)
    back = auth.safe_next(form.get("back") or "/dashboard/roi")
    site = form.get("site") or ""
    if site and site not in request.app.state.collector.registry.sites:
        return _refused(request, t.gettext("Choose one of the registered sites."), back, "roi")
    record = {"date": form.get("day", ""), "source": form.get("source", ""), "medium": form.get("medium", ""),
              "campaign": form.get("campaign", ""), "cost": form.get("cost", "")}
    checked = check_costs([(1, record)], site)
    if checked.rejected_total:
        return _refused(request, cost_message(t, next(iter(checked.rejected))), back, "roi")
    await run_in_threadpool(store_costs, request.app.state.store, checked.rows)
    return _saved(back, "cost")


def outcome_message(t: Text, code: str, lead: str) -> tuple[str, int]:
    if code == "unknown_lead":
        return t.gettext("No lead has the id “%(lead)s”: it may have been removed, or the page is out of date.",
                         lead=lead[:64]), 404
    if code == "bad_value":
        return t.gettext("The value must be an amount in euros, 0 or more (for example 1500)."), 400
    if code == "bad_outcome":
        return t.gettext("The outcome has at most 100 characters."), 400
    if code == "missing_outcome":
        return t.gettext("Give an outcome (for example enrolled)."), 400
    return t.gettext("The form lost the lead's id: reload the leads page."), 400


async def outcome_create(request: Request) -> Response:
    t = Text(language(request))
    form = await auth.read_form(request)
    back = auth.safe_next(form.get("back") or "/dashboard/leads")
    store = request.app.state.store
    record = {"lead_id": form.get("lead_id", ""), "outcome": form.get("outcome", ""), "value": form.get("value", "")}
    checked = await run_in_threadpool(check_outcomes, [(1, record)], lambda ids: known_leads(store, ids))
    if checked.rejected_total:
        message, status = outcome_message(t, next(iter(checked.rejected)), record["lead_id"])
        return _refused(request, message, back, "leads", status)
    await run_in_threadpool(store_outcomes, store, checked.rows, "dashboard")
    return _saved(back, "outcome")


def routes(guard: Any) -> list[BaseRoute]:
    return [
        Route("/dashboard/roi", guard(roi_page), methods=["GET"]),
        Route("/dashboard/roi.csv", auth.signed_in(roi_csv, download=True), methods=["GET"]),
        Route("/dashboard/declared", guard(declared_page), methods=["GET"]),
        Route("/dashboard/declared.csv", auth.signed_in(declared_csv, download=True), methods=["GET"]),
        Route("/dashboard/links/qr/{name}", auth.signed_in(qr_download, download=True), methods=["GET"]),
        Route("/dashboard/links/short", posted(short_link_create, "/dashboard/links"), methods=["POST"]),
        Route("/dashboard/costs", posted(cost_create, "/dashboard/roi"), methods=["POST"]),
        Route("/dashboard/outcomes", posted(outcome_create, "/dashboard/leads"), methods=["POST"]),
    ]
