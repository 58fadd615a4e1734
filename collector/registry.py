"""Sites, API tokens and the daily salts, kept in the database and cached in the collector."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import re
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from urllib.parse import urlsplit

import duckdb

from .enrich import SiteConfig
from .rows import StoreClosed, utcnow
from .storage import Storage
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

    def __init__(self, store: Storage) -> None:
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

    def update_site(self, name: str, consent: str | None = None, retention_months: int | None = None,
                    origins: list[str] | None = None, add_origins: list[str] | None = None,
                    remove_origins: list[str] | None = None) -> SiteConfig:
        """Change a site's settings; `origins` replaces its origins, the other two edit them."""
        if name not in self.sites:
            raise RegistryError(f"no site named {name!r}; add it with: webleads site add {name} --origin https://...")
        current = self.sites[name]
        consent = consent or current.consent
        retention = retention_months if retention_months is not None else current.retention_months
        _check_site_options(consent, retention)
        kept = {normalise_origin(o) for o in origins} if origins else set(current.origins)
        kept |= {normalise_origin(o) for o in add_origins or []}
        for origin in remove_origins or []:
            clean = normalise_origin(origin)
            if clean not in kept:
                raise RegistryError(f"site {name!r} has no origin {clean} (its origins: {', '.join(sorted(kept))})")
            kept.discard(clean)
        if not kept:
            raise RegistryError(f"site {name!r} would have no origin left: beacons would all be refused; "
                                "add one with --add-origin, or remove the site with: webleads site remove " + name)
        self.store.run_write(lambda conn: conn.execute(
            "UPDATE sites SET consent = $c, retention_months = $r, origins = $o WHERE name = $n",
            {"c": consent, "r": retention, "o": sorted(kept), "n": name}))
        self.reload()
        return self.sites[name]

    def remove_site(self, name: str, purge_events: bool = False) -> int:
        """Unregister a site (its beacons are refused from now on); with purge_events, delete its events
        too, in short transactions. Returns the number of events deleted."""
        if name not in self.sites:
            raise RegistryError(f"no site named {name!r} (registered: {', '.join(self.sites) or 'none'})")
        deleted = delete_site_events(self.store, name) if purge_events else 0
        self.store.run_write(lambda conn: conn.execute("DELETE FROM sites WHERE name = $n", {"n": name}))
        self.reload()
        return deleted

    def is_demo(self, name: str) -> bool:
        rows = self.store.query("SELECT demo FROM sites WHERE name = $n", {"n": name})
        return bool(rows and rows[0]["demo"])

    def mark_demo(self, name: str) -> None:
        self.store.run_write(lambda conn: conn.execute("UPDATE sites SET demo = true WHERE name = $n", {"n": name}))

    def get(self, name: str) -> SiteConfig | None:
        return self.sites.get(name)

    # --- the daily salt for visitors without consent ------------------------------------------
    def cached_salt(self, now: datetime) -> bytes | None:
        """Today's salt if already known (no database access: safe on the event loop)."""
        return self._salts.get(now.date())

    async def salt_async(self, now: datetime) -> bytes:
        return await asyncio.to_thread(self.salt_for, now)

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


def create_token(store: Storage, name: str) -> str:
    token = "wl_" + secrets.token_urlsafe(24)
    store.run_write(lambda conn: conn.execute(
        "INSERT INTO api_tokens (token_hash, name, created_at) VALUES ($h, $n, $t)",
        {"h": hash_token(token), "n": name, "t": utcnow()}))
    return token


# A token's last use is written at most this often (each write goes through the writer thread).
LAST_USE_EVERY = 600.0
_last_use_noted: dict[str, float] = {}


def check_token(store: Storage, token: str | None) -> bool:
    if not token or len(token) > 200:
        return False
    token_hash = hash_token(token)
    rows = store.query("SELECT 1 AS ok FROM api_tokens WHERE token_hash = $h", {"h": token_hash})
    if rows:
        _note_use(store, token_hash)
    return bool(rows)


def _note_use(store: Storage, token_hash: str) -> None:
    """Record the token's last use without making the request wait for the writer."""
    now = time.monotonic()
    if now - _last_use_noted.get(token_hash, -LAST_USE_EVERY) < LAST_USE_EVERY:
        return
    _last_use_noted[token_hash] = now

    def write() -> None:
        with contextlib.suppress(StoreClosed):
            store.run_write(lambda conn: conn.execute(
                "UPDATE api_tokens SET last_used_at = $t WHERE token_hash = $h", {"t": utcnow(), "h": token_hash}))

    threading.Thread(target=write, name="webleads-token-use", daemon=True).start()


@dataclass(frozen=True)
class TokenInfo:
    id: str  # the first characters of the token's hash: enough to tell tokens apart, useless to sign in
    name: str
    created_at: datetime
    last_used_at: datetime | None


TOKEN_ID_CHARS = 8


def list_tokens(store: Storage) -> list[TokenInfo]:
    rows = store.query("SELECT token_hash, name, created_at, last_used_at FROM api_tokens ORDER BY created_at")
    return [TokenInfo(r["token_hash"][:TOKEN_ID_CHARS], r["name"], r["created_at"], r["last_used_at"]) for r in rows]


def revoke_token(store: Storage, which: str) -> list[TokenInfo]:
    """Delete the token whose id (from `token list`) or name is `which`; a name shared by several
    tokens is refused, so that one mistyped word never revokes more than meant."""
    tokens = list_tokens(store)
    matches = [t for t in tokens if t.id == which] or [t for t in tokens if t.name == which]
    if not matches:
        raise RegistryError(f"no token with id or name {which!r}; see: webleads token list")
    if len(matches) > 1:
        ids = ", ".join(t.id for t in matches)
        raise RegistryError(f"{len(matches)} tokens are named {which!r}: revoke one by its id ({ids})")
    prefix = matches[0].id

    def revoke(conn: duckdb.DuckDBPyConnection) -> None:  # and the dashboard sessions it opened
        conn.execute("DELETE FROM dashboard_sessions WHERE starts_with(token_hash, $p)", {"p": prefix})
        conn.execute("DELETE FROM api_tokens WHERE starts_with(token_hash, $p)", {"p": prefix})

    store.run_write(revoke)
    return matches


def delete_site_events(store: Storage, site: str, chunk: int = 50_000) -> int:
    """Delete every event of a site, in transactions of `chunk` rows so that ingest never waits long."""
    store.settle()
    total = 0

    def delete(conn: duckdb.DuckDBPyConnection) -> int:
        row = conn.execute("DELETE FROM event_log WHERE rowid IN "
                           "(SELECT rowid FROM event_log WHERE site = $s LIMIT $n)", {"s": site, "n": chunk}).fetchone()
        return int(row[0]) if row else 0

    while True:
        deleted = int(store.run_write(delete))
        total += deleted
        if deleted < chunk:
            return total


def embed_tag(base_url: str, script_path: str, site: str, consent: str = "optional") -> str:
    extra = ' data-consent="required"' if consent == "required" else ""
    return f'<script async src="{base_url}{script_path}" data-site="{site}"{extra}></script>'
