"""Which event ids the store holds already: a retried beacon or a re-imported line adds nothing twice.

Retried client-made ids are recognised from memory on the live path: the ids of the last two days (by
arrival), at most RECENT_IDS_LIMIT of them. Imports and API events check the table, over all time.
Either way an id counts within its scope only (rows.id_key: site, public or authenticated way in)."""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from datetime import timedelta

import duckdb
import pyarrow as pa

from .rows import PUBLIC_ORIGINS, IdKey, scoped_id, utcnow

LIVE_DEDUPE_WINDOW = timedelta(days=2)
RECENT_IDS_LIMIT = 1_000_000
# Ids made by the collector start with this (no client id can: it is refused by validation).
SERVER_ID_PREFIX = "~"


class RecentIds(dict[IdKey, None]):
    """The scoped ids of the last LIVE_DEDUPE_WINDOW, oldest first (a dict: `key in ids` costs no Python
    call, and it keeps insertion order). Used by the writer thread only."""

    def __init__(self, conn: duckdb.DuckDBPyConnection, limit: int = RECENT_IDS_LIMIT) -> None:
        since = utcnow() - LIVE_DEDUPE_WINDOW
        rows = conn.execute(
            "SELECT site, list_contains($public, origin), event_id FROM event_log "
            "WHERE received_at >= $since AND NOT starts_with(event_id, $p) "
            "ORDER BY received_at DESC LIMIT $n", {"since": since, "p": SERVER_ID_PREFIX, "n": limit,
                                                   "public": list(PUBLIC_ORIGINS)}).fetchall()
        super().__init__(dict.fromkeys(scoped_id(site, public, event_id) for site, public, event_id in reversed(rows)))
        self.limit = limit

    def remember(self, keys: Iterable[IdKey]) -> None:
        for key in keys:
            self[key] = None
        overflow = len(self) - self.limit
        if overflow > 0:  # drop the oldest
            for key in list(itertools.islice(self, overflow)):
                del self[key]


def stored_ids(conn: duckdb.DuckDBPyConnection, ids: list[str]) -> set[IdKey]:
    """The scoped ids the table holds for any of `ids`, over all time (imports, API events)."""
    batch_ids = pa.table({"event_id": pa.array(ids, pa.string())})  # noqa: F841 - read by DuckDB by name
    return {scoped_id(site, public, event_id) for site, public, event_id in conn.execute(
        "SELECT site, list_contains($public, origin), event_id FROM event_log "
        "WHERE event_id IN (SELECT event_id FROM batch_ids)", {"public": list(PUBLIC_ORIGINS)}).fetchall()}
