"""The public ingest endpoints as plain ASGI handlers: the beacon (and its CORS preflight), the
pixel and the snippet.

They are the hot path, so they read the ASGI scope directly instead of building Starlette request
and response objects (about half of a request's cost at thousands of requests a second). The same
handlers serve in the front process (collector/front.py) and in the single-process collector.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlsplit

import orjson

from .enrich import Context, client_ip
from .errors import error_body, reason_headers
from .validate import Rejected, bad

if TYPE_CHECKING:
    from .ingest import Collector

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
Handler = Callable[[Scope, Receive, Send], Awaitable[None]]

GIF = (b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\x00\x00\x00!\xf9\x04\x01\x00\x00\x00\x00"
       b",\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;")
assert len(GIF) == 43
NO_STORE = (b"cache-control", b"no-store, max-age=0")
PIXEL_KEYS = ("site", "url", "type", "name", "referrer")
_JSON = (b"content-type", b"application/json")
_GIF_TYPE = (b"content-type", b"image/gif")


def header_map(scope: Scope) -> dict[bytes, bytes]:
    """The request headers by (lower-case) name; for a repeated header the last one counts."""
    return dict(scope["headers"])


def origin_of(headers: dict[bytes, bytes]) -> str | None:
    """The page's origin: the Origin header, else the scheme and host of the Referer."""
    origin = headers.get(b"origin")
    if origin and origin != b"null":
        return origin.decode("latin-1").lower().rstrip("/")
    referer = headers.get(b"referer")
    if referer:
        try:
            parts = urlsplit(referer.decode("latin-1"))
            port = f":{parts.port}" if parts.port else ""
        except ValueError:
            return None
        if parts.scheme in ("http", "https") and parts.hostname:
            return f"{parts.scheme}://{parts.hostname.lower()}{port}"
    return None


def refused_by(headers: dict[bytes, bytes]) -> str | None:
    """"gpc" or "dnt" when the browser asks not to be tracked (Sec-GPC: 1, DNT: 1), else None. The
    snippet sends nothing then; this is for every other client (the pixel, a script of the site's)."""
    if headers.get(b"sec-gpc", b"").strip() == b"1":
        return "gpc"
    if headers.get(b"dnt", b"").strip() == b"1":
        return "dnt"
    return None


def cors(origin: str | None) -> list[tuple[bytes, bytes]]:
    if not origin:
        return []
    return [(b"access-control-allow-origin", origin.encode("latin-1")), (b"vary", b"Origin"),
            (b"access-control-expose-headers", b"X-Webleads-Reason")]


async def respond(send: Send, status: int, headers: list[tuple[bytes, bytes]], body: bytes = b"") -> None:
    if body:
        headers = [*headers, (b"content-length", str(len(body)).encode())]
    elif status not in (204, 304):
        headers = [*headers, (b"content-length", b"0")]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def refuse(send: Send, exc: Rejected, headers: list[tuple[bytes, bytes]] | None = None) -> None:
    """A refusal as JSON {error, reason}, with X-Webleads-Reason (and Retry-After on 503)."""
    await respond(send, exc.status, [_JSON, *reason_headers(exc), *(headers or [])], error_body(exc))


async def read_request_body(request: Any, limit: int) -> bytes:
    """A Starlette request's body, capped as the beacons' is (the API's events, imports and outcomes)."""
    return await read_body(request.receive, header_map(request.scope), limit)


async def read_body(receive: Receive, headers: dict[bytes, bytes], limit: int) -> bytes:
    length = headers.get(b"content-length")
    if length is not None:
        if not length.isdigit():
            raise Rejected(400, "bad_length", "Content-Length is not a number")
        if int(length) > limit:
            raise Rejected(413, "too_large", f"the body is larger than {limit} bytes")
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise Rejected(400, "disconnected", "the client went away before the body ended")
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise Rejected(413, "too_large", f"the body is larger than {limit} bytes")
        chunks.append(chunk)
        if not message.get("more_body", False):
            return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def parse_events(body: bytes, max_events: int) -> list[Any]:
    if not body.strip():
        raise bad("empty_body", "the body is empty; send a JSON event or an array of events")
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise bad("bad_json", "the body is not valid JSON") from None
    events = data if isinstance(data, list) else [data]
    if not events:
        raise bad("empty_batch", "the batch holds no event")
    if len(events) > max_events:
        raise Rejected(413, "batch_too_large", f"a batch holds at most {max_events} events")
    return events


