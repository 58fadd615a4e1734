"""The board report: the month's figures on the page equal the API's reports for the same month, in
French by default and English with lang=en; printed to PDF by Chromium it holds them, one section per
page; `webleads report board` writes the same sections as an Excel workbook or one HTML page."""

from __future__ import annotations

import calendar
import html
import io
import re
import unicodedata
from collections.abc import Callable, Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
import openpyxl
import pytest
from pypdf import PdfReader

from .conftest import Dash, Tab
from conftest import webleads

STEPS = [("step", "pageview:/"), ("step", "pageview:/formation*"), ("step", "conversion:candidater")]


def months(dash: Dash) -> tuple[date, date]:
    """The last full month (the page's default) and the month before it."""
    last = (dash.today.replace(day=1) - timedelta(days=1)).replace(day=1)
    return last, (last - timedelta(days=1)).replace(day=1)


def period(first: date) -> dict[str, str]:
    end = first.replace(day=calendar.monthrange(first.year, first.month)[1])
    return {"from": first.isoformat(), "to": end.isoformat()}


@pytest.fixture(scope="module")
def client(dash: Dash) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=dash.url, timeout=120, headers={"Origin": dash.url}) as c:
        assert c.post("/dashboard/signin", data={"token": dash.token}).status_code == 303
        yield c


def values(page: str, table: str) -> list[list[str]]:
    """The data-value of each cell of a table's rows."""
    body = re.search(rf'<table id="{table}".*?<tbody>(.*?)</tbody>', page, re.S)
    assert body, table
    return [[html.unescape(v) for v in re.findall(r'data-value="([^"]*)"', row)]
            for row in re.findall(r"<tr.*?</tr>", body.group(1), re.S)]


def figure(page: str, key: str) -> list[str]:
    row = re.search(rf'<tr id="figure-{key}".*?</tr>', page, re.S)
    assert row, key
    return re.findall(r'data-value="([^"]*)"', row.group(0))


def test_the_board_page_holds_the_months_figures_from_the_reports(dash: Dash, client: httpx.Client) -> None:
    month, previous = months(dash)
    response = client.get("/dashboard/report")  # the last full month by default
    assert response.status_code == 200
    page = response.text
    assert re.search(r"<h1>Rapport mensuel\u00a0: \w+ " + str(month.year), page)
    leads = dash.api("leads", period(month)).json()["rows"]
    before = dash.api("leads", period(previous)).json()["rows"]
    assert figure(page, "leads") == [str(len(leads)), str(len(before))]
    assert len(leads) > 0
    # the month's leads, newest first
    assert [r[0] for r in values(page, "board-leads")] == [r["ts"] for r in reversed(leads)]
    # leads by channel and by campaign under last_non_direct, the model by default
    for by, table in (("channel", "board-channels"), ("campaign", "board-campaigns")):
        api = dash.api("attribution", {**period(month), "model": "last_non_direct", "by": by}).json()["rows"]
        assert [(r[0], float(r[1]), int(r[2])) for r in values(page, table)] == \
            [(r[by], r["conversions"], r["touched_conversions"]) for r in api[:10]]
    funnel = dash.api("funnel", [*period(month).items(), *STEPS, ("window", "30d")]).json()["rows"]
    assert [int(r[1]) for r in values(page, "board-funnel")] == [r["visitors"] for r in funnel]
    rejected = dash.api("leads", {**period(month), "include_rejected": "1"}).json()["rows"]
    assert int(figure(page, "rejected")[0]) == len(rejected) - len(leads)
    visitors = int(figure(page, "visitors")[0])
    assert visitors >= funnel[0]["visitors"] > 0
    # counts beside the percentage, never a percentage alone
    assert re.search(r'id="figure-rate".*?\(\d+ sur [\d\u202f]+\)', page, re.S)
    assert "Rapport mensuel" in page and "Leads by channel" not in page


def test_the_board_page_in_english_and_another_model(dash: Dash, client: httpx.Client) -> None:
    month, _ = months(dash)
    page = client.get(f"/dashboard/report?month={month:%Y-%m}&model=first_touch&lang=en").text
    assert "<h1>Board report: " in page and "Leads by channel" in page and "Contacts par canal" not in page
    api = dash.api("attribution", {**period(month), "model": "first_touch"}).json()["rows"]
    assert [r[0] for r in values(page, "board-channels")] == [r["channel"] for r in api[:10]]
    client.cookies.delete("wl_lang")


@pytest.mark.parametrize("month", ["2026-13", "novembre", "2026-1"])
def test_a_bad_month_is_a_400_page_saying_why(client: httpx.Client, month: str) -> None:
    response = client.get(f"/dashboard/report?month={month}")
    assert response.status_code == 400
    assert "month must be written YYYY-MM" in html.unescape(response.text)
    download = client.get(f"/dashboard/report.xlsx?month={month}")
    assert download.status_code == 400 and download.json()["error"] == "bad_month"


