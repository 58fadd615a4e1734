"""Excel downloads: the `.xlsx` of a report, read back with openpyxl, holds the CSV of the same report
cell for cell, with types (numbers are numbers, shares numbers shown as percentages, `ts` dates and times
in the report's time zone), through the API, the CLI and the dashboard; French headers by default."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import httpx
import openpyxl
import pytest

from webleads.dashboard.i18n import Text

from .conftest import Dash

FRENCH = Text("fr")  # how the French pages, and so their Excel files, name channels

NUMBERS = {
    "attribution": {"conversions", "share", "touched_conversions"},
    "funnel": {"step", "visitors", "conversion_rate", "drop_off", "median_seconds_from_previous"},
    "leads": {"value", "touches", "days_to_convert"},
    "roi": {"cost", "conversions", "cost_per_conversion", "value", "roas"},
    "declared": {"leads"},
}
PERCENT = {"share", "conversion_rate"}
STEPS = [("step", "pageview:/"), ("step", "pageview:/formation*"), ("step", "conversion:candidater")]
QUERIES = {
    "attribution": [("model", "linear"), ("by", "campaign")],
    "funnel": [*STEPS, ("window", "30d")],
    "leads": [("include_rejected", "true")],
}
FRENCH_FIRST_HEADER = {"attribution": "Campagne", "funnel": "Étape", "leads": "Date"}


def assert_same_as_csv(report: str, book: bytes, text: str, shown: Text | None = None) -> openpyxl.Workbook:
    """The workbook holds the CSV's rows, typed; with `shown` (the dashboard's files), channels and paths of
    channels are named as the page names them."""
    wb = openpyxl.load_workbook(io.BytesIO(book))
    ws = wb.worksheets[0]
    assert ws.freeze_panes == "A2"
    records = list(csv.reader(io.StringIO(text)))
    columns = records[0]
    cells = list(ws.iter_rows(min_row=2, max_row=len(records), max_col=len(columns)))
    assert len(records) > 2
    assert ws.cell(len(records) + 1, 1).value is None  # no row more than the CSV's
    for row, record in zip(cells, records[1:], strict=True):
        for column, cell, value in zip(columns, row, record, strict=True):
            if value == "":
                assert cell.value is None, (column, cell.value)
            elif column == "ts":
                assert isinstance(cell.value, datetime), (column, cell.value)
                assert cell.value == datetime.fromisoformat(value).replace(tzinfo=None)
            elif column in NUMBERS[report]:
                assert isinstance(cell.value, int | float) and not isinstance(cell.value, bool), (column, cell.value)
                assert cell.value == pytest.approx(float(value)), column
                assert ("%" in cell.number_format) == (column in PERCENT), (column, cell.number_format)
            else:
                if shown is not None and column in ("channel", "first_channel", "last_channel"):
                    value = shown.channel(value)
                elif shown is not None and column == "path":
                    value = shown.path(value)
                assert cell.data_type == "s" and cell.value == value, (column, cell.value, value)
    return wb


def params(dash: Dash, report: str) -> list[tuple[str, str]]:
    return [*dash.everything.items(), *QUERIES[report]]


@pytest.mark.parametrize("report", ["attribution", "funnel", "leads"])
def test_the_api_xlsx_equals_its_csv(dash: Dash, report: str) -> None:
    book = dash.api(report, params(dash, report), fmt="xlsx")
    assert book.headers["content-type"].startswith("application/vnd.openxmlformats-officedocument.spreadsheetml")
    assert 'filename="webleads-' in book.headers["content-disposition"]
    wb = assert_same_as_csv(report, book.content, dash.api(report, params(dash, report), fmt="csv").text)
    assert wb.worksheets[0].cell(1, 1).value == FRENCH_FIRST_HEADER[report]
    settings = {r[0]: r[1] for r in wb["Paramètres"].iter_rows(min_row=2, values_only=True)}
    assert settings["Fuseau horaire"] == "Europe/Paris"
    assert settings["Période"] == f"Du {dash.everything['from']} au {dash.everything['to']}"
    assert isinstance(settings["Généré le"], datetime)
    english = openpyxl.load_workbook(io.BytesIO(dash.api(report, [*params(dash, report), ("lang", "en")],
                                                         fmt="xlsx").content))
    assert english.sheetnames[-1] == "Parameters"
    assert english.worksheets[0].cell(1, 1).value in ("Campaign", "Step", "Date")


def test_the_api_refuses_a_bad_language(dash: Dash) -> None:
    response = httpx.get(f"{dash.url}/api/v1/reports/leads", params={"format": "xlsx", "lang": "de"},
                         headers={"Authorization": f"Bearer {dash.token}"})
    assert response.status_code == 400 and response.json()["error"] == "bad_lang"


def cli_args(dash: Dash, report: str) -> list[str]:
    args = ["report", report, "--from", dash.everything["from"], "--to", dash.everything["to"]]
    for key, value in QUERIES[report]:
        args += [f"--{key.replace('_', '-')}"] + ([value] if key != "include_rejected" else [])
    return args


@pytest.mark.parametrize("report", ["attribution", "funnel", "leads"])
def test_the_cli_xlsx_equals_its_csv(dash: Dash, report: str, tmp_path: Path) -> None:
    out = tmp_path / f"{report}.xlsx"
    dash.cli(*cli_args(dash, report), "--format", "xlsx", "--out", str(out))
    assert_same_as_csv(report, out.read_bytes(), dash.cli(*cli_args(dash, report), "--format", "csv"))
    # --out FILE.xlsx alone is enough
    again = tmp_path / f"{report}-again.xlsx"
    dash.cli(*cli_args(dash, report), "--out", str(again), "--lang", "en")
    assert openpyxl.load_workbook(again).sheetnames[-1] == "Parameters"


def test_the_cli_wants_a_file_for_xlsx(dash: Dash) -> None:
    from conftest import webleads

    result = webleads("report", "leads", "--format", "xlsx", db=dash.server.db, check=False)
    assert result.returncode == 1
    assert result.stderr.strip() == "Error: --format xlsx writes a file: give its name with --out FILE.xlsx"


@pytest.fixture(scope="module")
def client(dash: Dash) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=dash.url, timeout=60, headers={"Origin": dash.url}) as c:
        assert c.post("/dashboard/signin", data={"token": dash.token}).status_code == 303
        yield c


def test_the_dashboard_offers_excel_first_and_its_file_equals_the_csv(dash: Dash, client: httpx.Client) -> None:
    query = "&".join(f"{k}={v}" for k, v in params(dash, "attribution"))
    page = client.get("/dashboard/attribution?" + query).text
    assert page.index("Télécharger (Excel)") < page.index("Télécharger en CSV")
    book = client.get("/dashboard/attribution.xlsx?" + query)
    assert book.status_code == 200
    wb = assert_same_as_csv("attribution", book.content, client.get("/dashboard/attribution.csv?" + query).text,
                            FRENCH)
    settings = {r[0]: r[1] for r in wb["Paramètres"].iter_rows(min_row=2, values_only=True)}
    assert settings["Modèle"] == "Linéaire" and settings["Regroupé par"] == "Campagne"
    leads = "&".join(f"{k}={v}" for k, v in dash.everything.items())
    assert_same_as_csv("leads", client.get("/dashboard/leads.xlsx?" + leads).content,
                       client.get("/dashboard/leads.csv?" + leads).text, FRENCH)
    by_channel = client.get("/dashboard/attribution.xlsx?" + "&".join(
        f"{k}={v}" for k, v in [*dash.everything.items(), ("model", "linear"), ("by", "channel")])).content
    names = {r[0] for r in openpyxl.load_workbook(io.BytesIO(by_channel)).worksheets[0].iter_rows(
        min_row=2, values_only=True)}
    assert "Recherche naturelle" in names and "Organic Search" not in names  # the page's words, not GA4's
    daily = openpyxl.load_workbook(io.BytesIO(client.get(f"/dashboard/overview.xlsx?{leads}&table=daily").content))
    assert isinstance(daily.worksheets[0].cell(2, 1).value, datetime)  # a day is a date
    assert daily.worksheets[0].cell(1, 1).value == "Jour"


@pytest.mark.parametrize(("report", "query", "first", "by"), [
    ("roi", "model=linear&by=campaign", "Campagne", "Campagne"),
    ("roi", "model=linear&by=term", "Canal", "Canal"),  # a dimension ROI does not take: by channel, as the page
    ("declared", "field=connu", "Réponse déclarée", None),
], ids=["roi", "roi-by-channel", "declared"])
def test_the_closed_loop_tables_download_as_excel_too(dash: Dash, client: httpx.Client, report: str, query: str,
                                                      first: str, by: str | None) -> None:
    everything = "&".join(f"{k}={v}" for k, v in dash.everything.items())
    page = client.get(f"/dashboard/{report}?{everything}&{query}").text
    assert page.index("Télécharger (Excel)") < page.index("Télécharger en CSV")
    book = client.get(f"/dashboard/{report}.xlsx?{everything}&{query}")
    assert book.status_code == 200, book.text
    assert book.headers["content-disposition"].endswith('.xlsx"')
    wb = assert_same_as_csv(report, book.content, client.get(f"/dashboard/{report}.csv?{everything}&{query}").text,
                            FRENCH)
    assert wb.worksheets[0].cell(1, 1).value == first
    settings = {r[0]: r[1] for r in wb["Paramètres"].iter_rows(min_row=2, values_only=True)}
    assert settings["Fuseau horaire"] == "Europe/Paris"
    if by:
        assert settings["Modèle"] == "Linéaire" and settings["Regroupé par"] == by
    if report == "declared":  # no field: a 400 that says so, as the CSV's
        refused = client.get(f"/dashboard/declared.xlsx?{everything}")
        assert refused.status_code == 400 and refused.json()["error"]
    assert httpx.get(f"{dash.url}/dashboard/{report}.xlsx?{everything}", timeout=30).status_code == 401
