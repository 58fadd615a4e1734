"""The opt-out page's test visits: tokens it hands out, and whether a visit carrying one arrived.

The staff opt-out flag lives in the site's own storage, which the collector can neither write nor read.
What the collector can see is the flag's effect: a browser that is excluded sends nothing. So the opt-out
page (collector/optout.py) opens the site at `/?webleads_check=TOKEN` in that browser; if a visit carrying
the token arrives, the browser is still counted. Such a visit is a test, never stored: ingest drops it
(counted as `opt_out_check` among the dropped events) and notes its token here.

Kept in the database process's memory, which answers the opt-out page; front processes send the tokens
they see over the link. Bounded and short-lived: a token is worth a few minutes of one person's attention.
No Starlette or DuckDB here: the front processes import it.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

CHECK_PARAM = "webleads_check"
CHECKED = "opt_out_check"  # the reason counted among the dropped events
LIMIT = 1000  # tokens kept at most: the oldest go first
LIFETIME = 30 * 60  # seconds a token can be used


def check_token(url: str | None) -> str | None:
    """The token of a test visit's address, or None (most events: a substring test, nothing parsed)."""
    if not url or CHECK_PARAM not in url:
        return None
    values = parse_qs(urlsplit(url).query).get(CHECK_PARAM)
    return values[0][:64] if values else None


@dataclass
class Check:
    site: str
    issued: float
    opened: float | None = None  # when the test visit's link was followed (through the collector)
    seen: float | None = None  # when a visit carrying the token arrived


class Checks:
    def __init__(self, clock: object = time.monotonic) -> None:
        self._book: OrderedDict[str, Check] = OrderedDict()
        self._lock = threading.Lock()  # the link's threads note tokens too
        self._clock = clock

    def now(self) -> float:
        return self._clock()  # type: ignore[operator, no-any-return]

    def issue(self, site: str) -> str:
        token = secrets.token_urlsafe(16)
        with self._lock:
            self._book[token] = Check(site, self.now())
            while len(self._book) > LIMIT:
                self._book.popitem(last=False)
        return token

    def get(self, token: str) -> Check | None:
        with self._lock:
            check = self._book.get(token)
            if check is not None and self.now() - check.issued > LIFETIME:
                del self._book[token]
                return None
            return check

    def opened(self, token: str) -> Check | None:
        check = self.get(token)
        if check is not None:
            check.opened = self.now()
        return check

    def saw(self, site: str, token: str) -> None:
        """A visit of `site` carried `token`: noted if this page handed it out for that site."""
        check = self.get(token)
        if check is not None and check.site == site and check.seen is None:
            check.seen = self.now()
