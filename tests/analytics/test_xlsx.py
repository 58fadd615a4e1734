"""The Excel writer on its own: formula-like text stays text (neutralised as in the CSV), every report
column has a header in both languages, sheet names Excel accepts."""

from __future__ import annotations

import io
import re
from datetime import date, datetime

import openpyxl
import pytest

from webleads.analytics import headers, reports, xlsx
from webleads.analytics.declared import DECLARED_COLUMNS
from webleads.analytics.links import LINK_COLUMNS
from webleads.analytics.roi import ROI_DIMENSIONS


def read(book: bytes) -> openpyxl.Workbook:
    return openpyxl.load_workbook(io.BytesIO(book))


def test_formula_like_text_is_neutralised_and_stays_text() -> None:
    rows = [{"campaign": "=HYPERLINK(\"http://evil\")", "conversions": 1.5, "share": 0.25},
            {"campaign": "@SUM(A1)", "conversions": 2, "share": 0.75},
            {"campaign": "https://example.org/", "conversions": 0, "share": 0.0}]
    wb = read(xlsx.to_xlsx([xlsx.Sheet("t", rows, ("campaign", "conversions", "share"))], []))
    ws = wb.worksheets[0]
    assert [ws.cell(r, 1).value for r in (2, 3, 4)] == ["'=HYPERLINK(\"http://evil\")", "'@SUM(A1)",
                                                        "https://example.org/"]
    assert all(ws.cell(r, 1).data_type == "s" and ws.cell(r, 1).hyperlink is None for r in (2, 3, 4))
    assert ws.cell(2, 3).number_format == "0.0%" and ws.cell(2, 3).value == 0.25


def test_times_and_days_are_dates_and_widths_fit() -> None:
    rows = [{"ts": "2026-11-20T07:08:52+01:00", "day": date(2026, 11, 20), "path": "Email > Organic Search" * 5}]
    ws = read(xlsx.to_xlsx([xlsx.Sheet("t", rows, ("ts", "day", "path"))], [])).worksheets[0]
    assert ws.cell(2, 1).value == datetime(2026, 11, 20, 7, 8, 52)  # the report's local time, as written
    assert ws.cell(2, 2).value == datetime(2026, 11, 20)
    assert ws.column_dimensions["C"].width == pytest.approx(xlsx.MAX_WIDTH, abs=1)
    assert ws.column_dimensions["A"].width >= 19


def test_every_report_column_has_a_header_in_both_languages() -> None:
    columns = {*reports.LEADS_COLUMNS, *reports.FUNNEL_COLUMNS, *reports.DIMENSIONS, *ROI_DIMENSIONS,
               "conversions", "share", "touched_conversions", "value", "cost", "cost_per_conversion", "roas",
               *DECLARED_COLUMNS, *LINK_COLUMNS}
    for lang in headers.LANGS:
        assert columns - set(headers.headers(lang)) == set(), lang
    for text in [*headers.HEADERS["fr"].values(), *headers.words("fr").values()]:
        assert "'" not in text and not re.search(r" [:;?!»]|« ", text), text


def test_sheet_names_are_ones_excel_accepts() -> None:
    taken: set[str] = set()
    assert xlsx.sheet_name("a/b:c?" + "x" * 40, taken) == "a b c " + "x" * 25
    assert xlsx.sheet_name("Contacts", taken) == "Contacts"
    assert xlsx.sheet_name("contacts", taken) == "contacts (2)"
