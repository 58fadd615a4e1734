"""What a stored event row is, without the database: its column names, the write outcome and the
write errors. The front processes import this and not the store, so they never load DuckDB or Arrow
(about 60 MB of memory each)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime

# Column order of event_log (collector/sql/001_initial.sql); rows are tuples in this order.
# store.EVENT_COLUMNS gives each its Arrow type.
COLUMN_NAMES: tuple[str, ...] = (
    "event_id", "received_at", "ts", "site", "type", "name", "visitor_id", "visitor_kind",
    "url", "path", "referrer", "referrer_domain",
    "utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content", "utm_id",
    "click_id", "click_id_type", "props", "browser", "browser_version", "os", "device",
    "is_bot", "bot_reason", "country", "region", "city", "origin",
)
COLUMN_INDEX = {name: i for i, name in enumerate(COLUMN_NAMES)}

# Event ids are unique per site and per way in: the public endpoints (anyone can choose an id there)
# and the authenticated ones (API, import) are two scopes, so a beacon can never take the id of a
# back-office event and have it dropped as a duplicate.
PUBLIC_ORIGINS = ("beacon", "pixel")
_ID, _SITE, _ORIGIN = COLUMN_INDEX["event_id"], COLUMN_INDEX["site"], COLUMN_INDEX["origin"]

IdKey = str


def scoped_id(site: str, public: bool, event_id: str) -> IdKey:
    """An event id with its scope, as one string: the store remembers a million of them, and a string
    costs less than a tuple. Site names and ids hold no control character (validate.py)."""
    return f"{site}\x1f{'p' if public else 'a'}\x1f{event_id}"


def id_key(row: tuple[object, ...] | list[object]) -> IdKey:
    """What an event id is unique within: its site, and whether it came in publicly."""
    return scoped_id(str(row[_SITE]), row[_ORIGIN] in PUBLIC_ORIGINS, str(row[_ID]))


class Overloaded(Exception):
    """The write queue is full: answer 503 with Retry-After, accept nothing."""


class StoreClosed(Exception):
    """The store is shutting down and takes no new writes."""


@dataclass
class WriteResult:
    stored: int
    duplicates: int


def utcnow() -> datetime:
    """Naive UTC now, as stored in TIMESTAMP columns."""
    return datetime.utcfromtimestamp(time.time())
