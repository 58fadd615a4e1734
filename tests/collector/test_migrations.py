"""Schema migrations apply to a database that holds data (a file of an earlier version in use), not only
to a new one: each is checked on a real DuckDB file left at the version before it, with rows."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from webleads.collector.store import Store, migrations

VERSIONS = [v for v, _, _ in migrations()]


def at_version(path: Path, last: int) -> None:
    """A database file migrated up to `last`, with a site and a token, as a running collector leaves it."""
    with duckdb.connect(str(path)) as conn:
        conn.execute("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name VARCHAR, "
                     "applied_at TIMESTAMP)")
        for version, name, sql in migrations():
            if version > last:
                break
            conn.execute("BEGIN")
            conn.execute(sql)
            conn.execute("INSERT INTO schema_migrations VALUES (?, ?, now()::TIMESTAMP)", [version, name])
            conn.execute("COMMIT")
        conn.execute("INSERT INTO sites (name, origins, created_at) VALUES ('ecloserie', ['https://e.test'], "
                     "now()::TIMESTAMP)")
        conn.execute("INSERT INTO api_tokens (token_hash, name, created_at) VALUES ('h', 'n', now()::TIMESTAMP)")


@pytest.mark.parametrize("last", VERSIONS[:-1], ids=[f"from-{v}" for v in VERSIONS[:-1]])
def test_every_later_migration_applies_to_a_database_with_rows(tmp_path: Path, last: int) -> None:
    path = tmp_path / "old.duckdb"
    at_version(path, last)
    store = Store(str(path))
    try:
        assert [m for m in store.applied_migrations] == [n for v, n, _ in migrations() if v > last]
        assert store.query("SELECT name FROM sites") == [{"name": "ecloserie"}]
        assert store.query("SELECT count(*) AS n FROM api_tokens") == [{"n": 1}]
    finally:
        store.close()
