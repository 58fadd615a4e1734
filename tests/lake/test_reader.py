"""Reports from a lake equal the same reports from the file: a `webleads demo` file pushed into a lake
(PostgreSQL catalog, data in a folder or in S3), every report compared row for row."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from webleads.analytics import reports
from webleads.analytics.declared import declared
from webleads.analytics.links import link_list
from webleads.analytics.roi import roi
from webleads.collector import lake
from webleads.collector.lake_push import push_file
from webleads.collector.lake_reader import LakeReader, ReadOnly
from webleads.collector.reader import Reader
from webleads.collector.store import Store

from . import services

# What `lake push` does not copy yet: the demo's costs, outcomes and short links, put in the lake here
# as the lake would hold them (the reader reads such tables from the lake when they exist).
NOT_PUSHED = ("campaign_costs", "lead_outcomes", "short_links", "link_scans")
STEPS = ["pageview:*", "pageview:/formation*", "conversion:candidater"]


@pytest.fixture(scope="module")
def demo_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    db = tmp_path_factory.mktemp("reader") / "webleads.duckdb"
    done = subprocess.run(["webleads", "demo", "--db", str(db), "--visitors", "400"], capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return db


def _push(catalog: str, data: str, db: Path) -> None:
    conn = lake.connect(catalog, data)
    try:
        push_file(conn, db)
        conn.execute(f"ATTACH '{db}' AS src (READ_ONLY)")
        for table in NOT_PUSHED:
            conn.execute(f"CREATE TABLE lake.{table} AS SELECT * FROM src.{table}")
        conn.execute("DETACH src")
    finally:
        conn.close()


def _every_report(source: Store) -> dict[str, list[dict[str, object]]]:
    out: dict[str, list[dict[str, object]]] = {}
    for model in reports.MODELS:
        for by in reports.DIMENSIONS:
            out[f"attribution {model} {by}"] = reports.attribution(source, model=model, by=by)
        out[f"roi {model}"] = roi(source, model=model)
    out["attribution value"] = reports.attribution(source, model="linear", value=True)
    out["funnel"] = reports.funnel(source, STEPS)
    out["funnel by source"] = reports.funnel(source, STEPS, by="source")
    out["leads"] = reports.leads(source)
    out["leads with rejected"] = reports.leads(source, include_rejected=True, include_bots=True)
    out["declared"] = declared(source, field="connu")
    out["links"] = link_list(source, "https://t.example")
    return out


def _compare(catalog: str, db: Path) -> list[str]:
    """The names of the reports that differ between the lake and the file."""
    with_lake, with_file = LakeReader(catalog), Reader(str(db))
    try:
        from_lake, from_file = _every_report(with_lake), _every_report(with_file)
    finally:
        with_lake.close()
        with_file.close()
    assert all(len(rows) for rows in from_file.values())
    assert from_file["funnel"][-1]["visitors"] > 0 and any(r["cost"] for r in from_file["roi linear"])
    return [name for name in from_file if list(from_lake[name]) != list(from_file[name])]


def test_every_report_from_the_lake_equals_the_file(pg_catalog: str, lake_data: str, demo_file: Path) -> None:
    _push(pg_catalog, lake_data, demo_file)
    assert _compare(pg_catalog, demo_file) == []


def test_a_changed_event_in_the_lake_shows_in_the_reports(pg_catalog: str, lake_data: str, demo_file: Path) -> None:
    _push(pg_catalog, lake_data, demo_file)
    conn = lake.connect(pg_catalog)
    # one conversion's landing session gets another campaign: the comparison must see it
    conn.execute("UPDATE lake.event_log SET utm_source = 'corrupted', utm_medium = 'cpc' WHERE event_id = "
                 "(SELECT event_id FROM lake.event_log WHERE type = 'pageview' AND visitor_id IN "
                 "(SELECT visitor_id FROM lake.event_log WHERE type = 'conversion') ORDER BY ts DESC LIMIT 1)")
    conn.close()
    differ = _compare(pg_catalog, demo_file)
    assert "leads" in differ and "attribution last_touch source" in differ


def test_a_retried_event_stored_by_two_collectors_counts_once(pg_catalog: str, lake_data: str,
                                                               demo_file: Path) -> None:
    _push(pg_catalog, lake_data, demo_file)
    conn = lake.connect(pg_catalog)
    conn.execute("INSERT INTO lake.event_log SELECT * REPLACE (received_at + INTERVAL 1 SECOND AS received_at) "
                 "FROM lake.event_log WHERE type = 'conversion'")
    conn.close()
    assert _compare(pg_catalog, demo_file) == []


def test_the_reader_follows_the_lake_and_refuses_events(pg_catalog: str, lake_data: str, demo_file: Path) -> None:
    conn = lake.connect(pg_catalog, lake_data)
    reader = LakeReader(pg_catalog)
    try:
        assert reports.leads(reader) == []
        push_file(conn, demo_file)
        assert len(reports.leads(reader)) > 10  # the next report reads the newer snapshot
        with pytest.raises(ReadOnly, match="open for reading"):
            reader.write([])
    finally:
        reader.close()
        conn.close()


def test_reports_from_a_lake_in_s3_equal_the_file(pg_catalog: str, s3_server: services.S3,
                                                  s3_env: dict[str, str], demo_file: Path) -> None:
    _push(pg_catalog, f"s3://{s3_server.bucket}/reader/", demo_file)
    reader = LakeReader(pg_catalog)
    with_file = Reader(str(demo_file))
    try:
        for model in ("last_non_direct", "markov"):
            assert reports.attribution(reader, model=model) == reports.attribution(with_file, model=model)
        assert reports.leads(reader) == reports.leads(with_file)
    finally:
        reader.close()
        with_file.close()
