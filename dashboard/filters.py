"""The filters of a dashboard page, read from its query string (so that a page can be bookmarked and
shared, and its CSV link carries the same query).

Parameter names are the API's (`from`, `to`, `tz`, `site`, `model`, `by`, `conversion`, repeated `step`,
`window`, `outcome`, `value`), plus the dashboard's own (`compare`, `split`, `channel`, `q`, `status`, `lang`).
Days are whole days in `tz` (Europe/Paris by default), as in the reports. The values are read by the
reports' parser (analytics/params.py), so they follow the API's rules; but a wrong value is not an error
page: it is replaced by the default and the page says which filter it ignored, and why.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from starlette.datastructures import QueryParams

from webleads.analytics import params, reports

DEFAULT_DAYS = 30
WINDOWS = ("1d", "7d", "14d", "30d", "90d")
DEFAULT_WINDOW = "7d"
DEFAULT_COMPARE = ("first_touch", "last_touch")
# Which conversions by their status: those the site accepted (the reports' default), the rejected ones, all.
STATUS_FILTERS = ("accepted", "rejected", "all")
# Ready-made periods (`period=`), relative to today in the time zone: a bookmark stays "last month".
PRESETS = ("this_month", "last_month", "30d", "90d", "this_year")


@dataclass
class Filters:
    start: date
    end: date  # inclusive
    tz: str = reports.DEFAULT_TZ
    site: str | None = None
    model: str = "last_touch"
    by: str = "channel"
    compare: list[str] = field(default_factory=list)
    steps: list[str] = field(default_factory=list)
    window: str = DEFAULT_WINDOW
    split: str | None = None  # the funnel's split (a dimension), shown on demand
    conversion: str | None = None
    lookback: int = reports.DEFAULT_LOOKBACK
    channel: str | None = None
    q: str = ""
    status: str = "accepted"
    outcome: str | None = None  # only the leads whose latest outcome this is (attribution, ROI, declared)
    value: bool = False  # attribution credits the outcomes' value (euros) rather than counting leads
    problems: list[Problem] = field(default_factory=list)
    period: str | None = None  # the preset the days came from, if any

    def report_options(self) -> dict[str, Any]:
        """The common options of the analytics' report functions (rejected conversions are included for
        the status filters `rejected` and `all`; data.leads() narrows `rejected` down)."""
        return {"from_day": self.start.isoformat(), "to_day": self.end.isoformat(), "tz": self.tz,
                "site": self.site, "include_rejected": self.status != "accepted"}

    def ignored(self) -> str:
        """The filters this page ignored, each with the reason the API and the CLI give for its value."""
        return "; ".join(f"{p} ({p.reason})" if p.reason else str(p) for p in self.problems)

    def instants(self) -> tuple[datetime, datetime]:
        """The period as naive UTC instants, start included, end excluded (as the reports compute it)."""
        f = reports.filters(from_day=self.start, to_day=self.end, tz=self.tz)
        assert f.start is not None and f.end is not None
        return f.start, f.end

    def query(self, *keys: str, **override: str | list[str] | None) -> str:
        """The query string of these filters (only `keys`, and the overrides), for links."""
        return urlencode(self.pairs(*keys, **override))

    def pairs(self, *keys: str, **override: str | list[str] | None) -> list[tuple[str, str]]:
        """The (name, value) pairs of `keys`, a default value left out (a form's hidden fields, a link)."""
        values: dict[str, str | list[str] | None] = {
            "from": self.start.isoformat(), "to": self.end.isoformat(),
            "tz": self.tz if self.tz != reports.DEFAULT_TZ else None, "site": self.site,
            "model": self.model, "by": self.by, "compare": self.compare, "step": self.steps,
            "window": self.window, "split": self.split, "conversion": self.conversion,
            "lookback": str(self.lookback) if self.lookback != reports.DEFAULT_LOOKBACK else None,
            "channel": self.channel, "q": self.q, "status": self.status if self.status != "accepted" else None,
            "outcome": self.outcome, "value": "1" if self.value else None,
        }
        wanted = {k: values[k] for k in keys}
        wanted.update(override)
        pairs: list[tuple[str, str]] = []
        for key, value in wanted.items():
            if isinstance(value, list):
                pairs += [(key, v) for v in value]
            elif value:
                pairs.append((key, value))
        return pairs


class Problem(str):
    """A filter the page ignored: reads as `name='value'` (what the notice lists), with the refusal the
    API and the CLI give for the same value (`code`, `reason`, from analytics/params.py)."""

    code: str
    reason: str

    def __new__(cls, label: str, error: params.ReportError | None = None) -> Problem:
        self = super().__new__(cls, label)
        self.code, self.reason = (error.code, error.reason) if error else ("", "")
        return self


# The parameters the dashboard reads with the reports' parser; `split` is the funnel's `by`.
READ = ("from", "to", "tz", "model", "by", "window", "split", "conversion", "lookback", "outcome", "value")


def parse(query: QueryParams, sites: list[str], today: date | None = None) -> Filters:
    """The filters of a request; `today` (in the time zone) defaults to the clock's. A value the reports'
    parser refuses is replaced by its default, and named with the parser's reason."""
    found, refused = params.read(query, READ, lenient=True)
    problems: list[Problem] = []

    def ignored(*keys: str) -> None:  # in the order of the form, as the notice lists them
        problems.extend(Problem(_label(p.key, p.value), p.error) for p in refused if p.key in keys)

    ignored("tz", "to", "from")
    tz = found.get("tz", reports.DEFAULT_TZ)
    today = today or datetime.now(reports.zone(tz)).date()
    end = found.get("to") or today
    start = found.get("from") or end - timedelta(days=DEFAULT_DAYS - 1)
    try:
        params.check_range(start, end)
    except params.ReportError as exc:
        problems.append(Problem("from > to", exc))
        start, end = end, start
    period = query.get("period") or None
    if period is not None and period not in PRESETS:
        problems.append(Problem(f"period={period[:40]!r}", params.ReportError(
            "bad_period", f"period must be one of: {', '.join(PRESETS)}", "period")))
        period = None
    if period is not None:  # a preset wins over the days the form also sent
        start, end = preset(period, today)

    site = query.get("site") or None
    if site is not None and site not in sites:
        problems.append(Problem(f"site={site!r}", params.ReportError("bad_site", f"no site named {site[:64]!r}",
                                                                     "site")))
        site = None

    ignored("model", "by")
    compare = []
    for m in query.getlist("compare"):
        if m in reports.MODELS and m not in compare:
            compare.append(m)
        elif m not in reports.MODELS:
            problems.append(Problem(f"compare={m!r}", _refusal(params.check_model, m)))
    compare = [m for m in reports.MODELS if m in compare]  # always in the list's order
    if not compare and "compared" not in query:  # the form was never sent: show the classic pair
        compare = list(DEFAULT_COMPARE)

    steps = parse_steps(query, problems)
    ignored("window", "split", "conversion", "lookback")
    status = query.get("status") or "accepted"
    if status not in STATUS_FILTERS:
        problems.append(Problem(f"status={status!r}", params.ReportError(
            "bad_status", f"status must be one of: {', '.join(STATUS_FILTERS)}", "status")))
        status = "accepted"
    ignored("outcome", "value")

    return Filters(start=start, end=end, tz=tz, site=site, model=found.get("model", "last_touch"),
                   by=found.get("by", "channel"), compare=compare, steps=steps,
                   window=found.get("window", DEFAULT_WINDOW), split=found.get("split"),
                   conversion=found.get("conversion"), lookback=found.get("lookback", reports.DEFAULT_LOOKBACK),
                   channel=(query.get("channel") or None), q=(query.get("q") or "").strip()[:100],
                   status=status, outcome=found.get("outcome"), value=found.get("value", False),
                   problems=problems, period=period)


def _label(key: str, value: object) -> str:
    """How the notice names an ignored filter: a long name without its value (it would fill the line)."""
    return key if key in ("conversion", "outcome") else f"{key}={value!r}"


def _refusal(check: Callable[[str], object], value: str) -> params.ReportError | None:
    try:
        check(value)
    except params.ReportError as exc:
        return exc
    return None


def preset(name: str, today: date) -> tuple[date, date]:
    """The days of a ready-made period, ending today (last month: the whole month before this one)."""
    if name == "this_month":
        return today.replace(day=1), today
    if name == "last_month":
        last = today.replace(day=1) - timedelta(days=1)
        return last.replace(day=1), last
    if name == "this_year":
        return today.replace(month=1, day=1), today
    days = int(name.rstrip("d"))
    return today - timedelta(days=days - 1), today


def previous(f: Filters) -> Filters:
    """The same filters over the period of the same length just before (for the change on the overview)."""
    days = (f.end - f.start).days + 1
    end = f.start - timedelta(days=1)
    return Filters(start=end - timedelta(days=days - 1), end=end, tz=f.tz, site=f.site)


def parse_steps(query: QueryParams, problems: list[Problem]) -> list[str]:
    """Steps from `step=kind:pattern` (the API's form), or from the builder's `kind`/`pattern` rows; a
    bad step is left out (the others stay), named with the parser's reason."""
    raw = list(query.getlist("step"))
    kinds, patterns = query.getlist("kind"), query.getlist("pattern")
    if not raw and patterns:
        raw = [f"{k}:{p.strip()}" for k, p in zip(kinds, patterns, strict=False) if p.strip()]
    kept = []
    for step in raw:
        kind, _, pattern = step.partition(":")
        kept.append(f"{kind}:{pattern.strip()}")
    found, refused = params.read({"step": kept}, ("step",), lenient=True)
    for p in refused:
        if isinstance(p.value, list):
            problems.append(Problem(f"more than {reports.MAX_STEPS} steps", p.error))
        else:
            problems.append(Problem(f"step={p.value!r}", p.error))
    return found.get("step", [])
