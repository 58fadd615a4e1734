"""What each page shows, computed by the analytics' report functions (webleads.analytics.reports):
the pages and their CSV downloads call the same function here, so a download holds exactly the rows on
screen, in the API's columns. No attribution or funnel logic lives in the dashboard.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from webleads.analytics import reports, sessions
from webleads.collector.store import Store

from .filters import Filters
from .i18n import Text
from .render import sql


def attribution(store: Store, f: Filters, model: str | None = None) -> reports.Report:
    return reports.attribution(store, model=model or f.model, by=f.by, lookback=f.lookback,
                               conversion=f.conversion, outcome=f.outcome, value=f.value, **f.report_options())


@dataclass
class Comparison:
    models: list[str]
    by: str
    rows: list[dict[str, Any]] = field(default_factory=list)  # {by: value, model: credit, ...}
    conversions: int = 0

    @property
    def columns(self) -> tuple[str, ...]:
        return (self.by, *self.models)


def compare(store: Store, f: Filters, known: dict[str, reports.Report] | None = None) -> Comparison:
    """The same conversions credited under several models, one row per value (values ordered by the
    first model's credit)."""
    found = dict(known or {})
    for model in f.compare:
        if model not in found:
            found[model] = attribution(store, f, model)
    result = Comparison(list(f.compare), f.by)
    if len(f.compare) < 2:
        return result
    credits: dict[str, dict[str, float]] = {}
    for model in f.compare:
        for row in found[model]:
            credits.setdefault(row[f.by], {})[model] = row["conversions"]
    first = f.compare[0]
    order = sorted(credits, key=lambda v: (-credits[v].get(first, 0.0), -max(credits[v].values()), v))
    result.rows = [{f.by: v, **{m: credits[v].get(m, 0.0) for m in f.compare}} for v in order]
    result.conversions = found[first].conversions or 0
    return result


def funnel(store: Store, f: Filters, by: str | None = None) -> reports.Report:
    return reports.funnel(store, steps=f.steps, window=f.window, by=by, **f.report_options())


def leads(store: Store, f: Filters, t: Text | None = None) -> tuple[reports.Report, int]:
    """The leads of the period (the analytics' rows and columns), narrowed by the dashboard's own filters
    (the status: accepted, rejected or all; a channel of first or last touch; a text in source, medium,
    campaign or path, as stored or as the page shows it in language `t`: « Recherche naturelle » finds
    Organic Search); and the count before narrowing. The page and its CSV pass the same language, so the
    file holds the rows on screen."""
    found = reports.leads(store, conversion=f.conversion, lookback=f.lookback, **f.report_options())
    total = len(found)
    rows = list(found)
    if f.status == "rejected":
        rows = [r for r in rows if r["status"] not in reports.ACCEPTED]
    if f.channel:
        rows = [r for r in rows if f.channel in (r["first_channel"], r["last_channel"])]
    if f.q:
        needle = f.q.lower()
        keys = ("first_source", "first_medium", "first_campaign", "last_source", "last_medium", "last_campaign",
                "path", "conversion")

        def words(r: dict[str, Any]) -> str:
            shown = [t.path(r["path"]), *(t.value(k.partition("_")[2], r[k]) for k in keys[:6])] if t else []
            return "\n".join([*(str(r[k] or "") for k in keys), *shown]).lower()  # no match across two fields

        rows = [r for r in rows if needle in words(r)]
    return reports.Report(rows, found.columns, found.notes, found.conversions), total


def names(store: Store, f: Filters) -> dict[str, list[str]]:
    """The most frequent paths, conversion names and event names of the period, for suggestions."""
    sessions.prepare(store)  # installs wl_is_bot, the reports' rule for bots
    start, end = f.instants()
    out: dict[str, list[str]] = {k: [] for k in reports.STEP_KINDS}
    for row in store.query(sql("funnel_suggestions"), {"start": start, "end": end, "site": f.site}):
        out[row["kind"]].append(row["value"])
    out["outcome"] = [r["outcome"] for r in store.query(sql("outcome_names"))]
    return out
