"""The dashboard's pages: overview, attribution (with the model comparison), funnels, leads, links.

Each handler reads its filters, computes in one worker thread (DuckDB calls block) and renders a
template. The numbers come from data.py (the analytics' report functions) and overview.py; charts
from charts.py. The CSV downloads (downloads.py) call the same data functions.
"""

from __future__ import annotations

from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from webleads.analytics import channels, reports

from . import charts, closedloop, data, filters, links, overview
from .auth import current
from .context import attribution_notes, common, read_filters
from .i18n import Text
from .render import language, page, secure

TOP_BARS = 12
COMPARE_ROWS = 12


# --- overview ----------------------------------------------------------------------------------------
async def home(request: Request) -> Response:
    """/dashboard: the overview when signed in, else the sign-in form (200, never a redirect)."""
    if await current(request) is None:
        return page(request, "signin.html", message="signin.signed_out" if request.query_params.get("signed_out")
                    else None, next="/dashboard", error=False)
    f = read_filters(request)
    t = Text(language(request))
    ov = await run_in_threadpool(overview.compute, request.app.state.store, f)
    before = filters.previous(f)
    prev = await run_in_threadpool(overview.compute, request.app.state.store, before)
    chart = charts.daily(ov.days, t.gettext("Visitors and conversions per day"), t.int, t.day, pair=t.pair)
    return page(request, "overview.html", ov=ov, chart=chart, dimensions=overview.TOP_DIMENSIONS, prev=prev,
                before=before, **common(request, f, "overview"))


# --- attribution ---------------------------------------------------------------------------------------
def _attribution(store: Any, f: filters.Filters) -> tuple[reports.Report, data.Comparison, list[str], list[str]]:
    main = data.attribution(store, f)
    return (main, data.compare(store, f, {f.model: main}), data.names(store, f)["conversion"],
            closedloop.outcome_names(store))


async def attribution(request: Request) -> Response:
    f = read_filters(request)
    t = Text(language(request))
    main, comparison, conversions, outcomes = await run_in_threadpool(_attribution, request.app.state.store, f)
    measure = "value" if f.value else "conversions"  # « en valeur (€) »: the rows are ordered and shared by it
    bars = [charts.Bar(t.value(f.by, r[f.by]), r[measure], t.pct(r["share"], 1)) for r in main[:TOP_BARS]]
    chart = charts.hbars(bars, t.dim(f.by).chart, lambda v: t.dec(v, 1))
    shown = comparison.rows[:COMPARE_ROWS]
    dumbbell = charts.dumbbell([t.value(f.by, r[f.by]) for r in shown],
                               [(t.model(m), [r[m] for r in shown]) for m in comparison.models],
                               t.gettext("Each value's credit from one model to the next"), lambda v: t.dec(v, 1),
                               pair=t.pair, axis=t.gettext("Credited conversions"))
    notes = attribution_notes(t, main, f.model)
    return page(request, "attribution.html", report=main, chart=chart, comparison=comparison, dumbbell=dumbbell,
                marks=[charts.key(k) for k in range(len(comparison.models))],
                notes=notes, models=reports.MODELS, dimensions=reports.DIMENSIONS, conversions=conversions,
                outcomes=outcomes, **common(request, f, "attribution"))


# --- funnels --------------------------------------------------------------------------------------------
Funnels = tuple[reports.Report | None, reports.Report | None, dict[str, list[str]]]


def _funnel(store: Any, f: filters.Filters) -> Funnels:
    suggestions = data.names(store, f)
    if not f.steps:
        return None, None, suggestions
    return data.funnel(store, f), data.funnel(store, f, by=f.split) if f.split else None, suggestions


def pivot(split: reports.Report, by: str, steps: int) -> list[dict[str, Any]]:
    """The split funnel as one row per value: its visitors at each step, most visitors at step 1 first."""
    grouped: dict[str, list[int]] = {}
    for row in split:
        grouped.setdefault(str(row[by]), [0] * steps)[int(row["step"]) - 1] = int(row["visitors"])
    order = sorted(grouped.items(), key=lambda kv: (-kv[1][0], kv[0]))
    return [{"value": v, "visitors": counts} for v, counts in order]


