"""Excel files (.xlsx) of the reports, for people: one sheet per table and a parameters sheet.

Written with XlsxWriter (see pyproject.toml). Each cell keeps its type: counts and credits are numbers,
shares and rates numbers shown as percentages, euros numbers in a euro format, `ts` (an ISO time with
its offset, in the report's time zone) a date and time as the report shows it, days dates. Text cells
go through the CSV's formula neutralising (formats.neutralise) and are written as strings, never read as
formulas or links. The header row is frozen, columns are as wide as their contents (within bounds), and
the header labels are an argument (analytics/headers.py gives them in French or English; the dashboard
adds its own).
"""

from __future__ import annotations

import io
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import xlsxwriter

from . import headers as header_words
from .formats import cell_text, neutralise
from .params import DEFAULT_TZ, zone

PERCENT = ("share", "conversion_rate")
EUROS = ("cost", "value", "cost_per_conversion")
MOMENTS = ("ts", "created_at")
MIN_WIDTH, MAX_WIDTH = 6, 60
_SHEET_NAME = re.compile(r"[\[\]:*?/\\]")


@dataclass
class Sheet:
    name: str
    rows: Sequence[Mapping[str, Any]]
    columns: Sequence[str]
    headers: Mapping[str, str] = field(default_factory=dict)  # column -> label; a missing one keeps its name
    notes: Sequence[str] = ()  # written under the table


def _moment(value: Any) -> datetime | None:
    """An ISO time with an offset as the local time it names (Excel has no time zones)."""
    if isinstance(value, datetime):
        return value.replace(tzinfo=None)
    try:
        return datetime.fromisoformat(str(value)).replace(tzinfo=None)
    except ValueError:
        return None


def sheet_name(text: str, taken: set[str]) -> str:
    """A name Excel accepts (at most 31 characters, none of []:*?/\\), unique in the workbook."""
    base = _SHEET_NAME.sub(" ", text).strip()[:31] or "Sheet"
    name, n = base, 2
    while name.lower() in taken:
        suffix = f" ({n})"
        name, n = base[:31 - len(suffix)] + suffix, n + 1
    taken.add(name.lower())
    return name


def to_xlsx(sheets: Sequence[Sheet], parameters: Sequence[tuple[str, Any]], lang: str = "fr") -> bytes:
    """The workbook's bytes: the sheets in order, then the parameters sheet (label, value rows)."""
    out = io.BytesIO()
    book = xlsxwriter.Workbook(out, {"in_memory": True, "strings_to_formulas": False, "strings_to_urls": False,
                                     "strings_to_numbers": False})
    fmt = {
        "head": book.add_format({"bold": True, "bottom": 1, "text_wrap": True, "valign": "top"}),
        "pct": book.add_format({"num_format": "0.0%"}),
        "euro": book.add_format({"num_format": "#,##0.00 €"}),
        "dec": book.add_format({"num_format": "#,##0.##"}),
        "moment": book.add_format({"num_format": "yyyy-mm-dd hh:mm:ss"}),
        "day": book.add_format({"num_format": "yyyy-mm-dd"}),
        "note": book.add_format({"italic": True}),
    }
    taken: set[str] = set()
    for sheet in sheets:
        _write_sheet(book.add_worksheet(sheet_name(sheet.name, taken)), sheet, fmt)
    words = header_words.words(lang)
    params = Sheet(words["sheet"], [{"parameter": k, "setting": v} for k, v in parameters], ("parameter", "setting"),
                   {"parameter": words["parameter"], "setting": words["setting"]})
    _write_sheet(book.add_worksheet(sheet_name(params.name, taken)), params, fmt)
    book.close()
    return out.getvalue()


def _write_sheet(ws: Any, sheet: Sheet, fmt: dict[str, Any]) -> None:
    widths = []
    for col, column in enumerate(sheet.columns):
        label = sheet.headers.get(column, column)
        ws.write_string(0, col, label, fmt["head"])
        widths.append(min(MAX_WIDTH, max(MIN_WIDTH, len(label) + 2)))
    for r, row in enumerate(sheet.rows, start=1):
        for col, column in enumerate(sheet.columns):
            shown = _write_cell(ws, r, col, column, row.get(column), fmt, row.get("_format"))
            widths[col] = min(MAX_WIDTH, max(widths[col], shown + 2))
    for col, width in enumerate(widths):
        ws.set_column(col, col, width)
    ws.freeze_panes(1, 0)
    for k, note in enumerate(sheet.notes):
        ws.write_string(len(sheet.rows) + 2 + k, 0, neutralise(note), fmt["note"])


def _write_cell(ws: Any, r: int, c: int, column: str, value: Any, fmt: dict[str, Any], hint: str | None = None
                ) -> int:
    """Write one cell with its type; answers roughly how many characters it shows (for the width). A row
    may say how its numbers read (`_format`: percent or euro), for tables of mixed figures."""
    if value is None:
        ws.write_blank(r, c, None)
        return 0
    if isinstance(value, bool):
        ws.write_boolean(r, c, value)
        return 5
    if isinstance(value, int | float):
        if column in PERCENT or hint == "percent":
            ws.write_number(r, c, value, fmt["pct"])
            return 7
        if column in EUROS or hint == "euro":
            ws.write_number(r, c, value, fmt["euro"])
            return len(f"{value:,.2f}") + 2
        ws.write_number(r, c, value, fmt["dec"] if isinstance(value, float) else None)
        return len(f"{value:,.2f}" if isinstance(value, float) else f"{value:,}")
    if isinstance(value, datetime):
        ws.write_datetime(r, c, value.replace(tzinfo=None), fmt["moment"])
        return 19
    if isinstance(value, date):
        ws.write_datetime(r, c, value, fmt["day"])
        return 10
    if column in MOMENTS and isinstance(value, str) and (moment := _moment(value)) is not None:
        ws.write_datetime(r, c, moment, fmt["moment"])
        return 19
    text = neutralise(cell_text(value))
    ws.write_string(r, c, text)
    return max((len(line) for line in text.splitlines()), default=0)


def parameters(lang: str, from_day: Any = None, to_day: Any = None, tz: str | None = None, site: str | None = None,
               model: str | None = None, by: str | None = None, steps: Sequence[str] = (), window: str | None = None,
               now: datetime | None = None, **_: Any) -> list[tuple[str, Any]]:
    """The rows of the parameters sheet from a report's options (the CLI's and API's keyword names)."""
    words = header_words.words(lang)
    tz = tz or DEFAULT_TZ
    start, end = (str(from_day) if from_day else "…"), (str(to_day) if to_day else "…")
    span = f"{words['from']} {start} {words['to']} {end}".capitalize() if from_day or to_day else words["all_days"]
    rows: list[tuple[str, Any]] = [(words["period"], span)]
    if model:
        rows.append((words["model"], model))
    if by:
        rows.append((words["by"], header_words.headers(lang).get(by, by)))
    if steps:
        rows.append((words["steps"], " → ".join(steps)))
    if window:
        rows.append((words["window"], window))
    rows += [(words["site"], site or words["all_sites"]), (words["tz"], tz),
             (words["generated"], (now or datetime.now(zone(tz))).replace(tzinfo=None, microsecond=0))]
    return rows
