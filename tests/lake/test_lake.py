"""Opening a lake, the daily salt shared by every collector, the S3 data path, DuckLake's maintenance."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from datetime import date, datetime
from pathlib import Path

import pytest

from webleads.collector import lake
from webleads.collector.journal import Journal
from webleads.collector.lake_mover import LakeMover
from webleads.collector.rows import COLUMN_NAMES

from .worker import event

WORKER = str(Path(__file__).with_name("worker.py"))


def test_many_collectors_asking_for_todays_salt_at_once_all_get_the_same(pg_catalog: str, lake_data: str) -> None:
    lake.connect(pg_catalog, lake_data).close()  # the lake exists; the race is on the salt
    day = "2026-12-04"
    go = time.time() + 8  # all connected by then: they ask at the same moment
    workers = [subprocess.Popen([sys.executable, WORKER, "salt", pg_catalog, lake_data, day, str(go)],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(8)]
    salts = []
    for worker in workers:
        out, err = worker.communicate(timeout=120)
        assert worker.returncode == 0, err
        salts.append(out.split()[0])
    assert len(set(salts)) == 1 and len(bytes.fromhex(salts[0])) == 32
    conn = lake.connect(pg_catalog, lake_data)
    assert lake.salt_for(conn, date(2026, 12, 4)).hex() == salts[0]
    assert lake.salt_for(conn, date(2026, 12, 5)).hex() != salts[0], "a new day, a new salt"


def test_old_salts_are_dropped(pg_catalog: str, lake_data: str) -> None:
    conn = lake.connect(pg_catalog, lake_data)
    for day in (2, 3, 4):
        lake.salt_for(conn, date(2026, 12, day))
    assert lake.forget_old_salts(conn, date(2026, 12, 3)) == 1
    assert lake.forget_old_salts(conn, date(2026, 12, 3)) == 0
    tables = {n for (n,) in conn.execute("SELECT table_name FROM duckdb_tables() WHERE database_name = 'lake'")
              .fetchall()}
    assert {"daily_salt_20261203", "daily_salt_20261204"} <= tables and "daily_salt_20261202" not in tables


def test_a_lake_on_s3_takes_its_credentials_from_the_aws_variables(pg_catalog: str, s3_env: dict[str, str],
                                                                   tmp_path: Path) -> None:
    data = "s3://webleads/lake-one/"
    conn = lake.connect(pg_catalog, data)
    journal = Journal(tmp_path / "j", COLUMN_NAMES)
    journal.append([event("s3", i, datetime(2026, 12, 4, 9)) for i in range(500)])
    sealed = journal.seal()
    assert sealed is not None
    assert LakeMover(conn, tmp_path / "j", "s3").move([sealed]) == 500
    files = conn.execute("SELECT data_file FROM ducklake_list_files('lake', 'event_log')").fetchall()
    assert files and all(f.startswith(data) for (f,) in files)
    # another process, with the variables only in its environment, reads the same lake
    script = ("import sys; from webleads.collector import lake; c = lake.connect(sys.argv[1]); "
              "print(c.execute('SELECT count(DISTINCT event_id) FROM lake.event_log').fetchone()[0])")
    done = subprocess.run([sys.executable, "-c", script, pg_catalog], capture_output=True, text=True, timeout=120,
                          env={**os.environ, **s3_env})
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "500"
    # and with a wrong secret the store refuses: the variables are what the reads are signed with
    refused = subprocess.run([sys.executable, "-c", script, pg_catalog], capture_output=True, text=True,
                             timeout=120, env={**os.environ, **s3_env, "AWS_SECRET_ACCESS_KEY": "wrong"})
    assert refused.returncode != 0 and "403" in refused.stderr


def test_an_s3_data_path_without_credentials_is_a_clear_error(pg_catalog: str) -> None:
    with pytest.raises(lake.LakeError, match="needs AWS_ACCESS_KEY_ID"):
        lake.connect(pg_catalog, "s3://webleads/x/", env={})


def test_the_secret_follows_the_endpoint() -> None:
    env = {"AWS_ACCESS_KEY_ID": "k", "AWS_SECRET_ACCESS_KEY": "s'q", "AWS_REGION": "eu-west-3"}
    assert lake.s3_secret_sql(env) == ("CREATE OR REPLACE SECRET webleads_s3 (TYPE s3, KEY_ID 'k', SECRET 's''q', "
                                       "REGION 'eu-west-3')")
    other = lake.s3_secret_sql({**env, "AWS_ENDPOINT_URL": "https://s3.example.org:9000"})
    assert other and "ENDPOINT 's3.example.org:9000', URL_STYLE 'path', USE_SSL true" in other
    with pytest.raises(lake.LakeError, match="AWS_ENDPOINT_URL"):
        lake.s3_secret_sql({**env, "AWS_ENDPOINT_URL": "s3.example.org"})
    assert lake.s3_secret_sql({}) is None


def test_a_file_catalog_works_and_maintenance_merges_the_small_files(tmp_path: Path) -> None:
    conn = lake.connect(str(tmp_path / "meta.ducklake"), str(tmp_path / "data"))
    journal = Journal(tmp_path / "j", COLUMN_NAMES)
    mover = LakeMover(conn, tmp_path / "j", "one")
    for batch in range(12):
        journal.append([event("one", batch * 100 + i, datetime(2026, 12, 4, 9)) for i in range(100)])
        sealed = journal.seal()
        assert sealed is not None
        mover.move([sealed])
    assert lake.data_files(conn) == 12
    lake.compact(conn)
    assert lake.data_files(conn) == 1
    assert len(list((tmp_path / "data").rglob("*.parquet"))) == 1, "the merged files are deleted"
    assert conn.execute("SELECT count(DISTINCT event_id) FROM lake.event_log").fetchone() == (1200,)


def test_a_lake_that_cannot_be_opened_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(lake.LakeError, match="cannot open the lake"):
        lake.connect(f"postgres:dbname=nothing host={tmp_path} user=nobody", str(tmp_path / "d"))


def test_a_purge_removes_the_old_events_from_the_files_too(pg_catalog: str, lake_data: str, tmp_path: Path) -> None:
    conn = lake.connect(pg_catalog, lake_data)
    journal = Journal(tmp_path / "j", COLUMN_NAMES)
    mover = LakeMover(conn, tmp_path / "j", "p")
    for days in ((1, 2), (3, 4)):  # a file holds days to purge and days to keep
        journal.append([event(f"d{day}", i, datetime(2026, 12, day, 12)) for day in days for i in range(50)])
        sealed = journal.seal()
        assert sealed is not None
        mover.move([sealed])
    assert lake.purge_before(conn, datetime(2026, 12, 2), site="elsewhere") == 0
    assert lake.purge_before(conn, datetime(2026, 12, 2)) == 50
    assert conn.execute("SELECT count(*), min(ts) FROM lake.event_log").fetchone() == (150, datetime(2026, 12, 2, 12))
    on_disk = [str(p) for p in Path(lake_data).rglob("*.parquet")]
    ids = {i for (i,) in conn.execute("SELECT event_id FROM read_parquet($f)", {"f": on_disk}).fetchall()}
    assert ids == {f"d{day}-{i}" for day in (2, 3, 4) for i in range(50)}, "purged events left in a Parquet file"


def test_the_check_reports_the_extensions_the_catalog_and_the_data_path(pg_catalog: str, s3_env: dict[str, str],
                                                                        tmp_path: Path) -> None:
    conn = lake.connect(pg_catalog, "s3://webleads/checked/")
    conn.execute("INSERT INTO lake.event_log BY NAME SELECT 'x' || range AS event_id, now()::TIMESTAMP AS received_at, "
                 "now()::TIMESTAMP AS ts, 's' AS site, 'pageview' AS type, 'v' AS visitor_id, 'hash' AS visitor_kind, "
                 "false AS is_bot, 'beacon' AS origin FROM range(100)")
    fine = {what: (ok, detail) for what, ok, detail in lake.check(pg_catalog)}
    assert all(ok for ok, _ in fine.values()), fine
    assert fine["data path"][1].startswith("s3://webleads/checked/") and "(1 file(s))" in fine["data path"][1]
    wrong = {what: (ok, detail) for what, ok, detail in lake.check(pg_catalog, env={**s3_env,
                                                                                   "AWS_SECRET_ACCESS_KEY": "no"})}
    assert wrong["catalog"][0] and not wrong["data path"][0]
    broken = {what: ok for what, ok, _ in lake.check(f"postgres:dbname=none host={tmp_path} user=x", "/nowhere")}
    assert broken["extension ducklake"] and not broken["catalog"]