def test_the_board_report_prints_on_a4_with_the_months_figures(dash: Dash, signed_in: Tab, tmp_path: Path,
                                                                shot: Callable[..., Any]) -> None:
    month, previous = months(dash)
    signed_in.open(f"/dashboard/report?month={month:%Y-%m}")
    shot(signed_in.page, "board")
    signed_in.page.emulate_media(media="print")
    shot(signed_in.page, "board-print")
    pdf = tmp_path / "board.pdf"
    signed_in.page.pdf(path=str(pdf), format="A4", print_background=True)
    reader = PdfReader(str(pdf))
    width, height = float(reader.pages[0].mediabox.width), float(reader.pages[0].mediabox.height)
    assert abs(width - 595.3) < 2 and abs(height - 841.9) < 2  # A4 in points
    assert len(reader.pages) >= 6  # a page per section
    text = "\n".join(p.extract_text() for p in reader.pages)
    flat = re.sub(r"[\s\u00a0\u202f]+", " ", unicodedata.normalize("NFKC", text))  # NFKC: the "ﬀ" ligature
    leads = len(dash.api("leads", period(month)).json()["rows"])
    before = len(dash.api("leads", period(previous)).json()["rows"])
    assert "Rapport mensuel" in flat and "Chiffres clés" in flat, flat[:2000]
    assert re.search(rf"Contacts \(acceptés par le site\) {leads} {before}\b", flat), flat[:1500]
    visitors = figure(signed_in.page.content(), "visitors")
    assert re.search(rf"Visiteurs {int(visitors[0]):,} {int(visitors[1]):,}".replace(",", " "), flat)
    assert "Vue d’ensemble" not in flat and "Se déconnecter" not in flat  # no navigation on paper
    assert "Télécharger" not in flat


def test_the_cli_writes_the_board_as_a_workbook_or_a_page(dash: Dash, tmp_path: Path) -> None:
    month, previous = months(dash)
    book = tmp_path / "board.xlsx"
    dash.cli("report", "board", "--month", f"{month:%Y-%m}", "--out", str(book))
    wb = openpyxl.load_workbook(book)
    assert wb.sheetnames == ["Chiffres clés", "Canaux", "Campagnes", "Pages d’arrivée", "Entonnoir", "Contacts",
                             "Paramètres"]
    leads = dash.api("leads", period(month)).json()["rows"]
    figures: dict[str, Any] = {r[0]: r[1:] for r in wb["Chiffres clés"].iter_rows(min_row=2, values_only=True)}
    assert figures["Contacts (acceptés par le site)"] == (len(leads),
                                                          len(dash.api("leads", period(previous)).json()["rows"]))
    assert "%" in wb["Chiffres clés"].cell(
        [r[0] for r in wb["Chiffres clés"].iter_rows(values_only=True)].index("Taux de conversion") + 1, 2
    ).number_format
    sheet = wb["Contacts"]
    assert sheet.max_row == len(leads) + 1 and sheet.cell(2, 1).value.isoformat() == leads[-1]["ts"][:19]
    page = tmp_path / "board.html"
    dash.cli("report", "board", "--month", f"{month:%Y-%m}", "--out", str(page), "--lang", "en")
    text = page.read_text()
    assert "<h1>Board report: " in text and "<nav" not in text and "<script" not in text
    assert "@media print" in text  # the print style sheet travels inside the file


@pytest.mark.parametrize(("args", "message"), [
    (["--month", "2026-13", "--out", "x.xlsx"], "Error: month must be written YYYY-MM, e.g. 2026-11, not '2026-13'"),
    (["--out", "x.pdf"], "Error: --out 'x.pdf': give a .xlsx or .html file name"),
])
def test_the_cli_says_what_is_wrong_in_one_line(dash: Dash, tmp_path: Path, args: list[str], message: str) -> None:
    result = webleads("report", "board", *args, db=dash.server.db, check=False)
    assert result.returncode == 1 and result.stderr.strip() == message


def test_the_workbook_reads_back_with_types(dash: Dash, client: httpx.Client) -> None:
    month, _ = months(dash)
    wb = openpyxl.load_workbook(io.BytesIO(client.get(f"/dashboard/report.xlsx?month={month:%Y-%m}").content))
    channels = wb["Canaux"]
    assert channels.freeze_panes == "A2" and channels.cell(1, 1).value == "Canal"
    assert isinstance(channels.cell(2, 2).value, int | float) and channels.cell(2, 3).number_format == "0.0%"