async def funnel(request: Request) -> Response:
    f = read_filters(request)
    if "pattern" in request.query_params:  # the builder's rows: answer with the API's step= form of the URL
        return secure(RedirectResponse("/dashboard/funnel?" + f.query("from", "to", "tz", "site", "step", "window",
                                                                      "split"), status_code=303))
    t = Text(language(request))
    main, split, suggestions = await run_in_threadpool(_funnel, request.app.state.store, f)
    chart = None
    if main:
        bars = [charts.Bar(t.step(r["name"]), r["visitors"], t.pct(r["visitors"], main[0]["visitors"]))
                for r in main]
        drops = [drop_text(t, r["drop_off"], prev["visitors"]) for prev, r in zip(main, main[1:], strict=False)]
        chart = charts.funnel(bars, drops, t.gettext("Visitors at each step"), t.int)
    rows = [{"kind": s.partition(":")[0], "pattern": s.partition(":")[2]} for s in f.steps]
    rows += [{"kind": "pageview", "pattern": ""}] * max(1, 3 - len(rows))
    return page(request, "funnel.html", report=main, split=pivot(split, f.split, len(f.steps)) if split else None,
                chart=chart, rows=rows, suggestions=suggestions, windows=filters.WINDOWS,
                dimensions=reports.DIMENSIONS, step_kinds=reports.STEP_KINDS, **common(request, f, "funnel"))


def drop_text(t: Text, lost: int | None, before: int | None) -> str:
    """The visitors lost between two steps, under the chart: "−12 (25 %)", or "none lost"."""
    if not lost:
        return t.gettext("none lost")
    return t.gettext("−%(lost)s (%(share)s)", lost=t.int(lost), share=t.pct(lost, before))


# --- leads --------------------------------------------------------------------------------------------
def _leads(store: Any, f: filters.Filters, t: Text) -> tuple[reports.Report, int, dict[str, list[str]]]:
    rows, total = data.leads(store, f, t)
    return rows, total, data.names(store, f)


async def leads(request: Request) -> Response:
    f = read_filters(request)
    rows, total, suggestions = await run_in_threadpool(_leads, request.app.state.store, f, Text(language(request)))
    # Newest first: the coordinator looks for this week's candidates. The CSV keeps the API's order
    # (oldest first), the contract for programs; the rows are the same.
    return page(request, "leads.html", report=list(reversed(rows)), total=total,
                conversions=suggestions["conversion"], channels=channels.CHANNELS, statuses=filters.STATUS_FILTERS,
                **await closedloop.leads_extras(request), **common(request, f, "leads"))


# --- campaign links -----------------------------------------------------------------------------------
async def links_page(request: Request) -> Response:
    f = read_filters(request)
    t = Text(language(request))
    sites = request.app.state.collector.registry.sites
    site = f.site or (sorted(sites)[0] if sites else None)
    seen = await run_in_threadpool(links.seen, request.app.state.store, site)
    q = request.query_params
    default_url = (sites[site].origins[0] + "/") if site and sites[site].origins else "https://"
    url = (q.get("url") or default_url).strip()[:2000]
    raw = {name: (q.get(name) or "")[:200] for name, _ in links.FIELDS}
    clean = {name: links.normalise(value) for name, value in raw.items()}
    messages: list[str] = []
    warnings: list[str] = []
    result = channel = None
    if any(raw.values()):
        for name, param in links.FIELDS:
            if raw[name].strip() and raw[name].strip() != clean[name]:
                messages.append(t.gettext("“%(raw)s” becomes “%(clean)s”.", raw=raw[name].strip(), clean=clean[name]))
            near = links.looks_like(clean[name], seen.get(param, []))
            if near:
                warnings.append(t.gettext("“%(value)s” looks like “%(seen)s”, already in use: is it the same thing?",
                                          value=clean[name], seen=near))
        if not all(clean[name] for name in ("source", "medium", "campaign")):
            warnings.append(t.gettext("Give the page address, the source, the medium and the campaign."))
        else:
            result = links.build(url, {param: clean[name] for name, param in links.FIELDS})
            if result is None:
                warnings.append(t.gettext("The address must start with http:// or https://."))
            else:
                channel = await run_in_threadpool(channels.channel, clean["source"], clean["medium"], clean["campaign"])
    return page(request, "links.html", site=site, url=url, raw=raw, clean=clean, seen=seen, result=result,
                channel=channel, messages=messages, warnings=warnings, mediums=links.MEDIUMS,
                **await closedloop.links_extras(request, f, site), **common(request, f, "links"))
