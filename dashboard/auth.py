"""Dashboard sessions: an API token is exchanged once for a random session id in a cookie.

- The cookie `wl_session` holds only a random id (32 bytes, URL-safe): HttpOnly, SameSite=Strict,
  Path=/dashboard, Secure when the dashboard is reached over https (the request's scheme or the
  configured public_url). The server keeps, in memory and in the database (session_store.py), the
  SHA-256 of that id mapped to the SHA-256 of the token (the form the database stores), so neither the id
  nor the token is kept in clear; a restart of the collector signs nobody out.
- A session ends after IDLE_SECONDS without a request, at MAX_SECONDS in any case (a browser the user
  asked to remember: after REMEMBER_SECONDS, its cookie kept as long), at sign-out, and as soon as its
  token is no longer in the database (checked again every RECHECK_SECONDS).
- The token travels only in the body of the sign-in POST: never in a URL (so never in an access log or
  a Referer header), never in the cookie, never logged.
- CSRF: every POST (sign-in, sign-out) must carry an Origin (or, failing that, a Referer) naming this
  collector. With the SameSite=Strict cookie, which browsers never attach to a request started by
  another site, that is enough: no form token is needed. GET requests change nothing.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import secrets
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from webleads.collector.errors import error_response
from webleads.collector.registry import check_token, hash_token
from webleads.collector.validate import Rejected

from . import session_store
from .render import page, secure

log = logging.getLogger("webleads.dashboard")

COOKIE = "wl_session"
COOKIE_PATH = "/dashboard"
IDLE_SECONDS = 12 * 3600
MAX_SECONDS = 7 * 86400
REMEMBER_SECONDS = 30 * 86400  # "remember this browser": a monthly user signs in once a month
RECHECK_SECONDS = 60.0
MAX_SESSIONS = 10_000


@dataclass
class Session:
    token_hash: str
    created: float
    seen: float
    checked: float
    remember: bool = False
    written: float = 0.0  # when `seen` was last written to the database

    @property
    def limits(self) -> tuple[float, float]:
        """(longest idle time, longest life) in seconds."""
        return (REMEMBER_SECONDS, REMEMBER_SECONDS) if self.remember else (IDLE_SECONDS, MAX_SECONDS)

    def expired(self, now: float) -> bool:
        idle, life = self.limits
        return now - self.seen > idle or now - self.created > life


def _key(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


class Sessions:
    """The signed-in browsers: in memory, and in the database when a store is given (a restart of the
    collector then signs nobody out). Every database call blocks: run them off the event loop."""

    def __init__(self, clock: Callable[[], float] = time.time, store: Any = None) -> None:
        self._lock = threading.Lock()
        self._by_key: dict[str, Session] = {}
        self.clock = clock
        self.store = store

    def open(self, token: str, remember: bool = False) -> str:
        """A new session for a token already checked; returns the id to put in the cookie."""
        session_id = secrets.token_urlsafe(32)
        now = self.clock()
        session = Session(hash_token(token), now, now, now, remember, now)
        with self._lock:
            self._expire(now)
            if len(self._by_key) >= MAX_SESSIONS:  # drop the oldest rather than grow without end
                oldest = min(self._by_key, key=lambda k: self._by_key[k].seen)
                del self._by_key[oldest]
            self._by_key[_key(session_id)] = session
        if self.store is not None:
            session_store.delete_expired(self.store, now, IDLE_SECONDS, MAX_SECONDS, REMEMBER_SECONDS)
            session_store.save(self.store, _key(session_id), session.token_hash, now, remember)
        return session_id

    def get(self, session_id: str | None) -> Session | None:
        if not session_id or len(session_id) > 100:
            return None
        key, now = _key(session_id), self.clock()
        with self._lock:
            session = self._by_key.get(key)
        if session is None and self.store is not None:  # signed in before a restart
            found = session_store.load(self.store, key)
            if found is not None:
                token_hash, created, seen, remember = found
                session = Session(token_hash, created, seen, 0.0, remember, seen)  # its token checked at once
                with self._lock:
                    self._by_key.setdefault(key, session)
        if session is None:
            return None
        if session.expired(now):
            self.close(session_id)
            return None
        session.seen = now
        if self.store is not None and now - session.written > session_store.SEEN_EVERY:
            session.written = now
            session_store.note_seen(self.store, key, now)
        return session

    def close(self, session_id: str | None) -> None:
        if session_id:
            with self._lock:
                self._by_key.pop(_key(session_id), None)
            if self.store is not None:
                session_store.delete(self.store, session_hash=_key(session_id))

    def drop_token(self, token_hash: str) -> None:
        with self._lock:
            for key in [k for k, s in self._by_key.items() if s.token_hash == token_hash]:
                del self._by_key[key]
        if self.store is not None:
            session_store.delete(self.store, token_hash=token_hash)

    def _expire(self, now: float) -> None:
        for key in [k for k, s in self._by_key.items() if s.expired(now)]:
            del self._by_key[key]

    def __len__(self) -> int:
        return len(self._by_key)


def token_still_valid(store: object, token_hash: str) -> bool:
    rows = store.query("SELECT 1 AS ok FROM api_tokens WHERE token_hash = $h", {"h": token_hash})  # type: ignore[attr-defined]
    return bool(rows)


def is_https(request: Request) -> bool:
    settings = request.app.state.settings
    return request.url.scheme == "https" or settings.base_url.startswith("https://")


def set_session_cookie(response: Response, request: Request, session_id: str, remember: bool = False) -> None:
    """A remembered browser keeps the cookie 30 days; otherwise it ends with the browser's session."""
    response.set_cookie(COOKIE, session_id, max_age=REMEMBER_SECONDS if remember else None, path=COOKIE_PATH,
                        httponly=True, samesite="strict", secure=is_https(request))


