"""The campaign link builder: one spelling per campaign.

normalise() is the site's naming rule: lower case, accents removed, anything but letters, digits, '.',
'_' and '-' becomes '-' (so "Newsletter Nov." becomes "newsletter-nov."). dashboard.js applies the same
rule as the team types; the server applies it again when the form is sent.

seen() groups the values the site has already received by their normalised form, so that "Newsletter",
"newsletter" and "newsletter " show as one value with three spellings; looks_like() warns when a new
value is one typo away from a value in use ("newslettre"), without flagging a different year or
number ("formation-2025" and "formation-2026" are two campaigns).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from webleads.analytics import sessions
from webleads.collector.store import Store

from .render import sql

PARAMS = ("utm_source", "utm_medium", "utm_campaign", "utm_content")
# The builder's form fields and the tags they become.
FIELDS = (("source", "utm_source"), ("medium", "utm_medium"), ("campaign", "utm_campaign"),
          ("content", "utm_content"))
_OUTSIDE = re.compile(r"[^a-z0-9._-]+")
_SEPARATORS = re.compile(r"[-_.]+")
# utm_medium values that GA4's default channel group recognises, in the order the form suggests them.
MEDIUMS = ("email", "social", "cpc", "display", "referral", "print", "qr", "affiliate", "sms", "video", "audio")


_LIGATURES = str.maketrans({"œ": "oe", "æ": "ae", "ß": "ss"})


def normalise(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text.strip().lower().translate(_LIGATURES))
    plain = "".join(c for c in decomposed if not unicodedata.combining(c))
    return _OUTSIDE.sub("-", plain).strip("-")[:100]


@dataclass
class Value:
    value: str  # the normalised form
    events: int = 0
    spellings: list[tuple[str, int]] = field(default_factory=list)  # (as received, events)


def seen(store: Store, site: str | None) -> dict[str, list[Value]]:
    """Per UTM parameter, the values received, grouped by normalised form, most used first."""
    sessions.prepare(store)  # installs wl_is_bot, the reports' rule for bots
    grouped: dict[str, dict[str, Value]] = {p: {} for p in PARAMS[:3]}
    for row in store.query(sql("links_seen"), {"site": site}):
        key = normalise(row["value"])
        if not key:
            continue
        entry = grouped[row["param"]].setdefault(key, Value(key))
        entry.events += int(row["events"])
        entry.spellings.append((row["value"], int(row["events"])))
    return {p: sorted(values.values(), key=lambda v: (-v.events, v.value)) for p, values in grouped.items()}


def _one_edit(a: str, b: str) -> bool:
    """True when b is a with one letter changed, added, removed or two neighbours swapped."""
    if a == b or abs(len(a) - len(b)) > 1:
        return False
    if len(a) == len(b):
        diff = [i for i, (x, y) in enumerate(zip(a, b, strict=True)) if x != y]
        if len(diff) == 1:
            return not (a[diff[0]].isdigit() and b[diff[0]].isdigit())  # 2025 vs 2026: two campaigns
        return len(diff) == 2 and diff[1] == diff[0] + 1 and a[diff[0]] == b[diff[1]] and a[diff[1]] == b[diff[0]]
    short, long = (a, b) if len(a) < len(b) else (b, a)
    for i in range(len(long)):
        if long[:i] + long[i + 1:] == short:
            return not long[i].isdigit()
    return False


def looks_like(value: str, known: list[Value]) -> str | None:
    """A value in use that `value` is probably a misspelling of, or None."""
    if not value or any(v.value == value for v in known):
        return None
    bare = _SEPARATORS.sub("", value)
    for v in known:
        if _SEPARATORS.sub("", v.value) == bare or (len(value) >= 5 and _one_edit(value, v.value)):
            return v.value
    return None


def build(page_url: str, values: dict[str, str]) -> str | None:
    """page_url with the UTM parameters set (others kept, fragment kept), or None if it is no web URL."""
    try:
        parts = urlsplit(page_url.strip())
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return None
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k not in PARAMS]
    query += [(k, values[k]) for k in PARAMS if values.get(k)]
    return urlunsplit((parts.scheme, parts.netloc, parts.path or "/", urlencode(query), parts.fragment))