class Endpoints:
    """The handlers of one collector, by (method, path)."""

    def __init__(self, collector: Collector) -> None:
        self.c = collector
        s = collector.settings
        self.trusted = s.trusted_networks()
        self.script_headers = [(b"cache-control", b"public, max-age=3600"),
                               (b"etag", collector.script_etag.encode()),
                               (b"access-control-allow-origin", b"*"),
                               (b"x-content-type-options", b"nosniff")]
        self.routes: dict[tuple[str, str], Handler] = {
            ("POST", s.beacon_path): self.beacon,
            ("OPTIONS", s.beacon_path): self.preflight,
            ("GET", s.pixel_path): self.pixel,
            ("HEAD", s.pixel_path): self.pixel,
            ("GET", s.script_path): self.script,
            ("HEAD", s.script_path): self.script,
        }

    def context(self, scope: Scope, headers: dict[bytes, bytes], origin: str) -> Context:
        client = scope.get("client")
        forwarded = headers.get(b"x-forwarded-for")
        ip = client_ip(client[0] if client else None, forwarded.decode("latin-1") if forwarded else None,
                       self.trusted)
        agent = headers.get(b"user-agent")
        return Context(ip=ip, user_agent=agent.decode("latin-1") if agent is not None else None, origin=origin,
                       refused=refused_by(headers))

    async def beacon(self, scope: Scope, receive: Receive, send: Send) -> None:
        c = self.c
        headers = header_map(scope)
        origin = origin_of(headers)
        allow = cors(origin if origin and c.origin_allowed_anywhere(origin) else None)
        try:
            ctype = headers.get(b"content-type", b"text/plain").split(b";")[0].strip().lower()
            if ctype not in (b"text/plain", b"application/json", b""):
                raise Rejected(415, "bad_content_type", "send the events as text/plain or application/json")
            if origin is None:
                raise Rejected(403, "missing_origin", "beacons must come from a browser page (no Origin or Referer)")
            body = await read_body(receive, headers, c.settings.max_body_bytes)
            events = parse_events(body, c.settings.max_batch_events)
            await c.ingest(events, self.context(scope, headers, "beacon"), origin)
        except Rejected as exc:
            c.reject(exc)
            await refuse(send, exc, allow)
            return
        await respond(send, 204, [*allow, NO_STORE])

    async def preflight(self, scope: Scope, receive: Receive, send: Send) -> None:
        origin = origin_of(header_map(scope))
        if not origin or not self.c.origin_allowed_anywhere(origin):
            await refuse(send, Rejected(403, "origin_not_allowed", "this origin is not a registered site's"))
            return
        await respond(send, 204, [*cors(origin), (b"access-control-allow-methods", b"POST"),
                                  (b"access-control-allow-headers", b"Content-Type"),
                                  (b"access-control-max-age", b"86400")])

    async def pixel(self, scope: Scope, receive: Receive, send: Send) -> None:
        c = self.c
        headers = header_map(scope)
        gif = [_GIF_TYPE, NO_STORE]
        try:
            query = dict(parse_qsl(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True))
            event: dict[str, Any] = {k: query[k] for k in PIXEL_KEYS if query.get(k)}
            if "url" not in event:
                referer = headers.get(b"referer", b"").decode("latin-1")
                if referer.startswith(("http://", "https://")):
                    event["url"] = referer[:2048]
            extra = {k: v for k, v in query.items() if k not in PIXEL_KEYS}
            await c.ingest([event], self.context(scope, headers, "pixel"), None, extra_params=extra)
        except Rejected as exc:
            c.reject(exc)
            await respond(send, exc.status, [*gif, *reason_headers(exc)], GIF)
            return
        await respond(send, 200, gif, GIF)

    async def script(self, scope: Scope, receive: Receive, send: Send) -> None:
        c = self.c
        if header_map(scope).get(b"if-none-match", b"").decode("latin-1") == c.script_etag:
            await respond(send, 304, self.script_headers)
            return
        await respond(send, 200, [(b"content-type", b"text/javascript; charset=utf-8"), *self.script_headers],
                      c.script)


class Dispatch:
    """An ASGI endpoint for Starlette's router: runs the collector's handler for this request."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        endpoints: Endpoints = scope["app"].state.collector.endpoints
        await endpoints.routes[(scope["method"], scope["path"])](scope, receive, send)