def clear_session_cookie(response: Response, request: Request) -> None:
    response.delete_cookie(COOKIE, path=COOKIE_PATH, httponly=True, samesite="strict", secure=is_https(request))


def same_origin(request: Request) -> bool:
    """True when a POST comes from a page of this collector (Origin, else Referer)."""
    claimed = request.headers.get("origin")
    if not claimed or claimed == "null":
        referer = request.headers.get("referer")
        if not referer:
            return False
        claimed = referer
    try:
        parts = urlsplit(claimed)
        port = parts.port
    except ValueError:
        return False
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return False
    netloc = parts.hostname.lower() + (f":{port}" if port else "")
    # The Host the browser sent (behind a proxy that passes it on, the public name) ...
    host = (request.headers.get("host") or "").lower()
    if host and netloc == host:
        return True
    # ... or the configured public address.
    public = urlsplit(request.app.state.settings.base_url)
    public_netloc = (public.hostname or "").lower() + (f":{public.port}" if public.port else "")
    return parts.scheme == public.scheme and netloc == public_netloc


# --- the guard and the sign-in / sign-out handlers ---------------------------------------------------
def sessions_of(app: object) -> Sessions:
    state = app.state  # type: ignore[attr-defined]
    found = getattr(state, "dashboard_sessions", None)
    if found is None:
        found = state.dashboard_sessions = Sessions(store=getattr(state, "store", None))
    return found  # type: ignore[no-any-return]


async def current(request: Request) -> Session | None:
    """The request's session, if its cookie names a live one whose token still exists."""
    sessions = sessions_of(request.app)
    cookie = request.cookies.get(COOKIE)
    if not cookie:
        return None
    session = await run_in_threadpool(sessions.get, cookie)
    if session is None:
        return None
    now = sessions.clock()
    if now - session.checked > RECHECK_SECONDS:
        store = request.app.state.store
        if not await run_in_threadpool(token_still_valid, store, session.token_hash):
            sessions.drop_token(session.token_hash)
            return None
        session.checked = now
    return session


async def read_form(request: Request, limit: int = 4096) -> dict[str, str]:
    """The fields of a small urlencoded form (the sign-in form is the only one with fields)."""
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            return {}
    pairs = parse_qsl(body.decode("utf-8", errors="replace"), keep_blank_values=True)
    return {k: v for k, v in pairs}


def safe_next(target: str | None) -> str:
    """Where to go after signing in: a dashboard address of this collector, nothing else."""
    if target and target.startswith("/dashboard") and "//" not in target and "\\" not in target \
            and not any(ord(c) < 32 for c in target):
        return target
    return "/dashboard"


async def signin(request: Request) -> Response:
    if not same_origin(request):
        return page(request, "error.html", status=403, message="err.origin")
    form = await read_form(request)
    token = form.get("token", "").strip()
    target = safe_next(form.get("next"))
    store = request.app.state.store
    if not await run_in_threadpool(check_token, store, token):
        log.warning("dashboard: sign-in refused (unknown token)")  # no address: the collector logs no IP
        return page(request, "signin.html", status=401, message="signin.refused", next=target, error=True)
    remember = form.get("remember") == "1"
    session_id = await run_in_threadpool(sessions_of(request.app).open, token, remember)
    response = secure(RedirectResponse(target, status_code=303))
    set_session_cookie(response, request, session_id, remember)
    return response


async def signout(request: Request) -> Response:
    if not same_origin(request):
        return page(request, "error.html", status=403, message="err.origin")
    await run_in_threadpool(sessions_of(request.app).close, request.cookies.get(COOKIE))
    response = secure(RedirectResponse("/dashboard?signed_out=1", status_code=303))
    clear_session_cookie(response, request)
    return response


Handler = Callable[[Request], Awaitable[Response]]


def signed_in(handler: Handler, download: bool = False) -> Handler:
    """Wrap a page (or a download) so that it answers only to a signed-in browser: otherwise the sign-in
    form (401), or for a download the shared JSON error."""

    @functools.wraps(handler)
    async def guarded(request: Request) -> Response:
        if await current(request) is None:
            if download:
                return secure(error_response(Rejected(401, "not_signed_in",
                                                      "sign in at /dashboard first (or use /api/v1 with a token)")))
            target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            return page(request, "signin.html", status=401, message="signin.expired" if request.cookies.get(COOKIE)
                        else None, next=safe_next(target), error=False)
        return await handler(request)

    return guarded
