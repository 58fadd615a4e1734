"""Report output: an aligned table for people, CSV for spreadsheets, JSON for programs.

CSV columns come in the report's order (DESIGN.md first). Every text cell that a spreadsheet would read
as a formula (starting with = + - @, a tab or a carriage return) is neutralised with a leading
apostrophe, in every CSV the project writes (CLI and API downloads).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from typing import Any

import orjson

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
FORMATS = ("table", "csv", "json")


def cell_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return orjson.dumps(value).decode()
    return str(value)


def neutralise(text: str) -> str:
    """A cell a spreadsheet would run as a formula gets a leading apostrophe."""
    return "'" + text if text.startswith(FORMULA_START) else text


def to_csv(rows: Iterable[dict[str, Any]], columns: Sequence[str]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([neutralise(cell_text(row.get(c))) if isinstance(row.get(c), str | dict | list)
                         else cell_text(row.get(c)) for c in columns])
    return out.getvalue()


def to_json(rows: Sequence[dict[str, Any]], **extra: Any) -> bytes:
    return orjson.dumps({"rows": list(rows), **extra})


def _display(column: str, value: Any) -> str:
    if value is None:
        return ""
    if column in ("share", "conversion_rate") and isinstance(value, float):
        return f"{value * 100:.1f} %"
    if isinstance(value, float):
        return f"{value:.2f}"
    return cell_text(value)


def to_table(rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> str:
    """Columns aligned with spaces; numbers to the right; shares and rates as percentages."""
    cells = [[_display(c, row.get(c)) for c in columns] for row in rows]
    widths = [max([len(c)] + [len(r[i]) for r in cells]) for i, c in enumerate(columns)]
    numeric = [bool(rows) and all(isinstance(row.get(c), int | float) or row.get(c) is None for row in rows)
               for c in columns]

    def line(values: Sequence[str]) -> str:
        parts = [v.rjust(w) if num else v.ljust(w) for v, w, num in zip(values, widths, numeric, strict=True)]
        return "  ".join(parts).rstrip()

    out = [line(list(columns)), line(["-" * w for w in widths])]
    out += [line(r) for r in cells]
    return "\n".join(out)
