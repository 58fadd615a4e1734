"""Short links for what leaves no UTM by itself: a poster, a flyer, a radio spot. `<collector>/r/CODE`
redirects (302) to the link's address with its UTM parameters added, so that the visit lands tagged,
and counts the scan.

A scan keeps no IP address: its visitor is the day's salted hash of site, address and user-agent, the
same as the landing pageview's when the visitor gave no consent, so scans and visits can be counted
alike. Bots are counted as bots. Do-Not-Track and Global Privacy Control are honoured: redirected, not
counted. Scans are kept in memory and written every few seconds in one transaction (a poster's scans
are few, but a flood of requests must never become a flood of writes); at most MAX_PENDING wait.
"""

from __future__ import annotations

import io
import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from html import escape
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import segno
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from .enrich import client_ip, parse_agent, visitor_hash
from .rows import utcnow

CODE = re.compile(r"^[A-Za-z0-9_-]{1,32}$")
UTM_VALUE_MAX = 100
MAX_PENDING = 100_000
LINK_COLUMNS = ("code", "site", "target", "utm_source", "utm_medium", "utm_campaign", "utm_content", "created_at")


# A QR code to print: error correction Q (a quarter of the code can be torn or dirty and it still
# reads), and a PNG of at least this many pixels a side, sharp when printed 10 cm wide at 300 dpi.
QR_ERROR = "q"
QR_MIN_PIXELS = 1200
QR_BORDER = 4  # modules of white margin, as the standard asks
QR_KINDS = ("png", "svg")


class LinkError(ValueError):
    """A user mistake in a link command; the message says what to do, `kind` which rule it broke (bad_code,
    bad_target, foreign_target, missing_tag, bad_tag, taken_code) so a page can say it in its language."""

    def __init__(self, message: str, kind: str = "") -> None:
        super().__init__(message)
        self.kind = kind


@dataclass(frozen=True)
class ShortLink:
    code: str
    site: str
    target: str
    utm_source: str
    utm_medium: str
    utm_campaign: str
    utm_content: str | None
    created_at: datetime

    @property
    def utm(self) -> dict[str, str]:
        tags = {"utm_source": self.utm_source, "utm_medium": self.utm_medium, "utm_campaign": self.utm_campaign}
        if self.utm_content:
            tags["utm_content"] = self.utm_content
        return tags

    def destination(self) -> str:
        """The target with the link's UTM parameters (they replace the target's own; other parameters
        and the #fragment stay)."""
        parts = urlsplit(self.target)
        kept = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k.lower() not in self.utm]
        return urlunsplit((parts.scheme, parts.netloc, parts.path or "/", urlencode(kept + list(self.utm.items())),
                           parts.fragment))


def check_link(code: str, target: str, origins: Sequence[str], utm: dict[str, str | None],
               any_target: bool = False) -> None:
    """Raise LinkError unless the code, target and tags make a good link."""
    if not CODE.match(code):
        raise LinkError(f"code {code[:40]!r}: use 1 to 32 letters, digits, '-' or '_' (for example affiche-mairie)",
                        "bad_code")
    try:
        parts = urlsplit(target)
        host = parts.hostname
    except ValueError:
        host = None
    if parts.scheme not in ("http", "https") or not host:
        raise LinkError(f"--to {target[:80]!r} must be an http(s) address, for example https://www.example.org/page",
                        "bad_target")
    origin = f"{parts.scheme}://{host.lower()}" + (f":{parts.port}" if parts.port else "")
    if origin not in origins and not any_target:
        raise LinkError(f"--to {target[:80]!r} is not on the site's origins ({', '.join(origins)}); "
                        "add --any-target to send people elsewhere on purpose", "foreign_target")
    for key in ("utm_source", "utm_medium", "utm_campaign"):
        if not (utm.get(key) or "").strip():
            raise LinkError(f"--{key.replace('_', '-')} is required (for a poster: --utm-source mairie "
                            "--utm-medium affiche --utm-campaign portes-ouvertes)", "missing_tag")
    for key, value in utm.items():
        if value is not None and (len(value) > UTM_VALUE_MAX or any(ord(c) < 32 for c in value)):
            raise LinkError(f"--{key.replace('_', '-')}: at most {UTM_VALUE_MAX} printable characters", "bad_tag")


