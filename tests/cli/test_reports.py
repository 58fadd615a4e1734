"""The analytics commands through the real `webleads` CLI: import, report formats, errors, export and
--data, demo, and the same commands while `webleads serve` holds the database."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import timedelta
from pathlib import Path

import pytest

from webleads.collector.rows import utcnow

from conftest import ORIGIN, Server, webleads

# Days far enough back that the imported lines are history, within the retention period.
T0 = (utcnow() - timedelta(days=200)).replace(hour=10, minute=0, second=0, microsecond=0)
HEADER = "ts,site,type,name,visitor_id,url,referrer,event_id,email,props"


def line(at: object, kind: str = "pageview", name: str = "", visitor: str = "v1", query: str = "",
         referrer: str = "", event_id: str = "", props: str = "") -> str:
    url = f"{ORIGIN}/formation" + (f"?{query}" if query else "")
    return f'{at},ecloserie,{kind},{name},{visitor},{url},{referrer},{event_id},x@example.org,"{props}"'


def write_csv(path: Path, *lines: str) -> Path:
    path.write_text("\n".join([HEADER, *lines]) + "\n", encoding="utf-8")
    return path


def test_import_counts_rejects_reports_unknown_columns_and_never_stores_twice(site_db: Path, tmp_path: Path) -> None:
    T = T0.isoformat()  # noqa: N806
    file = write_csv(
        tmp_path / "history.csv",
        line(T, query="utm_source=newsletter&utm_medium=email&utm_campaign=nov", event_id="a1"),
        line((T0 + timedelta(minutes=5)).isoformat(), kind="conversion", name="candidater", event_id="a2",
             props='{""formation"": ""dev""}'),
        line(T, kind="purchase", event_id="a3"),
        line((T0 - timedelta(days=800)).isoformat(), event_id="a4"),
        line(T, visitor="", event_id="a5"),
    )
    out = webleads("import", str(file), db=site_db).stdout
    assert "2 accepted, 0 already stored, 3 rejected" in out
    assert "bad_type" in out and "old_ts" in out and "missing_visitor_id" in out and "line 4" in out
    assert "unknown columns left out: email" in out
    again = webleads("import", str(file), db=site_db).stdout
    assert "0 accepted, 2 already stored, 3 rejected" in again
    leads = list(csv.DictReader(io.StringIO(webleads("report", "leads", db=site_db).stdout)))
    assert [(r["first_source"], r["path"], r["fields"]) for r in leads] == [
        ("newsletter", "Email", '{"formation":"dev"}')]


def test_an_imported_old_event_changes_the_sessions(site_db: Path, tmp_path: Path) -> None:
    first = write_csv(tmp_path / "a.csv", line(T0.isoformat(), query="utm_source=newsletter&utm_medium=email"),
                      line((T0 + timedelta(minutes=50)).isoformat()),
                      line((T0 + timedelta(minutes=51)).isoformat(), kind="conversion", name="candidater"))
    webleads("import", str(first), db=site_db)
    before = json.loads(webleads("report", "leads", "--format", "json", db=site_db).stdout)["rows"][0]
    assert (before["path"], before["last_source"]) == ("Email > Direct", "(direct)")  # 50 minutes: a new visit
    late = write_csv(tmp_path / "b.csv", line((T0 + timedelta(minutes=25)).isoformat()))
    webleads("import", str(late), db=site_db)
    after = json.loads(webleads("report", "leads", "--format", "json", db=site_db).stdout)["rows"][0]
    assert (after["path"], after["last_source"]) == ("Email", "newsletter")  # now one visit


def test_jsonl_import(site_db: Path, tmp_path: Path) -> None:
    file = tmp_path / "events.jsonl"
    good = {"ts": T0.isoformat(), "site": "ecloserie", "visitor_id": "v1", "url": ORIGIN + "/", "referrer":
            "https://www.google.fr/"}
    file.write_text(json.dumps(good) + "\n{not json\n\n" + json.dumps({**good, "extra": 1}) + "\n")
    out = webleads("import", str(file), db=site_db).stdout
    assert "2 accepted" in out and "1 rejected" in out and "bad_json" in out
    assert "unknown columns left out: extra" in out


def report_csv(db: Path, *args: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(webleads("report", *args, db=db).stdout)))


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A database filled by `webleads demo`, shared by the tests that only read it."""
    db = tmp_path_factory.mktemp("demo") / "demo.duckdb"
    webleads("demo", "--visitors", "300", "--seed", "5", db=db)
    return db


