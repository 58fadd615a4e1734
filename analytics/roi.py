"""Return on what campaigns cost (`webleads report roi`): per channel, source, medium or campaign, the
cost of the period's days (`webleads cost import`), the conversions credited under any attribution model,
the cost per conversion, the credited value of the leads' outcomes (`webleads outcome import`) and the
return on ad spend (value / cost). With `outcome`, only the leads that became it count: "what did each
enrolled trainee cost?".
"""

from __future__ import annotations

from typing import Any

from . import sessions
from .params import ROI_DIMENSIONS, check_roi_dimension, parse_day
from .queries import sql
from .reports import Report, attribution, rows_of
from .sessions import Source

__all__ = ["ROI_DIMENSIONS", "roi"]


def roi(source: Source, model: str, by: str = "channel", **options: Any) -> Report:
    """Rows `<by>, cost, conversions, cost_per_conversion, value, roas`; the last two ratios are empty
    where the cost is 0 (or nothing was credited)."""
    check_roi_dimension(by)
    credited = attribution(source, model=model, by=by, value=True, **options)
    sessions.prepare(source)
    period = {"first": parse_day(options.get("from_day"), "from"), "last": parse_day(options.get("to_day"), "to"),
              "site": options.get("site")}
    costs = {r["value"]: float(r["cost"]) for r in rows_of(source, sql("roi_costs").replace("{dimension}", by),
                                                           period)}
    found = {r[by]: r for r in credited}
    rows = []
    for value in set(costs) | set(found):
        cost = round(costs.get(value, 0.0), 2)
        conversions = found[value]["conversions"] if value in found else 0.0
        worth = found[value]["value"] if value in found else 0.0
        rows.append({by: value, "cost": cost, "conversions": conversions,
                     "cost_per_conversion": round(cost / conversions, 2) if cost and conversions else None,
                     "value": worth, "roas": round(worth / cost, 4) if cost else None})
    rows.sort(key=lambda r: (-r["cost"], -r["conversions"], str(r[by])))
    notes = list(credited.notes)
    if not costs:
        notes.append("No cost recorded for this period: add them with webleads cost import FILE.")
    return Report(rows, (by, "cost", "conversions", "cost_per_conversion", "value", "roas"), notes,
                  credited.conversions)
