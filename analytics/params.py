"""The reports' parameters, read once for the CLI, the API and the dashboard; their choices and bounds
(models, dimensions, step kinds, lookback days, window, name lengths, the collector's site name rule) are
defined here and nowhere else.

- parse(report, values): a mapping of strings under the API's names (a query string, a form, or the CLI's
  options renamed) -> Attribution | Roi | Funnel | Leads | Declared. A bad value raises ReportError (a
  collector Rejected, status 400) with a code, a sentence and the parameter's name: the API answers it,
  the CLI names the option, the dashboard shows it.
- read(values, keys, lenient=True): the same conversions for a page that puts the default in place of a
  bad value and says so.
- filters(...) and the check_* / parse_* functions: the same rules for the report functions' keyword
  arguments (reports.py), for Python callers.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, fields
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from webleads.collector.validate import SITE_NAME, Rejected

MODELS = ("first_touch", "last_touch", "last_non_direct", "linear", "position_based", "time_decay", "markov")
DIMENSIONS = ("channel", "source", "medium", "campaign", "term", "content", "referrer_domain", "landing_page")
ROI_DIMENSIONS = ("channel", "source", "medium", "campaign")  # the ones a cost line has
STEP_KINDS = ("pageview", "conversion", "event", "outcome")
MAX_STEPS = 10
MAX_PATTERN = 200
DEFAULT_TZ = "Europe/Paris"
DEFAULT_LOOKBACK = 90
LOOKBACK_DAYS = (1, 800)
DEFAULT_WINDOW = "7d"
WINDOW_SPAN = (timedelta(minutes=1), timedelta(days=366))
MAX_CONVERSION = 120  # the collector's longest event name
MAX_OUTCOME = 100
FIELD_NAME = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")  # a form field named in data-webleads-capture
TRUE, FALSE = ("true", "1", "yes", "on", ""), ("false", "0", "no", "off")  # "" : ?include_bots alone
REPORTS = ("attribution", "roi", "funnel", "leads", "declared")
COMMON = ("from", "to", "tz", "site", "include_bots", "include_rejected")
NAMES = {
    "attribution": (*COMMON, "model", "by", "conversion", "lookback", "outcome", "value"),
    "roi": (*COMMON, "model", "by", "conversion", "lookback", "outcome"),
    "funnel": (*COMMON, "step", "window", "by"),
    "leads": (*COMMON, "conversion", "lookback", "outcome"),
    "declared": (*COMMON, "field", "conversion", "lookback", "outcome"),
}
Values = Mapping[str, Any]  # str, or a list of str for `step`; a QueryParams or FormData too


class ReportError(Rejected):
    """A bad report parameter: always a 400, with a short code, a sentence saying what is accepted and,
    when one parameter is at fault, its name (`key`, as the API spells it)."""

    def __init__(self, code: str, reason: str, key: str | None = None) -> None:
        super().__init__(400, code, reason)
        self.key = key


# --- one value at a time ------------------------------------------------------------------------------
def zone(tz: str) -> ZoneInfo:
    try:
        if not isinstance(tz, str) or not re.fullmatch(r"[A-Za-z0-9_+\-/]{1,64}", tz):
            raise ZoneInfoNotFoundError(tz)
        return ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise ReportError("bad_tz", f"unknown time zone {str(tz)[:64]!r}; use a name such as Europe/Paris or UTC",
                          "tz") from None


def parse_day(value: str | date | None, name: str) -> date | None:
    if value is None or value == "":
        return None
    if isinstance(value, date):
        return value
    try:
        if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", str(value)):
            raise ValueError
        return date.fromisoformat(str(value))
    except ValueError:
        raise ReportError("bad_date", f"{name} must be a day written YYYY-MM-DD, not {str(value)[:40]!r}",
                          name) from None


def check_range(first: date | None, last: date | None) -> None:
    if first and last and last < first:
        raise ReportError("bad_range", f"'to' ({last}) is before 'from' ({first})", "to")


def parse_lookback(value: int | str) -> int:
    try:
        days = int(value)
    except (TypeError, ValueError):
        raise ReportError("bad_lookback", f"lookback must be a number of days, not {str(value)[:20]!r}",
                          "lookback") from None
    if not LOOKBACK_DAYS[0] <= days <= LOOKBACK_DAYS[1]:
        raise ReportError("bad_lookback", f"lookback must be between {LOOKBACK_DAYS[0]} and {LOOKBACK_DAYS[1]} days",
                          "lookback")
    return days


def check_site(site: str | None) -> str | None:
    if site is not None and (not isinstance(site, str) or not SITE_NAME.fullmatch(site)):
        raise ReportError("bad_site", "site must be a site name (lowercase letters, digits, '.', '_', '-')", "site")
    return site or None


def check_conversion(name: str | None) -> str | None:
    return _name(name, MAX_CONVERSION, "conversion", f"conversion must be a conversion name of at most "
                                                     f"{MAX_CONVERSION} characters")


def check_outcome(name: str | None) -> str | None:
    return _name(name, MAX_OUTCOME, "outcome", f"outcome must be an outcome name of at most {MAX_OUTCOME} "
                                               "characters (inscrit...)")


def _name(name: str | None, limit: int, key: str, reason: str) -> str | None:
    if name is not None and (not isinstance(name, str) or not 0 < len(name) <= limit):
        raise ReportError(f"bad_{key}", reason, key)
    return name or None


def check_model(model: str) -> str:
    return _choice(model, MODELS, "bad_model", "model", "model")


def check_dimension(by: str, key: str = "by") -> str:
    return _choice(by, DIMENSIONS, "bad_dimension", "dimension", key)


def check_roi_dimension(by: str) -> str:
    if by not in ROI_DIMENSIONS:
        raise ReportError("bad_dimension", f"a cost is known by {', '.join(ROI_DIMENSIONS)}; not by {str(by)[:40]!r}",
                          "by")
    return by


def check_field(name: str) -> str:
    if not isinstance(name, str) or not FIELD_NAME.match(name):
        raise ReportError("bad_field", "field must be a form field's name (letters, digits, _ . : -), as listed in "
                                       "data-webleads-capture", "field")
    return name


def _choice(value: str, allowed: tuple[str, ...], code: str, what: str, key: str) -> str:
    if value not in allowed:
        raise ReportError(code, f"unknown {what} {str(value)[:40]!r}; use one of: {', '.join(allowed)}", key)
    return value


def parse_flag(value: bool | str, key: str) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).lower()
    if text not in TRUE + FALSE:
        raise ReportError(f"bad_{key}", f"{key} must be true or false", key)
    return text in TRUE


def parse_window(text: str | timedelta) -> timedelta:
    if isinstance(text, timedelta):
        window = text
    else:
        m = re.fullmatch(r"\s*(\d{1,6})\s*([dhm]?)\s*", str(text))
        if not m:
            raise ReportError("bad_window", f"window must be like 7d, 12h or 30m, not {str(text)[:20]!r}", "window")
        amount, unit = int(m.group(1)), m.group(2) or "d"
        window = {"d": timedelta(days=amount), "h": timedelta(hours=amount), "m": timedelta(minutes=amount)}[unit]
    if not WINDOW_SPAN[0] <= window <= WINDOW_SPAN[1]:
        raise ReportError("bad_window", "window must be between 1 minute and 366 days", "window")
    return window


def parse_step(text: str) -> tuple[str, str]:
    kind, sep, pattern = str(text).partition(":")
    if not sep or kind not in STEP_KINDS or not pattern or len(pattern) > MAX_PATTERN:
        raise ReportError("bad_step", "a step is pageview:GLOB, conversion:NAME, event:NAME or outcome:NAME, "
                                      f"not {str(text)[:60]!r}", "step")
    return kind, pattern


def check_steps(steps: Iterable[str]) -> list[str]:
    """A funnel's steps, in order: one at least, at most MAX_STEPS, each KIND:PATTERN."""
    found = list(steps)
    if not found:
        raise ReportError("bad_step", "give at least one step, e.g. pageview:/formation*", "step")
    if len(found) > MAX_STEPS:
        raise ReportError("bad_step", f"a funnel has at most {MAX_STEPS} steps", "step")
    for step in found:
        parse_step(step)
    return found


