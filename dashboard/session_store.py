"""The dashboard's sessions on disk (table dashboard_sessions), beside the in-memory ones of auth.py: a
restart of the collector signs nobody out. Times are wall-clock seconds (time.time()), stored as UTC.

Writes go through the store's writer; the last use is written at most every SEEN_EVERY seconds, in the
background, so that a page never waits for it.
"""

from __future__ import annotations

import contextlib
import threading
from datetime import UTC, datetime
from typing import Any

from webleads.collector.rows import StoreClosed

SEEN_EVERY = 600.0


def _at(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC).replace(tzinfo=None)


def _seconds(at: datetime) -> float:
    return at.replace(tzinfo=UTC).timestamp()


def save(store: Any, session_hash: str, token_hash: str, created: float, remember: bool) -> None:
    store.run_write(lambda conn: conn.execute(
        "INSERT OR REPLACE INTO dashboard_sessions VALUES ($s, $t, $c, $c, $r)",
        {"s": session_hash, "t": token_hash, "c": _at(created), "r": remember}))


def load(store: Any, session_hash: str) -> tuple[str, float, float, bool] | None:
    """(token hash, created, last seen, remember) of a stored session, or None."""
    rows = store.query("SELECT token_hash, created_at, seen_at, remember FROM dashboard_sessions "
                       "WHERE session_hash = $s", {"s": session_hash})
    if not rows:
        return None
    r = rows[0]
    return r["token_hash"], _seconds(r["created_at"]), _seconds(r["seen_at"]), bool(r["remember"])


def delete(store: Any, session_hash: str | None = None, token_hash: str | None = None) -> None:
    if session_hash is not None:
        store.run_write(lambda conn: conn.execute("DELETE FROM dashboard_sessions WHERE session_hash = $s",
                                                  {"s": session_hash}))
    if token_hash is not None:
        store.run_write(lambda conn: conn.execute("DELETE FROM dashboard_sessions WHERE token_hash = $t",
                                                  {"t": token_hash}))


def delete_expired(store: Any, now: float, idle: float, longest: float, remembered: float) -> None:
    """Sessions past their limits: idle or old ones, remembered ones past `remembered` seconds."""
    store.run_write(lambda conn: conn.execute(
        "DELETE FROM dashboard_sessions WHERE (NOT remember AND (seen_at < $idle OR created_at < $old)) "
        "OR created_at < $remembered",
        {"idle": _at(now - idle), "old": _at(now - longest), "remembered": _at(now - remembered)}))


def note_seen(store: Any, session_hash: str, now: float) -> None:
    """Write the last use without making the page wait for the writer."""
    def write() -> None:
        with contextlib.suppress(StoreClosed):
            store.run_write(lambda conn: conn.execute(
                "UPDATE dashboard_sessions SET seen_at = $n WHERE session_hash = $s",
                {"n": _at(now), "s": session_hash}))

    threading.Thread(target=write, name="webleads-session-seen", daemon=True).start()
