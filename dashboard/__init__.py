"""The dashboard: the reports as web pages at /dashboard (placeholder until the dashboard lands)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import BaseRoute, Route


async def placeholder(request: Request) -> Response:
    return HTMLResponse("<!doctype html><meta charset=utf-8><title>webleads</title>"
                        "<p>Le tableau de bord arrive bientôt. En attendant : <code>webleads report attribution</code>."
                        "</p>")


def routes() -> list[BaseRoute]:
    return [Route("/dashboard", placeholder, methods=["GET"])]
