"""Sites and API tokens kept in the lake, shared by every collector.

DuckLake has no unique key, so "one site per name" is kept by serialising the writes to a table:
each write transaction first alters the table (a new comment on it), and DuckLake refuses to commit a
write into a table another transaction altered meanwhile. Of two collectors adding the same site at
once, one commits; the other's transaction is run again, sees the site and refuses. Writes to these
tables are rare (an administrator's commands); reads take no lock."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from typing import Any

import duckdb

from .lake import ALIAS, LakeError, retry_conflicts
from .rows import utcnow


@dataclass(frozen=True)
class LakeSite:
    name: str
    origins: tuple[str, ...]
    allowed_params: tuple[str, ...]
    consent: str
    retention_months: int | None


def lock_table(conn: duckdb.DuckDBPyConnection, table: str) -> None:
    """Make this transaction conflict with any other that writes `table` before it commits."""
    conn.execute(f"COMMENT ON TABLE {ALIAS}.{table} IS '{secrets.token_hex(8)}'")


def sites(conn: duckdb.DuckDBPyConnection) -> dict[str, LakeSite]:
    rows = conn.execute(f"SELECT name, origins, allowed_params, consent, retention_months FROM {ALIAS}.sites "
                        "ORDER BY name").fetchall()
    return {r[0]: LakeSite(r[0], tuple(r[1]), tuple(r[2]), r[3], r[4]) for r in rows}


def add_site(conn: duckdb.DuckDBPyConnection, site: LakeSite) -> LakeSite:
    """Register a site (its name and options already checked, as the local registry checks them);
    LakeError if a site of that name exists."""
    def insert(c: duckdb.DuckDBPyConnection) -> None:
        lock_table(c, "sites")
        if c.execute(f"SELECT 1 FROM {ALIAS}.sites WHERE name = $n", {"n": site.name}).fetchone():
            raise LakeError(f"site {site.name!r} exists already")
        c.execute(f"INSERT INTO {ALIAS}.sites VALUES ($n, $o, $p, $c, $r, $t)",
                  {"n": site.name, "o": list(site.origins), "p": list(site.allowed_params), "c": site.consent,
                   "r": site.retention_months, "t": utcnow()})
    retry_conflicts(conn, insert)
    return site


def remove_site(conn: duckdb.DuckDBPyConnection, name: str) -> bool:
    def delete(c: duckdb.DuckDBPyConnection) -> Any:
        lock_table(c, "sites")
        return c.execute(f"DELETE FROM {ALIAS}.sites WHERE name = $n", {"n": name}).fetchone()
    row = retry_conflicts(conn, delete)
    return bool(row and row[0])


def hash_token(token: str) -> str:
    """As the local registry hashes them, so that `lake push` can copy a file's tokens as they are."""
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(conn: duckdb.DuckDBPyConnection, name: str) -> str:
    token = "wl_" + secrets.token_urlsafe(24)
    # A token is random: two cannot collide, so no lock is needed.
    retry_conflicts(conn, lambda c: c.execute(
        f"INSERT INTO {ALIAS}.api_tokens (token_hash, name, created_at) VALUES ($h, $n, $t)",
        {"h": hash_token(token), "n": name, "t": utcnow()}))
    return token


def check_token(conn: duckdb.DuckDBPyConnection, token: str | None) -> bool:
    if not token or len(token) > 200:
        return False
    return conn.execute(f"SELECT 1 FROM {ALIAS}.api_tokens WHERE token_hash = $h",
                        {"h": hash_token(token)}).fetchone() is not None
