"""Validation of incoming events: types, lengths, names, timestamps. Every refusal is a Rejected.

One incoming event (beacon, pixel, import line, server-side API) is a mapping with these keys:
site, type, name, url, referrer, visitor_id, event_id, ts, props, bot, user_agent. Anything else
is refused by name, so a typo in an integration shows up at once instead of silently losing data.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

EVENT_TYPES = ("pageview", "conversion", "event", "status")
# A form plugin's verdict on a conversion (type "status", the word as `name`, the conversion's event_id
# as props.of), in Contact Form 7's words; "submitted" is what a conversion without a verdict reads as.
STATUSES = ("submitted", "sent", "invalid", "unaccepted", "spam", "aborted", "failed")
SITE_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
TOKEN_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")
MAX_URL = 2048
MAX_NAME = 120
MAX_UA = 512
MAX_PROPS = 30
MAX_PROP_KEY = 64
MAX_PROP_VALUE = 500

BEACON_KEYS = frozenset({"site", "type", "name", "url", "referrer", "visitor_id", "event_id", "ts",
                         "props", "bot"})
IMPORT_KEYS = BEACON_KEYS | {"user_agent"}


class Rejected(Exception):
    """A refusal: HTTP status, a short machine code and a sentence for people."""

    def __init__(self, status: int, code: str, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.code = code
        self.reason = reason


def bad(code: str, reason: str) -> Rejected:
    return Rejected(400, code, reason)


@dataclass(slots=True)
class Incoming:
    site: str
    type: str
    name: str | None
    url: str | None
    referrer: str | None
    visitor_id: str | None
    event_id: str | None
    ts: datetime | None  # naive UTC
    props: dict[str, Any] | None
    bot_hint: bool
    user_agent: str | None


def _str(event: dict[str, Any], key: str, limit: int, required: bool = False) -> str | None:
    value = event.get(key)
    if value is None or value == "":
        if required:
            raise bad(f"missing_{key}", f"'{key}' is required")
        return None
    if not isinstance(value, str):
        raise bad(f"bad_{key}", f"'{key}' must be a string")
    if len(value) > limit:
        raise bad(f"long_{key}", f"'{key}' is longer than {limit} characters")
    if "\x00" in value:
        raise bad(f"bad_{key}", f"'{key}' contains a NUL character")
    return value


def parse_ts(value: Any) -> datetime:
    """Milliseconds since the epoch (number) or ISO 8601 text (UTC when no offset) -> naive UTC."""
    if isinstance(value, bool):
        raise bad("bad_ts", "'ts' must be milliseconds since 1970 or an ISO 8601 date")
    if isinstance(value, int | float):
        # The range first: an integer too large for a float makes math.isfinite raise.
        if not 0 < value < 32503680000000 or not math.isfinite(value):
            raise bad("bad_ts", "'ts' is not a plausible time in milliseconds")
        return datetime.fromtimestamp(value / 1000, UTC).replace(tzinfo=None)
    if isinstance(value, str) and len(value) <= 40:
        text = value.strip().replace("Z", "+00:00").replace("z", "+00:00")
        try:
            parsed = datetime.fromisoformat(text)
            if parsed.tzinfo is not None:
                # 0001-01-01T00:00+01:00 is a valid text for a time before year 1 in UTC: OverflowError.
                parsed = parsed.astimezone(UTC).replace(tzinfo=None)
        except (ValueError, OverflowError):
            pass
        else:
            return parsed
    raise bad("bad_ts", "'ts' must be milliseconds since 1970 or an ISO 8601 date")


def _props(value: Any) -> dict[str, Any] | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise bad("bad_props", "'props' must be a JSON object")
    if len(value) > MAX_PROPS:
        raise bad("long_props", f"'props' has more than {MAX_PROPS} keys")
    for key, item in value.items():
        if len(key) > MAX_PROP_KEY or not key:
            raise bad("bad_props", f"a 'props' key is empty or longer than {MAX_PROP_KEY} characters")
        if isinstance(item, str):
            if len(item) > MAX_PROP_VALUE:
                raise bad("long_props", f"'props.{key[:40]}' is longer than {MAX_PROP_VALUE} characters")
        elif isinstance(item, float):
            if not math.isfinite(item):
                raise bad("bad_props", f"'props.{key[:40]}' is not a finite number")
        elif isinstance(item, int) and not -(2**63) <= item < 2**64:  # what JSON storage can hold
            raise bad("bad_props", f"'props.{key[:40]}' is too large a number")
        elif item is not None and not isinstance(item, bool | int):
            raise bad("bad_props", f"'props.{key[:40]}' must be a string, number, boolean or null")
    return value or None


def _check_url(value: str | None, key: str) -> str | None:
    if value is None:
        return None
    lowered = value[:8].lower()
    if not (lowered.startswith("http://") or lowered.startswith("https://")):
        raise bad(f"bad_{key}", f"'{key}' must be an absolute http(s) address")
    return value


def validate_event(event: Any, allowed_keys: frozenset[str] = BEACON_KEYS) -> Incoming:
    if not isinstance(event, dict):
        raise bad("bad_event", "each event must be a JSON object")
    unknown = event.keys() - allowed_keys
    if unknown:
        first = sorted(unknown)[0][:40]
        raise bad("unknown_field", f"unknown field '{first}'")
    site = _str(event, "site", 64, required=True)
    assert site is not None
    if not SITE_NAME.fullmatch(site):
        raise bad("bad_site", "'site' must be a registered site name (a-z, 0-9, . _ -)")
    kind = event.get("type", "pageview")
    if kind not in EVENT_TYPES:
        raise bad("bad_type", "'type' must be pageview, conversion, event or status")
    name = _str(event, "name", MAX_NAME)
    if kind != "pageview" and not name:
        raise bad("missing_name", f"a {kind} needs a 'name'")
    url = _check_url(_str(event, "url", MAX_URL), "url")
    referrer = _str(event, "referrer", MAX_URL)
    if referrer is not None and not referrer[:8].lower().startswith(("http://", "https://")):
        referrer = None  # android-app://, about:blank...: not a web referrer, nothing to attribute
    visitor_id = _str(event, "visitor_id", 64)
    if visitor_id is not None and not TOKEN_ID.fullmatch(visitor_id):  # fullmatch: "$" allows a final newline
        raise bad("bad_visitor_id", "'visitor_id' may hold only letters, digits and _ . : -")
    event_id = _str(event, "event_id", 64)
    if event_id is not None and not TOKEN_ID.fullmatch(event_id):
        raise bad("bad_event_id", "'event_id' may hold only letters, digits and _ . : -")
    ts = parse_ts(event["ts"]) if event.get("ts") not in (None, "") else None
    bot = event.get("bot", False)
    if not isinstance(bot, bool | int) or isinstance(bot, float):
        raise bad("bad_bot", "'bot' must be a boolean or a number")
    user_agent = _str(event, "user_agent", MAX_UA) if "user_agent" in allowed_keys else None
    if kind == "status":
        _check_status(name, event.get("props"))
    return Incoming(site=site, type=kind, name=name, url=url, referrer=referrer, visitor_id=visitor_id,
                    event_id=event_id, ts=ts, props=_props(event.get("props")), bot_hint=bool(bot),
                    user_agent=user_agent)


def _check_status(name: str | None, props: Any) -> None:
    if name not in STATUSES:
        raise bad("bad_status", f"a status's 'name' must be one of: {', '.join(STATUSES)}")
    of = props.get("of") if isinstance(props, dict) else None
    if not isinstance(of, str) or not TOKEN_ID.match(of):
        raise bad("missing_of", "a status needs 'props.of', the event_id of its conversion")


def check_time(ts: datetime, now: datetime, max_past_seconds: float, max_future_seconds: float) -> None:
    delta = (ts - now).total_seconds()
    if delta > max_future_seconds:
        raise bad("future_ts", "'ts' is in the future by the collector's clock")
    if -delta > max_past_seconds:
        raise bad("old_ts", "'ts' is too far in the past for a live event (use webleads import)")
