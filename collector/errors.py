"""The one shape of a refusal, for every endpoint: a status, an `X-Webleads-Reason` header naming the
machine code (and `Retry-After` when the collector is busy), and, where the answer has a body,
`{"error": code, "reason": sentence}` as JSON. The pixel keeps its GIF body and carries the headers."""

from __future__ import annotations

import orjson
from starlette.responses import Response

from .validate import Rejected

RETRY_AFTER_SECONDS = 2


def reason_headers(exc: Rejected) -> list[tuple[bytes, bytes]]:
    headers = [(b"x-webleads-reason", exc.code.encode())]
    if exc.status == 503:
        headers.append((b"retry-after", str(RETRY_AFTER_SECONDS).encode()))
    return headers


def error_body(exc: Rejected, **details: object) -> bytes:
    return orjson.dumps({"error": exc.code, "reason": exc.reason, **details})


def error_response(exc: Rejected, headers: dict[str, str] | None = None, **details: object) -> Response:
    """The refusal as a Starlette response (API, dashboard, command channel); `details` join the body
    (an import's counts, for instance)."""
    response = Response(error_body(exc, **details), status_code=exc.status, media_type="application/json",
                        headers=headers)
    for name, value in reason_headers(exc):
        response.headers[name.decode()] = value.decode()
    return response