# --- the common filters -------------------------------------------------------------------------------
@dataclass(frozen=True)
class Filters:
    start: datetime | None  # naive UTC, inclusive
    end: datetime | None  # naive UTC, exclusive
    tz: str
    site: str | None
    conversion: str | None
    lookback: int
    include_bots: bool
    include_rejected: bool = False
    outcome: str | None = None  # only the leads whose latest outcome this is
    from_day: date | None = None  # the days as asked, in `tz`
    to_day: date | None = None

    def params(self) -> dict[str, Any]:
        """The SQL files' parameters."""
        return {"start": self.start, "end": self.end, "site": self.site, "conversion": self.conversion,
                "lookback": self.lookback, "include_bots": self.include_bots,
                "include_rejected": self.include_rejected, "outcome": self.outcome}

    def options(self) -> dict[str, Any]:
        """The report functions' keyword arguments."""
        return {"from_day": self.from_day, "to_day": self.to_day, "tz": self.tz, "site": self.site,
                "conversion": self.conversion, "lookback": self.lookback, "include_bots": self.include_bots,
                "include_rejected": self.include_rejected, "outcome": self.outcome}


def _utc_midnight(day: date, tz: ZoneInfo) -> datetime:
    local = datetime(day.year, day.month, day.day, tzinfo=tz)
    return local.astimezone(ZoneInfo("UTC")).replace(tzinfo=None)


