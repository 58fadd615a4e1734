"""The DuckLake, postgres and httpfs extensions load from the installed wheels (the `lake` extra), with
DuckDB's own installing and autoloading off and nothing downloaded."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import duckdb
import pytest

from webleads.collector import extensions

USE_THEM = textwrap.dedent("""
    import sys
    from pathlib import Path

    import duckdb

    from webleads.collector import extensions

    tmp = Path(sys.argv[1])
    (tmp / "ext").mkdir()
    conn = duckdb.connect(config={**extensions.NO_DOWNLOADS, "extension_directory": str(tmp / "ext"),
                                  "custom_extension_repository": "http://127.0.0.1:9"})
    extensions.load(conn, "ducklake", "postgres_scanner", "httpfs")
    loaded = {n for (n,) in conn.execute("SELECT extension_name FROM duckdb_extensions() WHERE loaded").fetchall()}
    assert {"ducklake", "postgres_scanner", "httpfs"} <= loaded, loaded
    # each one works: a lake on local files, the postgres scanner's functions, an S3 secret (httpfs)
    conn.execute(f"ATTACH 'ducklake:{tmp}/catalog.ducklake' AS lake "
                 f"(DATA_PATH '{tmp}/data', DATA_INLINING_ROW_LIMIT 0)")  # Parquet files even for a few rows
    conn.execute("CREATE TABLE lake.t AS SELECT range AS i FROM range(10)")
    assert conn.execute("SELECT sum(i) FROM lake.t").fetchone()[0] == 45
    assert list((tmp / "data").rglob("*.parquet"))
    assert conn.execute("SELECT count(*) FROM duckdb_functions() WHERE function_name = 'postgres_scan'").fetchone()[0]
    conn.execute("CREATE SECRET s (TYPE s3, KEY_ID 'k', SECRET 's', ENDPOINT '127.0.0.1:9')")
    assert not any((tmp / "ext").iterdir()), "DuckDB installed something"
    print("loaded", sorted(loaded & {"ducklake", "postgres_scanner", "httpfs"}))
""")


def _offline_prefix() -> list[str]:
    """`unshare -n` (a network namespace with no network) where it is allowed, so that a download
    could not succeed even if one were tried."""
    for prefix in (["unshare", "-n"], ["unshare", "-rn"]):
        try:
            if subprocess.run([*prefix, "true"], capture_output=True, timeout=10).returncode == 0:
                return prefix
        except (OSError, subprocess.TimeoutExpired):
            continue
    return []


def test_the_lake_extensions_load_from_the_wheels_without_a_download(tmp_path: Path) -> None:
    script = tmp_path / "use.py"
    script.write_text(USE_THEM)
    offline = _offline_prefix()
    done = subprocess.run([*offline, sys.executable, str(script), str(tmp_path)], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    assert "loaded ['ducklake', 'httpfs', 'postgres_scanner']" in done.stdout


def test_an_extension_built_for_another_duckdb_is_refused_before_loading(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(duckdb, "__version__", "9.9.9")
    with pytest.raises(extensions.ExtensionMissing, match=r"built for DuckDB v1\.5\.5, not 9\.9\.9"):
        extensions.extension_path("ducklake")
    with pytest.raises(extensions.ExtensionMissing, match="unknown extension"):
        extensions.extension_path("spatial")
