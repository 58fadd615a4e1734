"""A throwaway PostgreSQL cluster and SeaweedFS S3 server for the whole session (tests/lake/services.py),
and a fresh lake for each test: a new database in that cluster, a new data folder or S3 prefix."""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from . import services

_names = itertools.count(1)


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[services.Postgres]:
    try:
        with services.postgres() as cluster:
            yield cluster
    except services.Missing as exc:
        pytest.skip(str(exc))


@pytest.fixture(scope="session")
def s3_server() -> Iterator[services.S3]:
    try:
        with services.seaweedfs() as s3:
            yield s3
    except services.Missing as exc:
        pytest.skip(str(exc))


@pytest.fixture
def pg_catalog(pg_cluster: services.Postgres) -> str:
    """A DuckLake catalog in a database of its own."""
    return pg_cluster.createdb(f"lake_{os.getpid()}_{next(_names)}")


@pytest.fixture
def s3_env(s3_server: services.S3, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The standard AWS variables pointing at the test server, set in this process and returned for
    child processes."""
    env = s3_server.env()
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return env


@pytest.fixture
def lake_data(tmp_path: Path) -> str:
    return str(tmp_path / "lake-data")