def filters(from_day: str | date | None = None, to_day: str | date | None = None, tz: str = DEFAULT_TZ,
            site: str | None = None, conversion: str | None = None, lookback: int | str = DEFAULT_LOOKBACK,
            include_bots: bool = False, include_rejected: bool = False, outcome: str | None = None) -> Filters:
    """Check and convert the common report options (days become UTC instants at local midnight)."""
    zi = zone(tz)
    first, last = parse_day(from_day, "from"), parse_day(to_day, "to")
    check_range(first, last)
    return Filters(start=_utc_midnight(first, zi) if first else None,
                   end=_utc_midnight(last + timedelta(days=1), zi) if last else None,
                   tz=tz, site=check_site(site), conversion=check_conversion(conversion),
                   lookback=parse_lookback(lookback), include_bots=bool(include_bots),
                   include_rejected=bool(include_rejected), outcome=check_outcome(outcome),
                   from_day=first, to_day=last)


@dataclass(frozen=True)
class Leads:
    filters: Filters

    def options(self) -> dict[str, Any]:
        """The report function's keyword arguments."""
        own = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "filters"}
        return {**self.filters.options(), **own}


@dataclass(frozen=True)
class Attribution(Leads):
    model: str = "last_touch"
    by: str = "channel"
    value: bool = False


@dataclass(frozen=True)
class Roi(Leads):
    model: str = "last_touch"
    by: str = "channel"


@dataclass(frozen=True)
class Funnel(Leads):
    steps: tuple[str, ...] = ()
    window: str = DEFAULT_WINDOW  # as written (7d, 12h): the parameters sheet of a download shows it
    by: str | None = None

    def options(self) -> dict[str, Any]:
        """A funnel counts visitors, not conversions: no conversion name, lookback or outcome."""
        return {k: v for k, v in super().options().items() if k not in ("conversion", "lookback", "outcome")}


@dataclass(frozen=True)
class Declared(Leads):
    field: str = ""


Parsed = Leads | Attribution | Roi | Funnel | Declared


def _kept(check: Callable[[str], object], text: str) -> str:
    """The text as given, once `check` accepts it."""
    check(text)
    return text


# How each parameter is read from its text (the text itself when a check is all it needs); `split` is
# the dashboard's name for the funnel's `by`; how many steps a funnel has is checked by check_steps.
CONVERTERS: dict[str, Callable[[Any], Any]] = {
    "from": lambda v: parse_day(v, "from"), "to": lambda v: parse_day(v, "to"),
    "tz": lambda v: _kept(zone, v), "site": check_site, "conversion": check_conversion,
    "lookback": parse_lookback, "outcome": check_outcome, "model": check_model, "by": check_dimension,
    "split": lambda v: check_dimension(v, "split"), "window": lambda v: _kept(parse_window, v),
    "field": check_field, "step": lambda v: [_kept(parse_step, s) for s in v],
    "include_bots": lambda v: parse_flag(v, "include_bots"),
    "include_rejected": lambda v: parse_flag(v, "include_rejected"), "value": lambda v: parse_flag(v, "value"),
}
FLAGS = ("include_bots", "include_rejected", "value")


