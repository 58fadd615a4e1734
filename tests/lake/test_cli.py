"""`webleads lake push/check/compact` and `--lake` on the read commands, end to end with the real
PostgreSQL catalog: a report from the lake prints the same CSV as from the file."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest


def _webleads(*args: str, check: bool = True, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(["webleads", *args], capture_output=True, text=True, timeout=300,
                          env={**os.environ, **(env or {})})
    assert not check or done.returncode == 0, done.stderr
    return done


@pytest.fixture(scope="module")
def demo_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    db = tmp_path_factory.mktemp("cli") / "webleads.duckdb"
    _webleads("demo", "--db", str(db), "--visitors", "300")
    return db


def test_push_then_reports_from_the_lake_print_what_the_file_prints(pg_catalog: str, lake_data: str,
                                                                    demo_file: Path) -> None:
    pushed = _webleads("lake", "push", "--db", str(demo_file), "--lake", pg_catalog, "--lake-data", lake_data)
    assert "site(s)" in pushed.stdout and "of the month's" in pushed.stderr
    assert _webleads("lake", "push", "--db", str(demo_file), "--lake", pg_catalog).stdout.startswith("0 event(s)")
    lake = {"WEBLEADS_LAKE": pg_catalog}
    # not `leads`: `lake push` does not copy the demo's outcomes yet (test_reader.py puts them in the lake)
    for args in (("attribution", "-m", "markov", "--by", "campaign"), ("declared", "--field", "connu"),
                 ("funnel", "--step", "pageview:*", "--step", "conversion:*")):
        from_file = _webleads("report", *args, "--format", "csv", "--db", str(demo_file)).stdout
        from_lake = _webleads("report", *args, "--format", "csv", env=lake).stdout
        assert from_lake == from_file and from_file.count("\n") > 1, args
    assert "demo" in _webleads("site", "list", "--lake", pg_catalog).stdout
    out = demo_file.parent
    exported = _webleads("export", "--out", str(out / "exported-lake"), "--lake", pg_catalog).stdout
    from_file = _webleads("export", "--out", str(out / "exported-file"), "--db", str(demo_file)).stdout
    assert exported.split()[0] == from_file.split()[0] and int(from_file.split()[0]) > 100
    refused = _webleads("site", "add", "x", "--origin", "https://x.example", "--lake", pg_catalog, check=False)
    assert refused.returncode == 1 and "does not take it yet" in refused.stderr and "Traceback" not in refused.stderr


def test_check_and_compact(pg_catalog: str, lake_data: str, demo_file: Path) -> None:
    _webleads("lake", "push", "--db", str(demo_file), "--lake", pg_catalog, "--lake-data", lake_data)
    checked = _webleads("lake", "check", "--lake", pg_catalog).stdout
    assert "ok    catalog" in checked and "ok    data path" in checked and "FAIL" not in checked
    compacted = _webleads("lake", "compact", "--lake", pg_catalog).stdout
    before, after = (int(n) for n in compacted.split("event files: ")[1].replace(" before, ", " ").split()[:2])
    assert before > 1 and after == 1
    bad = _webleads("lake", "check", "--lake", "postgres:dbname=absent host=/nonexistent", check=False)
    assert bad.returncode == 1 and "FAIL  catalog" in bad.stdout


def test_a_report_on_an_unreachable_lake_is_one_line() -> None:
    done = _webleads("report", "leads", "--lake", "postgres:dbname=absent host=/nonexistent", check=False)
    assert done.returncode == 1 and done.stderr.startswith("Error: cannot open the lake")
    assert "Traceback" not in done.stderr