def test_report_formats_and_columns(demo_db: Path) -> None:
    site_db = demo_db
    out = webleads("report", "attribution", "--model", "linear", db=site_db).stdout  # piped: csv
    assert out.splitlines()[0] == "channel,conversions,share,touched_conversions"
    rows = list(csv.DictReader(io.StringIO(out)))
    total = sum(float(r["conversions"]) for r in rows)
    data = json.loads(webleads("report", "attribution", "--model", "markov", "--by", "source", "--format", "json",
                               db=site_db).stdout)
    assert set(data) >= {"rows", "notes"} and list(data["rows"][0]) == ["source", "conversions", "share",
                                                                        "touched_conversions"]
    assert abs(sum(r["conversions"] for r in data["rows"]) - total) < 1e-3
    funnel = webleads("report", "funnel", "--step", "pageview:/formation*", "--step", "conversion:candidater",
                      "--window", "14d", db=site_db).stdout
    assert funnel.splitlines()[0] == "step,name,visitors,conversion_rate,drop_off,median_seconds_from_previous"
    leads = webleads("report", "leads", db=site_db).stdout
    assert leads.splitlines()[0].startswith("ts,site,visitor_id,conversion,first_source,first_medium,first_campaign,"
                                            "last_source,last_medium,last_campaign")


def test_bad_options_are_one_line_errors(site_db: Path) -> None:
    # every check is in reports.filters & co (test_api.py goes through them all); here, how the CLI says it
    for args, message in [
        (("attribution", "--model", "linear", "--from", "2026-13-01"), "YYYY-MM-DD"),
        (("funnel", "--step", "visit:/"), "pageview:GLOB"),
    ]:
        proc = webleads("report", *args, db=site_db, check=False)
        assert proc.returncode == 1, args
        assert proc.stderr.startswith("Error: ") and message in proc.stderr and "Traceback" not in proc.stderr


def test_export_parquet_and_report_from_it(demo_db: Path, tmp_path: Path) -> None:
    site_db = demo_db
    out = tmp_path / "exports" / "2026"  # the parent folder does not exist yet: made as mkdir -p would
    assert "events written" in webleads("export", "--format", "parquet", "--out", str(out), db=site_db).stdout
    partitions = sorted(p.relative_to(out).parts[:2] for p in out.rglob("*.parquet"))
    assert partitions and all(s == "site=demo" and d.startswith("date=") for s, d in partitions)
    for args in (("leads",), ("funnel", "--step", "pageview:/*", "--step", "conversion:candidater", "--by", "channel")):
        assert report_csv(site_db, *args) == report_csv(site_db, *args, "--data", str(out)), args
    refused = webleads("export", "--out", str(out), db=site_db, check=False)
    assert refused.returncode == 1 and "not empty" in refused.stderr
    (tmp_path / "file").write_text("")
    unusable = webleads("export", "--out", str(tmp_path / "file" / "sub"), db=site_db, check=False)
    assert unusable.returncode == 1 and unusable.stderr.startswith("Error: cannot create the folder")
    assert "Traceback" not in unusable.stderr


def test_demo_is_deterministic(db_path: Path) -> None:
    first = webleads("demo", "--visitors", "150", "--seed", "7", db=db_path).stdout
    stored = int(re.search(r"visitors: (\d+) events stored", first).group(1))  # type: ignore[union-attr]
    assert stored > 500
    again = webleads("demo", "--visitors", "150", "--seed", "7", db=db_path).stdout
    assert f"0 events stored, {stored} already there, 0 rejected" in again


def test_commands_run_inside_a_running_collector(server: Server, tmp_path: Path) -> None:
    file = write_csv(tmp_path / "h.csv", line(T0.isoformat(), referrer="https://www.google.fr/"),
                     line((T0 + timedelta(minutes=3)).isoformat(), kind="conversion", name="candidater"))
    assert "2 accepted" in webleads("import", str(file), db=server.db).stdout
    rows = report_csv(server.db, "attribution", "--model", "last_touch")
    assert rows == [{"channel": "Organic Search", "conversions": "1.0", "share": "1.0", "touched_conversions": "1"}]
    out = tmp_path / "exp"
    webleads("export", "--out", str(out), db=server.db)
    assert list(out.rglob("*.parquet"))
