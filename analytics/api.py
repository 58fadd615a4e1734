"""The token-protected report API under /api/v1/ (mounted by collector/app.py).

    GET  /api/v1/reports/attribution  model, by, from, to, tz, site, conversion, lookback, outcome, value,
                                      include_bots, include_rejected, format
    GET  /api/v1/reports/funnel       step (repeated, in order), window, by, from, to, tz, site, include_bots,
                                      include_rejected, format
    GET  /api/v1/reports/leads        from, to, tz, site, conversion, lookback, include_bots, include_rejected,
                                      format
    GET  /api/v1/reports/declared     field, from, to, tz, site, conversion, lookback, include_bots,
                                      include_rejected, outcome, format
    GET  /api/v1/reports/roi          model, by, from, to, tz, site, conversion, lookback, outcome, include_bots,
                                      include_rejected, format
    POST /api/v1/events               a JSON event or array (the import columns): server-side events
    POST /api/v1/outcomes             {"lead_id", "outcome", "value"?, "ts"?} or an array: what became of leads

Every call needs `Authorization: Bearer TOKEN` (webleads token create; only its hash is stored): 401
otherwise. format=json (default) answers {"rows": [...], "notes": [...], "conversions": N}; format=csv a
download (Content-Disposition: attachment) with the CLI's columns, formula cells neutralised; format=xlsx
the same rows as an Excel file (xlsx.py), its headers in French or, with lang=en, English. Any bad
parameter (unknown name, model, dimension, malformed day, step, window...) is a 400 in the collector's
error shape {"error": code, "reason": sentence} with the code in X-Webleads-Reason.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from webleads.collector.backoffice import check_outcomes, known_leads, store_outcomes
from webleads.collector.endpoints import parse_events
from webleads.collector.endpoints import read_request_body as read_body
from webleads.collector.errors import error_response
from webleads.collector.registry import check_token
from webleads.collector.validate import Rejected

from . import formats, headers, params, reports, xlsx
from .declared import declared
from .roi import roi

MAX_BODY = 1024 * 1024
MAX_EVENTS = 1000
OUTPUT = ("format", "lang")  # how the answer is written (lang: the words of an xlsx file), beside params.NAMES
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
Handler = Callable[[Request], Awaitable[Response]]


def _authorised(handler: Handler) -> Handler:
    async def wrapper(request: Request) -> Response:
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        ok = scheme.lower() == "bearer" and await run_in_threadpool(check_token, request.app.state.store,
                                                                    token.strip())
        if not ok:
            reason = "a Bearer token is required (webleads token create)" if not header else "this token is not valid"
            return error_response(Rejected(401, "unauthorized", reason),
                                  {"WWW-Authenticate": 'Bearer realm="webleads"'})
        try:
            return await handler(request)
        except Rejected as exc:  # params.ReportError too: a 400
            return error_response(exc)

    return wrapper


def _params(request: Request, report: str) -> tuple[dict[str, Any], str]:
    """The query parameters as report options (params.py reads them); refuses unknown or repeated ones."""
    query = request.query_params
    params.check_names(query, report, OUTPUT)
    fmt = query.get("format", "json")
    if fmt not in ("json", "csv", "xlsx"):
        raise Rejected(400, "bad_format", "format must be json, csv or xlsx")
    if query.get("lang", "fr") not in headers.LANGS:
        raise Rejected(400, "bad_lang", "lang must be fr or en (the words of an xlsx file)")
    return params.parse(report, query).options(), fmt


def _answer(result: reports.Report, fmt: str, filename: str, request: Request | None = None,
            options: dict[str, Any] | None = None) -> Response:
    if fmt == "xlsx":
        lang = headers.check_lang(request.query_params.get("lang") if request else None)
        body = xlsx.to_xlsx([xlsx.Sheet(filename.removeprefix("webleads-"), result, result.columns,
                                        headers.headers(lang), result.notes)],
                            xlsx.parameters(lang, **(options or {})), lang)
        return Response(body, media_type=XLSX_TYPE,
                        headers={"Content-Disposition": f'attachment; filename="{filename}.xlsx"'})
    if fmt == "csv":
        return Response(formats.to_csv(result, result.columns), media_type="text/csv; charset=utf-8",
                        headers={"Content-Disposition": f'attachment; filename="{filename}.csv"'})
    return Response(formats.to_json(result, notes=result.notes, conversions=result.conversions),
                    media_type="application/json")


@_authorised
async def attribution(request: Request) -> Response:
    options, fmt = _params(request, "attribution")
    result = await run_in_threadpool(lambda: reports.attribution(request.app.state.store, **options))
    name = f"webleads-attribution-{options['model']}-{options.get('by', 'channel')}"
    return _answer(result, fmt, name, request, options)


@_authorised
async def funnel(request: Request) -> Response:
    options, fmt = _params(request, "funnel")
    result = await run_in_threadpool(lambda: reports.funnel(request.app.state.store, **options))
    return _answer(result, fmt, "webleads-funnel", request, options)


@_authorised
async def leads(request: Request) -> Response:
    options, fmt = _params(request, "leads")
    result = await run_in_threadpool(lambda: reports.leads(request.app.state.store, **options))
    return _answer(result, fmt, "webleads-leads", request, options)


@_authorised
async def roi_report(request: Request) -> Response:
    options, fmt = _params(request, "roi")
    result = await run_in_threadpool(lambda: roi(request.app.state.store, **options))
    name = f"webleads-roi-{options['model']}-{options.get('by', 'channel')}"
    return _answer(result, fmt, name, request, options)


@_authorised
async def declared_report(request: Request) -> Response:
    options, fmt = _params(request, "declared")
    result = await run_in_threadpool(lambda: declared(request.app.state.store, **options))
    return _answer(result, fmt, "webleads-declared", request, options)


@_authorised
async def events(request: Request) -> Response:
    """Server-side events (a back office confirming a conversion): validated and enriched like imports,
    deduplicated by event_id. Answers the counts; 400 when nothing could be stored."""
    from webleads.collector.batch import ingest_records

    body = await read_body(request, MAX_BODY)
    records = parse_events(body, MAX_EVENTS)
    refused: dict[str, tuple[int, str]] = {}
    kept = []
    for i, record in enumerate(records, start=1):
        if isinstance(record, dict) and not record.get("visitor_id"):
            count, example = refused.get("missing_visitor_id", (0, f"line {i}: 'visitor_id' is required"))
            refused["missing_visitor_id"] = (count + 1, example)
            continue
        kept.append((i, record))
    collector = request.app.state.collector
    result = await run_in_threadpool(ingest_records, request.app.state.store, collector.registry, kept, "api",
                                     request.app.state.settings.retention_months)
    for code, (count, example) in refused.items():
        result.rejected[code] += count
        result.examples.setdefault(code, example)
    answer = {"accepted": result.accepted, "duplicates": result.duplicates, "rejected": dict(result.rejected),
              "examples": result.examples}
    if result.accepted == 0 and result.duplicates == 0:
        code = next(iter(result.rejected))
        return error_response(Rejected(400, code, result.examples[code]), **answer)
    return JSONResponse(answer)


@_authorised
async def outcomes(request: Request) -> Response:
    """What became of leads, from a back office: {"lead_id", "outcome", "value"?, "ts"?} or an array of
    them. Answers the counts; 400 when nothing could be recorded (unknown lead ids are named by line)."""
    body = await read_body(request, MAX_BODY)
    records = parse_events(body, MAX_EVENTS)
    store = request.app.state.store
    checked = await run_in_threadpool(check_outcomes, enumerate(records, start=1),
                                      lambda ids: known_leads(store, ids))
    await run_in_threadpool(store_outcomes, store, checked.rows, "api")
    answer = {"accepted": len(checked.rows), "rejected": dict(checked.rejected), "examples": checked.examples}
    if not checked.rows:
        code = next(iter(checked.rejected))
        return error_response(Rejected(400, code, checked.examples[code]), **answer)
    return JSONResponse(answer)


def routes() -> list[BaseRoute]:
    return [
        Route("/api/v1/reports/attribution", attribution, methods=["GET"]),
        Route("/api/v1/reports/funnel", funnel, methods=["GET"]),
        Route("/api/v1/reports/leads", leads, methods=["GET"]),
        Route("/api/v1/reports/declared", declared_report, methods=["GET"]),
        Route("/api/v1/reports/roi", roi_report, methods=["GET"]),
        Route("/api/v1/events", events, methods=["POST"]),
        Route("/api/v1/outcomes", outcomes, methods=["POST"]),
    ]
