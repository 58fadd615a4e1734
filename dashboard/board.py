"""The board report: one month on one page, beside the month before, for the coordinator's monthly
meeting (`/dashboard/report`, `webleads report board`).

gather() computes every section once, with the analytics' report functions (attribution, funnel, leads,
roi) and the overview's counts; the page, its print version, the CLI's HTML file and the Excel file (one
sheet per section) all show that one Board. Counts always come beside percentages, and a note says
where a figure rests on fewer than FEW conversions.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from importlib import resources
from typing import Any

from babel.numbers import format_decimal
from markupsafe import Markup

from webleads.analytics import headers, params, reports, xlsx
from webleads.analytics.roi import roi
from webleads.collector.store import Store

from . import charts, overview
from .filters import Filters
from .i18n import Text
from .render import environment

DEFAULT_MODEL = "last_non_direct"
DEFAULT_OUTCOME = "inscrit"
# Home, a training page, the application: the coordinator's usual path to a candidature.
DEFAULT_STEPS = ("pageview:/", "pageview:/formation*", "conversion:candidater")
FEW = 10  # below this many conversions, a figure is a handful of people: the report says so
TOP_ROWS = 10


def parse_month(text: str | None, tz: str = reports.DEFAULT_TZ, today: date | None = None) -> date:
    """The first day of month `text` (YYYY-MM); without one, of the last full month in `tz`."""
    if not text:
        today = today or datetime.now(reports.zone(tz)).date()
        return (today.replace(day=1) - timedelta(days=1)).replace(day=1)
    m = re.fullmatch(r"(\d{4})-(\d{2})", text.strip())
    if not m or not 1 <= int(m.group(2)) <= 12 or int(m.group(1)) < 2000:
        raise reports.ReportError("bad_month", f"month must be written YYYY-MM, e.g. 2026-11, not {text[:20]!r}")
    return date(int(m.group(1)), int(m.group(2)), 1)


def month_end(first: date) -> date:
    return (first.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)


@dataclass
class Period:
    """One month's numbers."""
    first: date
    last: date
    ov: overview.Overview
    leads: reports.Report  # accepted conversions, oldest first
    channels: reports.Report
    campaigns: reports.Report
    funnel: reports.Report
    enrolled: int
    cost: float

    @property
    def rejected(self) -> int:
        return sum(int(r["conversions"]) for r in self.ov.rejected)

    @property
    def cost_per_lead(self) -> float | None:
        return round(self.cost / len(self.leads), 2) if self.cost and self.leads else None


@dataclass
class Board:
    month: Period
    previous: Period
    model: str
    outcome: str
    steps: list[str]
    tz: str
    site: str | None
    generated: datetime

    def filters(self) -> Filters:
        return Filters(start=self.month.first, end=self.month.last, tz=self.tz, site=self.site, model=self.model,
                       steps=list(self.steps))


def _period(store: Store, first: date, model: str, outcome: str, steps: Sequence[str], tz: str,
            site: str | None) -> Period:
    last = month_end(first)
    options: dict[str, Any] = {"from_day": first.isoformat(), "to_day": last.isoformat(), "tz": tz, "site": site}
    ov = overview.compute(store, Filters(start=first, end=last, tz=tz, site=site))
    leads = reports.leads(store, **options)
    costs = roi(store, model=model, by="channel", **options)
    return Period(
        first=first, last=last, ov=ov, leads=leads,
        channels=reports.attribution(store, model=model, by="channel", **options),
        campaigns=reports.attribution(store, model=model, by="campaign", **options),
        funnel=reports.funnel(store, steps=list(steps), window="30d", **options),
        enrolled=sum(1 for r in leads if r["outcome"] == outcome),
        cost=round(sum(float(r["cost"]) for r in costs), 2))


def gather(store: Store, month: date, model: str = DEFAULT_MODEL, outcome: str = DEFAULT_OUTCOME,
           steps: Sequence[str] = DEFAULT_STEPS, tz: str = reports.DEFAULT_TZ, site: str | None = None) -> Board:
    """Every section of the board report for the month starting on `month` and the month before."""
    params.check_model(model)
    params.check_outcome(outcome or "")  # the board needs one: its enrolments
    reports.zone(tz)
    steps = params.check_steps(list(steps) or list(DEFAULT_STEPS))
    previous = (month - timedelta(days=1)).replace(day=1)
    return Board(month=_period(store, month, model, outcome, steps, tz, site),
                 previous=_period(store, previous, model, outcome, steps, tz, site),
                 model=model, outcome=outcome, steps=steps, tz=tz, site=site,
                 generated=datetime.now(reports.zone(tz)).replace(microsecond=0, tzinfo=None))


