"""The filters of a dashboard page, read from its query string (so that a page can be bookmarked and
shared, and its CSV link carries the same query).

Parameter names are the API's (`from`, `to`, `tz`, `site`, `model`, `by`, `conversion`, repeated `step`,
`window`, `outcome`, `value`), plus the dashboard's own (`compare`, `split`, `channel`, `q`, `status`, `lang`).
Days are whole days in `tz` (Europe/Paris by default), as in the reports. A wrong value is not an error
page: it is replaced by the default and the page says which filter it ignored.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from starlette.datastructures import QueryParams

from webleads.analytics import reports

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
    problems: list[str] = field(default_factory=list)
    period: str | None = None  # the preset the days came from, if any

    def report_options(self) -> dict[str, Any]:
        """The common options of the analytics' report functions (rejected conversions are included for
        the status filters `rejected` and `all`; data.leads() narrows `rejected` down)."""
        return {"from_day": self.start.isoformat(), "to_day": self.end.isoformat(), "tz": self.tz,
                "site": self.site, "include_rejected": self.status != "accepted"}

    def instants(self) -> tuple[datetime, datetime]:
        """The period as naive UTC instants, start included, end excluded (as the reports compute it)."""
        f = reports.filters(from_day=self.start, to_day=self.end, tz=self.tz)
        assert f.start is not None and f.end is not None
        return f.start, f.end

    def query(self, *keys: str, **override: str | list[str] | None) -> str:
        """The query string of these filters (only `keys`, and the overrides), for links."""
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
        return urlencode(pairs)


def _day(text: str | None) -> date | None:
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


def parse(params: QueryParams, sites: list[str], today: date | None = None) -> Filters:
    """The filters of a request; `today` (in the time zone) defaults to the clock's."""
    problems: list[str] = []
    tz = params.get("tz") or reports.DEFAULT_TZ
    try:
        reports.zone(tz)
    except reports.ReportError:
        problems.append(f"tz={tz!r}")
        tz = reports.DEFAULT_TZ

    today = today or datetime.now(reports.zone(tz)).date()
    end = _day(params.get("to"))
    if params.get("to") and end is None:
        problems.append(f"to={params.get('to')!r}")
    start = _day(params.get("from"))
    if params.get("from") and start is None:
        problems.append(f"from={params.get('from')!r}")
    end = end or today
    start = start or end - timedelta(days=DEFAULT_DAYS - 1)
    if start > end:
        problems.append("from > to")
        start, end = end, start
    period = params.get("period") or None
    if period is not None and period not in PRESETS:
        problems.append(f"period={period[:40]!r}")
        period = None
    if period is not None:  # a preset wins over the days the form also sent
        start, end = preset(period, today)

    site = params.get("site") or None
    if site is not None and site not in sites:
        problems.append(f"site={site!r}")
        site = None

    model = params.get("model") or "last_touch"
    if model not in reports.MODELS:
        problems.append(f"model={model!r}")
        model = "last_touch"
    by = params.get("by") or "channel"
    if by not in reports.DIMENSIONS:
        problems.append(f"by={by!r}")
        by = "channel"
    compare = []
    for m in params.getlist("compare"):
        if m in reports.MODELS and m not in compare:
            compare.append(m)
        elif m not in reports.MODELS:
            problems.append(f"compare={m!r}")
    compare = [m for m in reports.MODELS if m in compare]  # always in the list's order
    if not compare and "compared" not in params:  # the form was never sent: show the classic pair
        compare = list(DEFAULT_COMPARE)

    steps = parse_steps(params, problems)
    window = (params.get("window") or DEFAULT_WINDOW).strip()
    try:
        reports.parse_window(window)
    except reports.ReportError:
        problems.append(f"window={window!r}")
        window = DEFAULT_WINDOW
    split = params.get("split") or None
    if split is not None and split not in reports.DIMENSIONS:
        problems.append(f"split={split!r}")
        split = None
    conversion = params.get("conversion") or None
    if conversion is not None and len(conversion) > 120:
        problems.append("conversion")
        conversion = None
    lookback = params.get("lookback") or str(reports.DEFAULT_LOOKBACK)
    if not lookback.isdigit() or not 1 <= int(lookback) <= 800:
        problems.append(f"lookback={lookback!r}")
        lookback = str(reports.DEFAULT_LOOKBACK)

    status = params.get("status") or "accepted"
    if status not in STATUS_FILTERS:
        problems.append(f"status={status!r}")
        status = "accepted"

    outcome = params.get("outcome") or None
    if outcome is not None and len(outcome) > 100:
        problems.append("outcome")
        outcome = None

    return Filters(start=start, end=end, tz=tz, site=site, model=model, by=by, compare=compare, steps=steps,
                   window=window, split=split, conversion=conversion, lookback=int(lookback),
                   channel=(params.get("channel") or None), q=(params.get("q") or "").strip()[:100],
                   status=status, outcome=outcome, value=params.get("value") in ("1", "true", "on"),
                   problems=problems, period=period)


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


def parse_steps(params: QueryParams, problems: list[str]) -> list[str]:
    """Steps from `step=kind:pattern` (the API's form), or from the builder's `kind`/`pattern` rows."""
    raw = list(params.getlist("step"))
    kinds, patterns = params.getlist("kind"), params.getlist("pattern")
    if not raw and patterns:
        raw = [f"{k}:{p.strip()}" for k, p in zip(kinds, patterns, strict=False) if p.strip()]
    steps = []
    for step in raw:
        kind, _, pattern = step.partition(":")
        pattern = pattern.strip()
        if kind not in reports.STEP_KINDS or not pattern or len(pattern) > 200:
            problems.append(f"step={step!r}")
            continue
        steps.append(f"{kind}:{pattern}")
    if len(steps) > reports.MAX_STEPS:
        problems.append(f"more than {reports.MAX_STEPS} steps")
        steps = steps[:reports.MAX_STEPS]
    return steps
