"""Sites, API tokens and the daily salts, kept in the database and cached in the collector."""

from __future__ import annotations

import hashlib
import re
import secrets
import threading
from collections.abc import Callable
from datetime import date, datetime, timedelta
from urllib.parse import urlsplit

import duckdb
from starlette.concurrency import run_in_threadpool

from .enrich import SiteConfig
from .store import Store, utcnow
from .validate import SITE_NAME


class RegistryError(ValueError):
    """A user mistake in a site or token command; the message says what to do."""


def normalise_origin(raw: str) -> str:
    text = raw.strip().rstrip("/")
    if "://" not in text:
        text = "https://" + text
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.hostname or (parts.path not in ("", "/")):
        raise RegistryError(f"origin {raw!r} is not of the form https://www.example.org")
    host = parts.hostname.lower()
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}"


_PARAM = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


class Registry:
    """The sites allowed to send events (cached; reloaded after every change)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._lock = threading.Lock()
        self.sites: dict[str, SiteConfig] = {}
        self._salts: dict[date, bytes] = {}
        # Called after every change of the sites (the front processes get the new list).
        self.on_change: list[Callable[[], None]] = []
        self.reload()

    def reload(self) -> None:
        rows = self.store.query("SELECT name, origins, allowed_params, consent, retention_months FROM sites "
                                "ORDER BY name")
        self.sites = {r["name"]: SiteConfig(r["name"], tuple(r["origins"]), tuple(r["allowed_params"]),
                                            r["consent"], r["retention_months"]) for r in rows}
        for hook in self.on_change:
            hook()

    async def fresh(self, name: str) -> SiteConfig | None:
        """A site not in the cache: this registry is always current, so there is none."""
        return None

    def add_site(self, name: str, origins: list[str], allowed_params: list[str] | None = None,
                 consent: str = "optional", retention_months: int | None = None) -> SiteConfig:
        if not SITE_NAME.match(name):
            raise RegistryError(f"site name {name!r}: use lowercase letters, digits, '.', '_' or '-' "
                                "(for example: ecloserie)")
        if not origins:
            raise RegistryError("give at least one --origin, for example --origin https://www.example.org")
        clean = sorted({normalise_origin(o) for o in origins})
        params = sorted({p for p in (allowed_params or [])})
        for p in params:
            if not _PARAM.match(p):
                raise RegistryError(f"query parameter {p!r} is not a plain parameter name")

        _check_site_options(consent, retention_months)

        def insert(conn: duckdb.DuckDBPyConnection) -> None:
            exists = conn.execute("SELECT 1 FROM sites WHERE name = $n", {"n": name}).fetchone()
            if exists:
                raise RegistryError(f"site {name!r} exists already; `webleads snippet {name}` prints its tag")
            conn.execute("INSERT INTO sites (name, origins, allowed_params, retention_months, created_at, consent) "
                         "VALUES ($n, $o, $p, $r, $t, $c)",
                         {"n": name, "o": clean, "p": params, "r": retention_months, "t": utcnow(), "c": consent})

        self.store.run_write(insert)
        self.reload()
        return self.sites[name]

    def update_site(self, name: str, consent: str | None = None, retention_months: int | None = None) -> SiteConfig:
        if name not in self.sites:
            raise RegistryError(f"no site named {name!r}; add it with: webleads site add {name} --origin https://...")
        current = self.sites[name]
        consent = consent or current.consent
        retention = retention_months if retention_months is not None else current.retention_months
        _check_site_options(consent, retention)
        self.store.run_write(lambda conn: conn.execute(
            "UPDATE sites SET consent = $c, retention_months = $r WHERE name = $n",
            {"c": consent, "r": retention, "n": name}))
        self.reload()
        return self.sites[name]

    def get(self, name: str) -> SiteConfig | None:
        return self.sites.get(name)

    # --- the daily salt for visitors without consent ------------------------------------------
    def cached_salt(self, now: datetime) -> bytes | None:
        """Today's salt if already known (no database access: safe on the event loop)."""
        return self._salts.get(now.date())

    async def salt_async(self, now: datetime) -> bytes:
        return await run_in_threadpool(self.salt_for, now)

    def forget_old_salts(self, now: datetime) -> int:
        """Delete the salts older than yesterday (run at start and just after each midnight UTC, so a
        salt is never kept past two days, traffic or not); returns how many were deleted."""
        oldest = now.date() - timedelta(days=1)
        deleted = self.store.run_write(lambda conn: conn.execute(
            "DELETE FROM daily_salts WHERE day < $d", {"d": oldest}).fetchone())
        with self._lock:
            self._salts = {day: salt for day, salt in self._salts.items() if day >= oldest}
        return int(deleted[0]) if deleted else 0

    def salt_for(self, now: datetime) -> bytes:
        day = now.date()
        salt = self.cached_salt(now)
        if salt is not None:
            return salt
        with self._lock:
            salt = self._salts.get(day)
            if salt is None:
                salt = self.store.run_write(lambda conn: _rotate_salt(conn, day))
                self._salts = {day: salt}
        return salt


def _check_site_options(consent: str, retention_months: int | None) -> None:
    if consent not in ("optional", "required"):
        raise RegistryError(f"consent {consent!r}: use 'optional' (measure without consent, link days after it) "
                            "or 'required' (nothing before consent)")
    if retention_months is not None and not 1 <= retention_months <= 120:
        raise RegistryError(f"retention of {retention_months} months: give a number from 1 to 120 (CNIL: 25)")


def _rotate_salt(conn: duckdb.DuckDBPyConnection, day: date) -> bytes:
    """Today's salt, made if missing; salts older than yesterday are deleted (never kept 2 days)."""
    conn.execute("BEGIN")
    conn.execute("DELETE FROM daily_salts WHERE day < $d", {"d": day - timedelta(days=1)})
    row = conn.execute("SELECT salt FROM daily_salts WHERE day = $d", {"d": day}).fetchone()
    if row is None:
        salt = secrets.token_bytes(32)
        conn.execute("INSERT INTO daily_salts VALUES ($d, $s)", {"d": day, "s": salt})
    else:
        salt = bytes(row[0])
    conn.execute("COMMIT")
    return salt


# --- API tokens ------------------------------------------------------------------------------
def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(store: Store, name: str) -> str:
    token = "wl_" + secrets.token_urlsafe(24)
    store.run_write(lambda conn: conn.execute("INSERT INTO api_tokens VALUES ($h, $n, $t)",
                                              {"h": hash_token(token), "n": name, "t": utcnow()}))
    return token


def check_token(store: Store, token: str | None) -> bool:
    if not token or len(token) > 200:
        return False
    rows = store.query("SELECT 1 AS ok FROM api_tokens WHERE token_hash = $h", {"h": hash_token(token)})
    return bool(rows)


def embed_tag(base_url: str, script_path: str, site: str, consent: str = "optional") -> str:
    extra = ' data-consent="required"' if consent == "required" else ""
    return f'<script async src="{base_url}{script_path}" data-site="{site}"{extra}></script>'