# --- words ------------------------------------------------------------------------------------------
def month_name(t: Text, first: date) -> str:
    from babel.dates import format_skeleton

    return format_skeleton("yMMMM", first, locale=t.locale)


def figures(t: Text, b: Board) -> list[dict[str, Any]]:
    """The key figures: (label, this month, the month before, how to write them)."""
    m, p = b.month, b.previous
    rows = [
        {"key": "visitors", "label": t.gettext("Visitors"), "month": m.ov.visitors, "previous": p.ov.visitors},
        {"key": "leads", "label": t.gettext("Leads (accepted by the site)"), "month": len(m.leads),
         "previous": len(p.leads)},
        {"key": "rejected", "label": t.gettext("Submissions rejected by the site"), "month": m.rejected,
         "previous": p.rejected},
    ]
    statuses = {r["status"] for r in m.ov.rejected} | {r["status"] for r in p.ov.rejected}
    for status in sorted(statuses):
        def count(period: Period, status: str = status) -> int:
            return next((int(r["conversions"]) for r in period.ov.rejected if r["status"] == status), 0)
        rows.append({"key": f"rejected-{status}", "label": "— " + t.status(status), "month": count(m),
                     "previous": count(p), "sub": True})
    rows += [
        {"key": "converted", "label": t.gettext("Visitors who converted"), "month": m.ov.converted,
         "previous": p.ov.converted},
        {"key": "rate", "label": t.gettext("Conversion rate"),
         "month": round(m.ov.converted / m.ov.visitors, 6) if m.ov.visitors else None,
         "previous": round(p.ov.converted / p.ov.visitors, 6) if p.ov.visitors else None, "format": "percent",
         "of": (m.ov.converted, m.ov.visitors), "of_previous": (p.ov.converted, p.ov.visitors)},
        {"key": "enrolled", "label": t.gettext("Leads whose outcome is “%(outcome)s”", outcome=b.outcome),
         "month": m.enrolled, "previous": p.enrolled},
        {"key": "cost", "label": t.gettext("Campaign costs"), "month": m.cost, "previous": p.cost,
         "format": "euro"},
        {"key": "cost_per_lead", "label": t.gettext("Cost per lead"), "month": m.cost_per_lead,
         "previous": p.cost_per_lead, "format": "euro"},
    ]
    return rows


def notes(t: Text, b: Board) -> dict[str, list[str]]:
    """Per section, the notes to print under it: a figure on fewer than FEW conversions, empty data."""
    found: dict[str, list[str]] = {}
    leads = len(b.month.leads)
    if leads < FEW:
        few = t.ngettext("Only %(num)s lead this month: a few people more or less change these figures; read the "
                         "counts, not only the percentages.",
                         "Only %(num)s leads this month: a few people more or less change these figures; read the "
                         "counts, not only the percentages.", leads)
        for key in ("figures", "channels", "campaigns"):
            found.setdefault(key, []).append(few)
    if b.month.funnel and b.month.funnel[-1]["visitors"] < FEW:
        found.setdefault("funnel", []).append(t.ngettext(
            "Only %(num)s visitor reached the last step: the rates rest on very few people.",
            "Only %(num)s visitors reached the last step: the rates rest on very few people.",
            int(b.month.funnel[-1]["visitors"])))
    if not b.month.cost and not b.previous.cost:
        found.setdefault("figures", []).append(t.gettext(
            "No campaign cost recorded for these months: add them with webleads cost import."))
    return found


def _credits(report: reports.Report, by: str) -> dict[str, float]:
    return {r[by]: float(r["conversions"]) for r in report}


