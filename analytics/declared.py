"""Declared attribution (`webleads report declared --field FIELD`): what leads answered to "how did you
hear of us?" (a form field captured with data-webleads-capture) against the channel the tracking saw (the
last touch that is not Direct). The posters, radio and word of mouth that leave no UTM show up here as
declared sources of leads the tracking calls Direct.
"""

from __future__ import annotations

from typing import Any

from . import sessions
from .params import check_field, filters
from .queries import sql
from .reports import Report, rows_of
from .sessions import Source

DECLARED_COLUMNS = ("declared", "channel", "leads")


def declared(source: Source, field: str, **options: Any) -> Report:
    """Leads per (declared answer, tracked channel); leads without an answer as '(no answer)'."""
    check_field(field)
    f = filters(**options)
    sessions.prepare(source)
    path = '$."' + field + '"'
    rows = [{"declared": r["declared"], "channel": r["channel"], "leads": int(r["leads"])}
            for r in rows_of(source, sql("journeys") + sql("declared"), {**f.params(), "path": path})]
    answered = sum(r["leads"] for r in rows if r["declared"] != "(no answer)")
    notes = []
    if not rows:
        notes.append("No lead in this period.")
    elif not answered:
        notes.append(f"No lead answered the field {field!r}: is it named in the form's data-webleads-capture?")
    return Report(rows, DECLARED_COLUMNS, notes, sum(r["leads"] for r in rows))
