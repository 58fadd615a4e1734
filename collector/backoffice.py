"""What the back office knows and the site does not: what each campaign cost, and what became of each
lead (enrolled, funded, gave up). Read from CSV files (`webleads cost import`, `webleads outcome
import`) or JSON (POST /api/v1/outcomes), checked line by line: a bad line is reported with its number
and reason, never silently dropped, and never costs its neighbours.

Costs: `date,source,medium,campaign,cost` in euros; the same day and campaign imported again replaces
the earlier cost. Outcomes: `lead_id,outcome,value[,ts]`; appended (nothing stored changes), the latest
`ts` per lead wins; an unknown lead_id is refused by line.
"""

from __future__ import annotations

import csv
import io
import math
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

import pyarrow as pa

from .rows import utcnow
from .validate import Rejected, parse_ts

COST_COLUMNS = ("date", "source", "medium", "campaign", "cost")
OUTCOME_COLUMNS = ("lead_id", "outcome", "value", "ts")
MAX_TEXT = 100
MAX_EUROS = Decimal("1000000000")


@dataclass
class Checked:
    """The good rows of a file or request, and what was refused (by reason, with the first line of each)."""
    rows: list[dict[str, Any]] = field(default_factory=list)
    rejected: Counter[str] = field(default_factory=Counter)
    examples: dict[str, str] = field(default_factory=dict)
    unknown_columns: set[str] = field(default_factory=set)

    def refuse(self, line: int, exc: Rejected) -> None:
        self.rejected[exc.code] += 1
        self.examples.setdefault(exc.code, f"line {line}: {exc.reason}")

    @property
    def rejected_total(self) -> int:
        return sum(self.rejected.values())


def read_csv(text: str, columns: tuple[str, ...],
             required: tuple[str, ...]) -> tuple[list[tuple[int, dict[str, str]]], set[str]]:
    """(line number, record) of a CSV text with a header; the columns it has beyond `columns`."""
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    header = [h.strip().lower() for h in reader.fieldnames or []]
    missing = [c for c in required if c not in header]
    if missing:
        raise Rejected(400, "missing_columns", f"the header must name {', '.join(columns)} "
                                               f"(missing: {', '.join(missing)})")
    reader.fieldnames = header
    records = [(i, {k: (v or "").strip() for k, v in row.items() if k is not None})
               for i, row in enumerate(reader, start=2)]
    return records, {h for h in header if h not in columns}


def _text(record: dict[str, Any], key: str, lower: bool = False) -> str:
    value = record.get(key)
    if not isinstance(value, str) or not value.strip():
        raise Rejected(400, f"missing_{key}", f"'{key}' is required")
    value = value.strip()
    if len(value) > MAX_TEXT or any(ord(c) < 32 for c in value):
        raise Rejected(400, f"bad_{key}", f"'{key}' must be at most {MAX_TEXT} printable characters")
    return value.lower() if lower else value


def euros(value: Any, key: str, required: bool) -> Decimal | None:
    """An amount in euros: a number, or text with a dot or a comma as decimal separator ("12,50")."""
    if value is None or value == "":
        if required:
            raise Rejected(400, f"missing_{key}", f"'{key}' is required (euros, for example 120.50)")
        return None
    if isinstance(value, bool):
        raise Rejected(400, f"bad_{key}", f"'{key}' must be an amount in euros")
    if isinstance(value, float) and not math.isfinite(value):
        raise Rejected(400, f"bad_{key}", f"'{key}' must be a finite amount in euros")
    text = str(value).strip().replace("\u00a0", "").replace(" ", "").replace("€", "")
    if text.count(",") == 1 and "." not in text:
        text = text.replace(",", ".")
    try:
        amount = Decimal(text)
    except InvalidOperation:
        raise Rejected(400, f"bad_{key}", f"'{key}' must be an amount in euros, not {str(value)[:30]!r}") from None
    if not amount.is_finite() or amount < 0 or amount >= MAX_EUROS:
        raise Rejected(400, f"bad_{key}", f"'{key}' must be between 0 and {MAX_EUROS} euros")
    return amount.quantize(Decimal("0.01"))