def _given(values: Values, key: str) -> Any:
    """A parameter's value, None when absent; "" is absent too, except for a flag (?include_bots alone)."""
    if key == "step":
        found = values.getlist(key) if hasattr(values, "getlist") else values.get(key)
        if found is None or isinstance(found, str):
            found = [found] if found else []
        return list(found) or None
    found = values.get(key)
    if isinstance(found, list | tuple):
        found = found[-1] if found else None
    if found is None or (found == "" and key not in FLAGS):
        return None
    return found


@dataclass
class Problem:
    """A value a lenient reader left out: the parameter, the value given, and the parser's refusal."""
    key: str
    value: Any
    error: ReportError


def read(values: Values, keys: Iterable[str], lenient: bool = False) -> tuple[dict[str, Any], list[Problem]]:
    """The given parameters among `keys`, converted (absent ones are left out). Strict, the first bad
    value raises; lenient, it is left out and named in the problems. Repeated steps are read one by one
    when lenient, so one bad step leaves the others."""
    found: dict[str, Any] = {}
    problems: list[Problem] = []
    for key in keys:
        given = _given(values, key)
        if given is None:
            continue
        try:
            if key == "step" and lenient:
                found[key] = _lenient_steps(given, problems)
            else:
                found[key] = CONVERTERS[key](given)
        except ReportError as exc:
            if not lenient:
                raise
            problems.append(Problem(key, given, exc))
    return found, problems


def _lenient_steps(given: list[str], problems: list[Problem]) -> list[str]:
    steps = []
    for step in given:
        try:
            parse_step(step)
        except ReportError as exc:
            problems.append(Problem("step", step, exc))
        else:
            steps.append(step)
    if len(steps) > MAX_STEPS:
        problems.append(Problem("step", steps[MAX_STEPS:], ReportError(
            "bad_step", f"a funnel has at most {MAX_STEPS} steps", "step")))
    return steps[:MAX_STEPS]


def check_names(values: Values, report: str, extra: Iterable[str] = ()) -> None:
    """Refuses a parameter the report does not take, and a repeated one (but `step`)."""
    allowed = set(NAMES[report]) | set(extra)
    for key in values.keys():
        if key not in allowed:
            raise ReportError("unknown_parameter", f"unknown parameter {key[:40]!r}; this report takes: "
                                                   f"{', '.join(sorted(allowed))}", key)
        if key != "step" and hasattr(values, "getlist") and len(values.getlist(key)) > 1:
            raise ReportError("repeated_parameter", f"parameter {key!r} is given more than once", key)


def parse(report: str, values: Values) -> Parsed:
    """A report's parameters from a mapping of strings (the API's names); the first bad value raises."""
    found, _ = read(values, NAMES[report])
    f = filters(from_day=found.get("from"), to_day=found.get("to"), tz=found.get("tz", DEFAULT_TZ),
                site=found.get("site"), conversion=found.get("conversion"),
                lookback=found.get("lookback", DEFAULT_LOOKBACK), include_bots=found.get("include_bots", False),
                include_rejected=found.get("include_rejected", False), outcome=found.get("outcome"))
    if report in ("attribution", "roi"):
        if "model" not in found:
            raise ReportError("missing_model", f"model is required: {', '.join(MODELS)}", "model")
        by = found.get("by", "channel")
        if report == "roi":
            return Roi(f, model=found["model"], by=check_roi_dimension(by))
        return Attribution(f, model=found["model"], by=by, value=found.get("value", False))
    if report == "funnel":
        return Funnel(f, steps=tuple(check_steps(found.get("step", []))), window=found.get("window", DEFAULT_WINDOW),
                      by=found.get("by"))
    if report == "declared":
        if "field" not in found:
            raise ReportError("missing_field", "field is required: the form field that asks how the lead heard of you",
                              "field")
        return Declared(f, field=found["field"])
    return Leads(f)