def add_link(store: Any, link: ShortLink) -> None:
    def insert(conn: Any) -> None:
        if conn.execute("SELECT 1 FROM short_links WHERE code = $c", {"c": link.code}).fetchone():
            raise LinkError(f"the code {link.code!r} is taken already; pick another (webleads link list)", "taken_code")
        conn.execute("INSERT INTO short_links VALUES ($code, $site, $target, $utm_source, $utm_medium, "
                     "$utm_campaign, $utm_content, $created_at)", link.__dict__)

    store.run_write(insert)


def qr_code(url: str, kind: str) -> bytes:
    """The QR code of `url`, ready to print: a PNG of at least QR_MIN_PIXELS a side, or an SVG (vector, for a
    printer). `webleads link qr` and the dashboard's downloads both make it here."""
    if kind not in QR_KINDS:
        raise LinkError(f"a QR code is a {' or '.join(QR_KINDS)} file, not {kind[:10]!r}", "bad_kind")
    qr = segno.make(url, error=QR_ERROR, micro=False)
    out = io.BytesIO()
    if kind == "png":
        side = qr.symbol_size(border=QR_BORDER)[0]
        qr.save(out, kind="png", scale=-(-QR_MIN_PIXELS // side), border=QR_BORDER)
    else:
        qr.save(out, kind="svg", scale=10, border=QR_BORDER, title=url)
    return out.getvalue()


def find_link(store: Any, code: str) -> ShortLink | None:
    if not CODE.match(code):
        return None
    rows = store.query(f"SELECT {', '.join(LINK_COLUMNS)} FROM short_links WHERE code = $c", {"c": code})
    return ShortLink(**rows[0]) if rows else None


class Scans:
    """Scans waiting to be written (flush() in a housekeeping task and at shutdown)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pending: list[tuple[str, datetime, str, bool]] = []
        self.counted = 0
        self.dropped = 0

    def note(self, code: str, when: datetime, visitor: str, is_bot: bool) -> None:
        with self._lock:
            if len(self._pending) >= MAX_PENDING:
                self.dropped += 1
                return
            self._pending.append((code, when, visitor, is_bot))
            self.counted += 1

    def flush(self, store: Any) -> int:
        with self._lock:
            pending, self._pending = self._pending, []
        if pending:
            store.run_write(lambda conn: conn.executemany("INSERT INTO link_scans VALUES (?, ?, ?, ?)", pending))
        return len(pending)


def count_scan(scans: Scans, link: ShortLink, registry: Any, headers: dict[str, str], peer: str | None,
               trusted: tuple[Any, ...]) -> None:
    """Note one scan of `link`, unless the browser asks not to be tracked."""
    if headers.get("dnt") == "1" or headers.get("sec-gpc") == "1":
        return
    now = utcnow()
    agent = (headers.get("user-agent") or "")[:512]
    ip = client_ip(peer, headers.get("x-forwarded-for"), trusted)
    visitor = visitor_hash(registry.salt_for(now), link.site, ip, agent)
    scans.note(link.code, now, visitor, parse_agent(agent).is_bot)


def not_found_page(code: str) -> str:
    return (f"<!doctype html><html lang=\"fr\"><head><meta charset=\"utf-8\"><title>Lien inconnu</title></head>"
            f"<body><h1>Lien inconnu</h1><p>Le lien court « {escape(code[:40])} » n'existe pas (ou plus).</p>"
            f"<p lang=\"en\">This short link does not exist.</p></body></html>")


async def redirect(request: Request) -> Response:
    """GET /r/CODE: the link's address with its tags (302), the scan counted; an unknown code is a 404 page."""
    c = request.app.state.collector
    code = request.path_params["code"]
    link = await run_in_threadpool(find_link, c.store, code)
    headers = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}
    if link is None:
        return HTMLResponse(not_found_page(code), status_code=404, headers=headers)
    peer = request.client.host if request.client else None
    await run_in_threadpool(count_scan, c.scans, link, c.registry, dict(request.headers), peer,
                            c.endpoints.trusted)
    return RedirectResponse(link.destination(), status_code=302, headers=headers)


def routes() -> list[BaseRoute]:
    return [Route("/r/{code}", redirect, methods=["GET", "HEAD"])]
