"""The reports, one function each, used by the CLI, the API and the dashboard.

    attribution(source, model, by="channel", **filters) -> Report
        rows: {<by>: value, "conversions": credited (float), "share": of all credited (0..1),
               "touched_conversions": conversions whose journey includes the value}
    funnel(source, steps, window="7d", by=None, **filters) -> Report   (filters without conversion/lookback)
        steps: "pageview:GLOB", "conversion:NAME", "event:NAME", "outcome:NAME" (a lead of the visitor whose
               latest outcome is NAME, at that outcome's time)
        rows: {"step", "name", "visitors", "conversion_rate" (from step 1, 0..1), "drop_off" (visitors lost
               since the step before), "median_seconds_from_previous", and <by> when split}
    leads(source, **filters) -> Report
        rows: {"ts", "site", "visitor_id", "conversion", "first_source", "first_medium", "first_campaign",
               "last_source", "last_medium", "last_campaign", "lead_id", "status", "first_channel",
               "last_channel", "path", "touches", "days_to_convert", "fields", "status_reason"}

`source` is a collector Store (the derived sessions are refreshed in its writer thread first) or a DuckDB
connection (for instance sessions.open_dataset() over a Parquet export). Filters, all optional:
`from_day`, `to_day` (inclusive days, "YYYY-MM-DD" or date, in time zone `tz`, default Europe/Paris),
`tz`, `site`, `conversion` (a conversion name), `lookback` (days, default 90), `include_bots` (False),
`include_rejected` (False: conversions whose status is neither submitted nor sent are left out).

A Report is a list of row dicts with `.columns` (CSV order, DESIGN.md first), `.notes` (sentences for
people: too few conversions, ...) and `.conversions` (how many conversions the report covers). The
parameters are checked by params.py, the parser the CLI, the API and the dashboard share: a bad value
raises its ReportError (code + reason, a 400 in the API, an "Invalid value" line in the CLI).
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

import orjson

from . import markov, sessions
from .params import (
    DEFAULT_LOOKBACK,
    DEFAULT_TZ,
    DIMENSIONS,
    MAX_STEPS,
    MODELS,
    STEP_KINDS,
    Filters,
    ReportError,
    check_dimension,
    check_model,
    check_steps,
    filters,
    parse_day,
    parse_step,
    parse_window,
    zone,
)
from .queries import sql
from .sessions import Source

# The parameters' names, choices and checks live in params.py; these names stay importable from here.
__all__ = ["DEFAULT_LOOKBACK", "DEFAULT_TZ", "DIMENSIONS", "MAX_STEPS", "MODELS", "STEP_KINDS", "Filters",
           "ReportError", "Report", "attribution", "filters", "funnel", "leads", "parse_day", "parse_step",
           "parse_window", "rows_of", "zone"]
# What a journey without any touch reads as, per dimension (DESIGN.md: "(direct)" / "Direct").
MISSING = {"channel": "Direct", "source": "(direct)", "medium": "(none)", "campaign": "(not set)",
           "term": "(not set)", "content": "(not set)", "referrer_domain": "(none)", "landing_page": "(not set)"}
FEW_CONVERSIONS = 30  # below this, say that differences between rows are mostly chance
FEW_FOR_MARKOV = 100  # Markov estimates transition probabilities: it needs more
LEADS_COLUMNS = ("ts", "site", "visitor_id", "conversion", "first_source", "first_medium", "first_campaign",
                 "last_source", "last_medium", "last_campaign", "lead_id", "status", "outcome", "value",
                 "first_channel", "last_channel", "path", "touches", "days_to_convert", "fields", "status_reason")
# A conversion's status (DESIGN.md): the site accepted it (a lead) or rejected it.
ACCEPTED = ("submitted", "sent")
REJECTED = ("invalid", "unaccepted", "spam", "aborted", "failed")
FUNNEL_COLUMNS = ("step", "name", "visitors", "conversion_rate", "drop_off", "median_seconds_from_previous")


class Report(list[dict[str, Any]]):
    def __init__(self, rows: list[dict[str, Any]], columns: tuple[str, ...], notes: list[str] | None = None,
                 conversions: int | None = None) -> None:
        super().__init__(rows)
        self.columns = columns
        self.notes = notes or []
        self.conversions = conversions


def _glob_to_like(pattern: str) -> str:
    escaped = pattern.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return escaped.replace("*", "%")


def _notes(total: int, model: str | None = None) -> list[str]:
    notes = []
    if total == 0:
        notes.append("No conversion in this period: nothing to attribute.")
    elif total < FEW_CONVERSIONS:
        notes.append(f"Only {total} conversion(s): differences between rows are mostly chance; "
                     "read the counts, not the percentages.")
    if model == "markov" and 0 < total < FEW_FOR_MARKOV:
        notes.append(f"The Markov model estimates transition probabilities from journeys; with {total} "
                     "conversion(s) its credits are unstable. Compare with linear or position_based.")
    return notes


# --- running -------------------------------------------------------------------------------------
def _rows(source: Source, query: str, params: dict[str, Any]) -> list[dict[str, Any]]:
    cur = source.cursor()
    try:
        rel = cur.execute(query, params)
        names = [d[0] for d in rel.description]
        return [dict(zip(names, row, strict=True)) for row in rel.fetchall()]
    finally:
        cur.close()


rows_of = _rows  # for the reports written in other modules (analytics/links.py)


def attribution(source: Source, model: str, by: str = "channel", value: bool = False, **options: Any) -> Report:
    """Credited conversions per value of `by` under `model` (see the module docstring); with `value`, the
    credited value of their outcomes (euros) too, and the rows ordered and shared by it."""
    check_model(model)
    check_dimension(by)
    f = filters(**options)
    sessions.prepare(source)
    params = f.params()
    totals = _rows(source, sql("journeys") + sql("conversions_total"), params)[0]
    total, total_value = int(totals["conversions"]), float(totals["credited_value"])
    if model == "markov":
        transitions = _rows(source, sql("journeys") + sql("markov_transitions").replace("{dimension}", by), params)
        credits = markov.attribute({(r["src"], r["dst"]): int(r["transitions"]) for r in transitions}, total)
        touched = {r["value"]: int(r["touched"]) for r in _rows(
            source, sql("journeys") + sql("attribution").replace("{dimension}", by).replace("{weight}", "linear"),
            params)}
        # The removal effects share the outcomes' value as they share the conversions.
        found = [{"value": v, "conversions": c, "credited_value": c * total_value / total if total else 0.0,
                  "touched": touched.get(v, 0)} for v, c in credits.items()]
    else:
        query = sql("journeys") + sql("attribution").replace("{dimension}", by).replace("{weight}", model)
        found = _rows(source, query, params)
    measure, whole = ("credited_value", total_value) if value else ("conversions", float(total))
    found.sort(key=lambda r: (-float(r[measure]), r["value"]))
    rows = [{by: r["value"], "conversions": round(float(r["conversions"]), 6),
             **({"value": round(float(r["credited_value"]), 2)} if value else {}),
             "share": round(float(r[measure]) / whole, 6) if whole else 0.0,
             "touched_conversions": int(r["touched"])} for r in found]
    columns = (by, "conversions", *(("value",) if value else ()), "share", "touched_conversions")
    notes = _notes(total, model)
    if value and total and not total_value:
        notes.append("No outcome with a value among these conversions: record them with webleads outcome import.")
    return Report(rows, columns, notes, total)


def funnel(source: Source, steps: list[str] | tuple[str, ...], window: str | timedelta = "7d",
           by: str | None = None, **options: Any) -> Report:
    """Visitors at each step of an ordered funnel, optionally split by the touch of its first step."""
    parsed = [parse_step(s) for s in check_steps(steps)]
    if by is not None:
        check_dimension(by)
    span = parse_window(window)
    f = filters(**options)
    sessions.prepare(source)
    params: dict[str, Any] = {k: v for k, v in f.params().items() if k not in ("conversion", "lookback", "outcome")}
    params["window"] = span
    params["missing"] = MISSING[by] if by else "all"
    matchers = []
    for k, (kind, pattern) in enumerate(parsed, start=1):
        matcher, value = _matcher(kind, pattern)
        matchers.append(matcher)
        params[f"pattern{k}"] = value
        if matcher == "match_name":
            params[f"kind{k}"] = kind
    rows = _rows(source, _funnel_sql(matchers, by), params)
    if not rows and not by:  # nobody did step 1: every step at zero
        rows = [{"split_value": None, **{f"visitors{k}": 0 for k in range(1, len(parsed) + 1)}}]
    out: list[dict[str, Any]] = []
    for group in rows:
        first = int(group["visitors1"])
        previous = first
        for k, text in enumerate(steps, start=1):
            visitors = int(group[f"visitors{k}"])
            median = group.get(f"median{k}")
            row: dict[str, Any] = {"step": k, "name": text, "visitors": visitors,
                                   "conversion_rate": round(visitors / first, 6) if first else 0.0,
                                   "drop_off": previous - visitors,
                                   "median_seconds_from_previous": None if median is None else round(float(median), 1)}
            if by:
                row[by] = group["split_value"]
            out.append(row)
            previous = visitors
    columns = FUNNEL_COLUMNS + ((by,) if by else ())
    notes = [] if out and out[0]["visitors"] else ["No visitor did the first step in this period."]
    return Report(out, columns, notes)


def _matcher(kind: str, pattern: str) -> tuple[str, str]:
    """The funnel.sql block that matches a step, and the value it binds."""
    if kind == "outcome":
        return "match_outcome", pattern
    if kind != "pageview":
        return "match_name", pattern
    inner = pattern.strip("*")
    if "*" in inner or not inner:
        return "match_like", _glob_to_like(pattern)
    starts, ends = pattern.startswith("*"), pattern.endswith("*")
    shape = {(False, False): "match_exact", (False, True): "match_prefix", (True, False): "match_suffix",
             (True, True): "match_contains"}[(starts, ends)]
    return shape, inner


def _funnel_sql(matchers: list[str], by: str | None) -> str:
    count = len(matchers)
    text = sql("funnel")
    blocks = dict(re.findall(r"-- @(\w+)[^\n]*\n(.*?)(?=-- @|\Z)", text, flags=re.S))
    matches = ",\n".join(blocks[m].rstrip().replace("{k}", str(k)) for k, m in enumerate(matchers, start=1))
    outcome_rows = ""
    if "match_outcome" in matchers:
        flags = ",\n".join(blocks["outcome_is" if m == "match_outcome" else "outcome_not"].rstrip()
                           .replace("{k}", str(k)) for k, m in enumerate(matchers, start=1))
        outcome_rows = blocks["outcome_rows"].rstrip().replace("{outcome_matches}", flags)
    query = blocks["prologue"].replace("{matches}", matches).replace("{outcome_rows}", outcome_rows)
    query += blocks["start"]
    for k in range(2, count + 1):
        query += blocks["step"].replace("{k}", str(k)).replace("{p}", str(k - 1))
    aggregates = [blocks["visitors"].rstrip().replace("{k}", str(k)) for k in range(1, count + 1)]
    aggregates += [blocks["median"].rstrip().replace("{k}", str(k)).replace("{p}", str(k - 1))
                   for k in range(2, count + 1)]
    furthest = "\n    UNION ALL BY NAME ".join(f"SELECT *, {k} AS level FROM reached{k}" for k in range(1, count + 1))
    if by:
        # The touch of the visit of step 1: the visitor's latest touch started at or before it. Not an
        # ASOF join: DuckDB underestimates `best` and runs such a join as a nested loop (0.6 s on the
        # demo database of 100,000 events); an equi-join on the visitor then arg_max takes 10 ms.
        split = "s.value"
        split_join = ("LEFT JOIN (SELECT b2.visitor, arg_max(t.value, t.started_at) AS value FROM best b2\n"
                      "      JOIN (SELECT hash(site, visitor_id) AS visitor, started_at, " + by + " AS value\n"
                      "            FROM sessions WHERE is_touch AND ($include_bots OR NOT is_bot)) t\n"
                      "        ON b2.visitor = t.visitor AND t.started_at <= b2.t1\n"
                      "      GROUP BY b2.visitor) s ON b.visitor = s.visitor")
    else:
        split, split_join = "CAST(NULL AS VARCHAR)", ""
    epilogue = (blocks["epilogue"].replace("{furthest}", furthest)
                .replace("{split}", split).replace("{split_join}", split_join)
                .replace("{aggregates}", ",\n".join(aggregates)))
    return query + epilogue


def leads(source: Source, **options: Any) -> Report:
    """One row per conversion: first and last touch, path of channels, days to convert, form fields."""
    f = filters(**options)
    zi = zone(f.tz)
    sessions.prepare(source)
    found = _rows(source, sql("journeys") + sql("leads"), f.params())
    utc = ZoneInfo("UTC")
    rows = []
    for r in found:
        fields = r["fields"]
        rows.append({
            "ts": r["converted_at"].replace(tzinfo=utc).astimezone(zi).isoformat(timespec="seconds"),
            "site": r["site"], "visitor_id": r["visitor_id"], "conversion": r["conversion"],
            "first_source": r["first_source"], "first_medium": r["first_medium"],
            "first_campaign": r["first_campaign"], "last_source": r["last_source"],
            "last_medium": r["last_medium"], "last_campaign": r["last_campaign"],
            "lead_id": r["conversion_id"], "status": r["status"], "outcome": r["outcome"],
            "value": None if r["outcome_value"] is None else float(r["outcome_value"]),
            "first_channel": r["first_channel"], "last_channel": r["last_channel"], "path": r["path"],
            "touches": int(r["touches"]), "days_to_convert": round(float(r["days_to_convert"]), 2),
            "fields": orjson.loads(fields) if fields else None, "status_reason": r["status_reason"],
        })
    return Report(rows, LEADS_COLUMNS, [] if rows else ["No conversion in this period."], len(rows))
