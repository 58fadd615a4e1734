"""The SQL files of analytics/sql, read once. Each file is named after the function that runs it."""

from __future__ import annotations

import hashlib
from functools import cache
from importlib import resources


@cache
def sql(name: str) -> str:
    """The text of analytics/sql/<name>.sql."""
    return resources.files("webleads.analytics").joinpath("sql", f"{name}.sql").read_text(encoding="utf-8")


@cache
def digest(*names: str) -> str:
    """A short hash of package files (sql/*.sql names or data/ paths): derived tables built by other
    versions of them are rebuilt."""
    h = hashlib.sha256()
    for name in names:
        path = resources.files("webleads.analytics").joinpath(name if "/" in name else f"sql/{name}.sql")
        h.update(path.read_bytes())
    return h.hexdigest()[:16]
