"""The local command channel: `webleads` commands run inside the collector while it holds the file.

DuckDB lets one process open a file. While `webleads serve` runs, it writes `<db>.serve.json`
(mode 0600: its address, a random secret, its pid) beside the database. A command that finds the
file locked sends its arguments to `POST /_webleads/cli` with that secret; the collector runs the
same click command in-process, on its own store, and answers the output and exit code.
"""

from __future__ import annotations

import json
import os
import secrets
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

CLI_PATH = "/_webleads/cli"


def serve_file(db: str) -> Path:
    return Path(str(Path(db).resolve()) + ".serve.json")


@dataclass(frozen=True)
class ServeInfo:
    url: str
    secret: str
    pid: int


def write_serve_file(db: str, url: str) -> ServeInfo:
    info = ServeInfo(url=url, secret=secrets.token_urlsafe(32), pid=os.getpid())
    path = serve_file(db)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump(info.__dict__, fh)
    return info


def read_serve_file(db: str) -> ServeInfo | None:
    try:
        data = json.loads(serve_file(db).read_text())
        return ServeInfo(url=str(data["url"]), secret=str(data["secret"]), pid=int(data["pid"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def remove_serve_file(db: str, info: ServeInfo | None) -> None:
    current = read_serve_file(db)
    if current is not None and info is not None and current.secret == info.secret:
        serve_file(db).unlink(missing_ok=True)


async def run_cli(request: Request) -> Response:
    info: ServeInfo | None = getattr(request.app.state, "serve_info", None)
    auth = request.headers.get("authorization", "")
    if info is None or not secrets.compare_digest(auth, f"Bearer {info.secret}"):
        return JSONResponse({"error": "unauthorized", "reason": "wrong or missing local secret"},
                            status_code=401)
    try:
        payload = orjson.loads(await request.body())
        argv = [str(a) for a in payload["argv"]]
        tty = bool(payload.get("tty", False))
    except (orjson.JSONDecodeError, KeyError, TypeError):
        return JSONResponse({"error": "bad_request", "reason": "expected {argv, tty}"}, status_code=400)
    from webleads.cli import run_in_collector

    code, out, err = await run_in_threadpool(run_in_collector, request.app.state.collector, argv, tty)
    return JSONResponse({"exit_code": code, "stdout": out, "stderr": err})


def call_collector(info: ServeInfo, argv: list[str], tty: bool, timeout: float = 3600) -> dict[str, Any]:
    request = urllib.request.Request(
        info.url + CLI_PATH, data=orjson.dumps({"argv": argv, "tty": tty}), method="POST",
        headers={"Authorization": f"Bearer {info.secret}", "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - local address
        return dict(orjson.loads(response.read()))


def routes() -> list[BaseRoute]:
    return [Route(CLI_PATH, run_cli, methods=["POST"])]

