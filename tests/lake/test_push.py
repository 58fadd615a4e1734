"""`lake push`: a local file's events, sites and tokens copied into a lake, once however often it runs."""

from __future__ import annotations

import subprocess
from pathlib import Path

import duckdb
import pytest

from webleads.collector import lake
from webleads.collector.lake_push import push_file
from webleads.collector.lake_shared import check_token, sites
from webleads.collector.rows import COLUMN_NAMES


def _webleads(*args: str) -> str:
    done = subprocess.run(["webleads", *args], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.fixture(scope="module")
def local_file(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    db = tmp_path_factory.mktemp("push") / "webleads.duckdb"
    _webleads("demo", "--db", str(db), "--visitors", "40")
    _webleads("site", "add", "shop", "--origin", "https://shop.example", "--db", str(db))
    token = _webleads("token", "create", "--name", "ci", "--db", str(db)).strip().split()[-1]
    return db, token


def test_a_push_copies_everything_and_a_second_push_adds_nothing(pg_catalog: str, lake_data: str,
                                                                 local_file: tuple[Path, str]) -> None:
    db, token = local_file
    conn = lake.connect(pg_catalog, lake_data)
    months: list[tuple[object, int, int]] = []
    first = push_file(conn, db, lambda m, added, total: months.append((m, added, total)))
    assert first["events"] > 100 and first["sites"] == 2 and first["tokens"] == 1
    assert all(added == total for _, added, total in months) and len(months) >= 3
    assert push_file(conn, db) == {"events": 0, "sites": 0, "tokens": 0}
    assert set(sites(conn)) == {"demo", "shop"} and check_token(conn, token)
    cols = ", ".join(COLUMN_NAMES)
    conn.execute(f"ATTACH '{db}' AS src (READ_ONLY)")
    for a, b in (("src", "lake"), ("lake", "src")):
        left = conn.execute(f"SELECT count(*) FROM (SELECT {cols} FROM {a}.event_log "
                            f"EXCEPT ALL SELECT {cols} FROM {b}.event_log)").fetchone()
        assert left == (0,), f"rows of {a} not in {b}"


def test_a_push_after_part_of_the_file_is_in_the_lake_adds_the_rest(pg_catalog: str, lake_data: str,
                                                                   local_file: tuple[Path, str]) -> None:
    db, _ = local_file
    conn = lake.connect(pg_catalog, lake_data)
    conn.execute(f"ATTACH '{db}' AS src (READ_ONLY)")
    total = conn.execute("SELECT count(*) FROM src.event_log").fetchone()[0]
    # an interrupted push: the first month committed, and half of another
    conn.execute("INSERT INTO lake.event_log SELECT * FROM src.event_log "
                 "WHERE ts < (SELECT min(ts) FROM src.event_log) + INTERVAL 20 DAY")
    conn.execute("DETACH src")
    added = push_file(conn, db)["events"]
    assert 0 < added < total
    assert conn.execute("SELECT count(*), count(DISTINCT (site, origin, event_id)) FROM lake.event_log").fetchone() \
        == (total, total)


def test_a_file_that_is_not_a_database_is_a_clear_error(pg_catalog: str, lake_data: str, tmp_path: Path) -> None:
    conn = lake.connect(pg_catalog, lake_data)
    with pytest.raises(lake.LakeError, match="no such database file"):
        push_file(conn, tmp_path / "absent.duckdb")
    (tmp_path / "junk.duckdb").write_text("not a database")
    with pytest.raises(lake.LakeError, match="cannot open"):
        push_file(conn, tmp_path / "junk.duckdb")
    empty = tmp_path / "empty.duckdb"
    duckdb.connect(str(empty)).close()
    with pytest.raises(lake.LakeError, match="not a webleads database"):
        push_file(conn, empty)