def context(t: Text, b: Board) -> dict[str, Any]:
    """What the template shows: the board, its figures, notes, charts and previous-month credits."""
    bars = [charts.Bar(t.value("channel", r["channel"]), r["conversions"], t.pct(r["conversions"],
                                                                                 b.month.channels.conversions))
            for r in b.month.channels[:TOP_ROWS]]
    funnel_bars = [charts.Bar(t.step(r["name"]), r["visitors"], t.pct(r["visitors"], b.month.funnel[0]["visitors"]))
                   for r in b.month.funnel]
    return {
        "b": b, "figures": figures(t, b), "notes": notes(t, b),
        "month_name": month_name(t, b.month.first), "previous_name": month_name(t, b.previous.first),
        "previous_channels": _credits(b.previous.channels, "channel"),
        "previous_campaigns": _credits(b.previous.campaigns, "campaign"),
        "previous_funnel": {r["step"]: r["visitors"] for r in b.previous.funnel},
        "channel_chart": charts.hbars(bars, t.gettext("Leads by channel"), lambda v: t.dec(v, 1)),
        "funnel_chart": charts.funnel(funnel_bars, [], t.gettext("Visitors at each step"), t.int)
        if b.month.funnel and b.month.funnel[0]["visitors"] else Markup(""),
        "few": FEW, "top": TOP_ROWS,
        "euros": lambda v: format_decimal(v, format="#,##0.00", locale=t.locale) + "\u00a0€",
    }


def html(b: Board, lang: str) -> str:
    """The board report as one standalone HTML file (the CLI's): no navigation, its style sheets inline."""
    t = Text(lang)
    css = "\n".join(resources.files("webleads.dashboard").joinpath("static", name).read_text(encoding="utf-8")
                    for name in ("dashboard.css", "board.css"))
    return environment(t.lang).get_template("board.html").render(
        t=t, lang=t.lang, chrome=False, inline_css=Markup(css.replace("</", "<\\/")), f=b.filters(),
        **context(t, b))


# --- the Excel file ----------------------------------------------------------------------------------
def workbook(b: Board, lang: str) -> bytes:
    """One sheet per section, then the parameters sheet."""
    t = Text(lang)
    cols = headers.headers(t.lang)
    month, previous = month_name(t, b.month.first), month_name(t, b.previous.first)
    fig_rows = [{"indicator": r["label"], "month": r["month"], "previous": r["previous"], "_format": r.get("format")}
                for r in figures(t, b)]
    both = {"month": month, "previous": previous}
    found = notes(t, b)

    def attribution_sheet(name: str, report: reports.Report, by: str, before: dict[str, float]) -> xlsx.Sheet:
        rows = [{**r, "previous": before.get(r[by], 0.0)} for r in report]
        return xlsx.Sheet(name, rows, (by, "conversions", "share", "touched_conversions", "previous"),
                          {**cols, by: t.dim(by).name, "previous": previous}, found.get("channels", []))

    landing = [{"landing_page": r["value"], "sessions": r["sessions"], "visitors": r["visitors"],
                "conversions": r["conversions"], "share": round(r["sessions"] / r["total"], 6) if r["total"] else 0.0}
               for r in b.month.ov.top["landing_page"]]
    before = {r["step"]: r["visitors"] for r in b.previous.funnel}
    funnel_rows = [{**r, "name": t.step(r["name"]), "previous": before.get(r["step"], 0)} for r in b.month.funnel]
    sheets = [
        xlsx.Sheet(t.gettext("Key figures"), fig_rows, ("indicator", "month", "previous"),
                   {"indicator": t.gettext("Indicator"), **both}, found.get("figures", [])),
        attribution_sheet(t.gettext("Channels"), b.month.channels, "channel", _credits(b.previous.channels, "channel")),
        attribution_sheet(t.gettext("Campaigns"), b.month.campaigns, "campaign",
                          _credits(b.previous.campaigns, "campaign")),
        xlsx.Sheet(t.gettext("Landing pages"), landing,
                   ("landing_page", "sessions", "visitors", "conversions", "share"),
                   {**cols, "landing_page": t.dim("landing_page").name}),
        xlsx.Sheet(t.gettext("Funnel"), funnel_rows, ("step", "name", "visitors", "conversion_rate", "drop_off",
                                                      "previous"), {**cols, "previous": previous},
                   found.get("funnel", [])),
        xlsx.Sheet(t.gettext("Leads"), list(reversed(b.month.leads)), reports.LEADS_COLUMNS, cols),
    ]
    params = xlsx.parameters(t.lang, from_day=b.month.first.isoformat(), to_day=b.month.last.isoformat(), tz=b.tz,
                             site=b.site, model=t.model(b.model), steps=[t.step(s) for s in b.steps],
                             now=b.generated)
    params.insert(1, (headers.words(t.lang)["month"], month))
    return xlsx.to_xlsx(sheets, params, t.lang)