def check_costs(records: Iterable[tuple[int, dict[str, Any]]], site: str) -> Checked:
    checked = Checked()
    for line, record in records:
        try:
            raw_day = str(record.get("date") or "").strip()
            try:
                day = date.fromisoformat(raw_day)
            except ValueError:
                raise Rejected(400, "bad_date", f"'date' must be a day written YYYY-MM-DD, not {raw_day[:20]!r}"
                               ) from None
            checked.rows.append({"site": site, "day": day, "source": _text(record, "source", lower=True),
                                 "medium": _text(record, "medium", lower=True),
                                 "campaign": _text(record, "campaign", lower=True),
                                 "cost": euros(record.get("cost"), "cost", required=True)})
        except Rejected as exc:
            checked.refuse(line, exc)
    return checked


def store_costs(store: Any, rows: list[dict[str, Any]]) -> None:
    """One transaction: each (site, day, source, medium, campaign) replaces what was there."""
    if not rows:
        return
    now = utcnow()
    costs = pa.Table.from_pylist([{**r, "imported_at": now} for r in rows])

    def write(conn: Any) -> None:
        conn.register("costs", costs)
        conn.execute("BEGIN")
        try:
            conn.execute("INSERT OR REPLACE INTO campaign_costs BY NAME SELECT site, day, source, medium, campaign, "
                         "CAST(cost AS DECIMAL(14, 2)) AS cost, imported_at FROM costs")
            conn.execute("COMMIT")
        except Exception:
            conn.execute("ROLLBACK")
            raise
        finally:
            conn.unregister("costs")

    store.run_write(write)


def check_outcomes(records: Iterable[tuple[int, Any]], known_leads: Any) -> Checked:
    """Outcome records checked; `known_leads(ids)` returns the ids among them that are stored leads."""
    checked = Checked()
    candidates: list[tuple[int, dict[str, Any]]] = []
    for line, record in records:
        try:
            if not isinstance(record, dict):
                raise Rejected(400, "bad_outcome", "each outcome must be an object with lead_id and outcome")
            unknown = [k for k in record if k not in OUTCOME_COLUMNS]
            if unknown:
                checked.unknown_columns |= {str(k)[:40] for k in unknown}
            lead = _text(record, "lead_id")
            outcome = _text(record, "outcome")
            ts = parse_ts(record["ts"]) if record.get("ts") not in (None, "") else None
            if ts is not None and ts > utcnow():
                raise Rejected(400, "future_ts", "'ts' is in the future")
            candidates.append((line, {"lead_id": lead, "outcome": outcome,
                                      "value": euros(record.get("value"), "value", required=False), "ts": ts}))
        except Rejected as exc:
            checked.refuse(line, exc)
    known = known_leads([c["lead_id"] for _, c in candidates]) if candidates else set()
    for line, candidate in candidates:
        if candidate["lead_id"] not in known:
            checked.refuse(line, Rejected(400, "unknown_lead", f"no lead with id {candidate['lead_id'][:64]!r} "
                                                               "(the leads report's lead_id column)"))
        else:
            checked.rows.append(candidate)
    return checked


def known_leads(store: Any, ids: list[str]) -> set[str]:
    rows = store.query("SELECT DISTINCT event_id FROM event_log WHERE type = 'conversion' "
                       "AND event_id IN (SELECT unnest(CAST($ids AS VARCHAR[])))", {"ids": sorted(set(ids))})
    return {r["event_id"] for r in rows}


def store_outcomes(store: Any, rows: list[dict[str, Any]], origin: str) -> None:
    if not rows:
        return
    now = utcnow()
    outcomes = pa.Table.from_pylist([{"lead_id": r["lead_id"], "outcome": r["outcome"],
                                   "value": None if r["value"] is None else str(r["value"]),
                                   "ts": r["ts"] or now, "recorded_at": now, "origin": origin} for r in rows],
                                 schema=pa.schema([("lead_id", pa.string()), ("outcome", pa.string()),
                                                   ("value", pa.string()), ("ts", pa.timestamp("us")),
                                                   ("recorded_at", pa.timestamp("us")), ("origin", pa.string())]))

    def write(conn: Any) -> None:
        conn.register("outcomes", outcomes)
        try:
            conn.execute("INSERT INTO lead_outcomes SELECT lead_id, outcome, CAST(value AS DECIMAL(14, 2)), ts, "
                         "recorded_at, origin FROM outcomes")
        finally:
            conn.unregister("outcomes")

    store.run_write(write)

