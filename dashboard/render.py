"""HTML answers: Jinja2 templates with autoescaping, the security headers, static files, SQL files.

Every value that reaches a template is escaped unless it is a Markup made here (the SVG charts, whose
texts charts.py escapes itself). No template has an inline script or style: the Content-Security-Policy
below allows only this package's own files.
"""

from __future__ import annotations

import hashlib
from functools import cache
from importlib import resources
from typing import Any
from urllib.parse import urlencode

import jinja2
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from . import i18n

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "frame-ancestors 'none'; form-action 'self'; base-uri 'none'; object-src 'none'")
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Frame-Options": "DENY",  # for browsers that predate frame-ancestors
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cache-Control": "no-store",  # reports are private: not kept by the browser or a proxy
}
LANG_COOKIE = "wl_lang"
STATIC_TYPES = {".css": "text/css; charset=utf-8", ".js": "text/javascript; charset=utf-8",
                ".svg": "image/svg+xml"}


@cache
def environment(lang: str) -> jinja2.Environment:
    """The templates of one language: Jinja2's i18n extension with that language's catalog, newstyle
    (values are escaped before they enter a message, and `%(name)s` reads as in Python)."""
    env = jinja2.Environment(loader=jinja2.PackageLoader("webleads.dashboard", "templates"),
                             autoescape=True, undefined=jinja2.StrictUndefined,
                             trim_blocks=True, lstrip_blocks=True, extensions=["jinja2.ext.i18n"])
    env.install_gettext_translations(i18n.translations(lang), newstyle=True)  # type: ignore[attr-defined]
    env.globals["static"] = static_url
    return env


@cache
def sql(name: str) -> str:
    """The text of dashboard/sql/<name>.sql."""
    return resources.files("webleads.dashboard").joinpath("sql", f"{name}.sql").read_text(encoding="utf-8")


@cache
def static_file(name: str) -> tuple[bytes, str, str] | None:
    """(body, content type, etag) of dashboard/static/<name>, or None."""
    suffix = "." + name.rsplit(".", 1)[-1] if "." in name else ""
    if "/" in name or name.startswith(".") or suffix not in STATIC_TYPES:
        return None
    path = resources.files("webleads.dashboard").joinpath("static", name)
    if not path.is_file():
        return None
    body = path.read_bytes()
    return body, STATIC_TYPES[suffix], '"' + hashlib.sha256(body).hexdigest()[:16] + '"'


def static_url(name: str) -> str:
    found = static_file(name)
    version = found[2].strip('"')[:10] if found else "0"
    return f"/dashboard/static/{name}?v={version}"


async def static(request: Request) -> Response:
    found = static_file(request.path_params["name"])
    if found is None:
        return Response("not found", status_code=404, media_type="text/plain")
    body, ctype, etag = found
    # The URL carries the file's hash (?v=), so a browser may keep it; a new version has a new URL.
    headers = {"ETag": etag, "Cache-Control": "public, max-age=86400", "X-Content-Type-Options": "nosniff"}
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers=headers)
    return Response(body, media_type=ctype, headers=headers)


def language(request: Request) -> str:
    return i18n.pick(request.query_params.get("lang"), request.cookies.get(LANG_COOKIE))


def page(request: Request, template: str, status: int = 200, **context: Any) -> HTMLResponse:
    """Render a template with the request's language and the security headers."""
    lang = language(request)
    t = i18n.Text(lang)
    other = "en" if lang == "fr" else "fr"
    query = [(k, v) for k, v in request.query_params.multi_items() if k != "lang"] + [("lang", other)]
    html = environment(lang).get_template(template).render(
        t=t, lang=lang, path=request.url.path, switch_lang=f"{request.url.path}?{urlencode(query)}", **context)
    response = HTMLResponse(html, status_code=status, headers=SECURITY_HEADERS)
    if request.query_params.get("lang") in i18n.LANGS:
        response.set_cookie(LANG_COOKIE, lang, max_age=365 * 86400, path="/dashboard", samesite="lax")
    return response


def secure(response: Response) -> Response:
    """Add the security headers to a non-HTML answer (CSV downloads, redirects)."""
    for key, value in SECURITY_HEADERS.items():
        response.headers.setdefault(key, value)
    return response
