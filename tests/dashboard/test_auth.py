"""Sign-in, the session cookie, sign-out, CSRF, and what is reachable without a session."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from .conftest import Dash, Tab
from conftest import webleads

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "frame-ancestors 'none'; form-action 'self'; base-uri 'none'; object-src 'none'")
PAGES = ["/dashboard/attribution", "/dashboard/funnel?step=pageview:/*", "/dashboard/leads", "/dashboard/links",
         "/dashboard/report"]
DOWNLOADS = ["/dashboard/overview.csv", "/dashboard/attribution.csv", "/dashboard/compare.csv",
             "/dashboard/funnel.csv?step=pageview:/*", "/dashboard/leads.csv", "/dashboard/leads.xlsx",
             "/dashboard/attribution.xlsx", "/dashboard/report.xlsx"]


def sign_in(dash: Dash, token: str, origin: str | None = "self", **extra: str) -> httpx.Response:
    headers = {} if origin is None else {"Origin": dash.url if origin == "self" else origin}
    return httpx.post(dash.url + "/dashboard/signin", data={"token": token, **extra}, headers=headers, timeout=30)


def session_cookie(response: httpx.Response) -> str:
    found = [v for k, v in response.headers.multi_items() if k == "set-cookie" and v.startswith("wl_session=")]
    assert len(found) == 1, response.headers
    return found[0]


def test_dashboard_without_a_session_shows_the_sign_in_form(dash: Dash) -> None:
    response = httpx.get(dash.url + "/dashboard", timeout=30)
    assert response.status_code == 200
    assert 'action="/dashboard/signin"' in response.text and 'name="token"' in response.text
    assert "Conversions" not in response.text and "ecloserie.fr" not in response.text
    assert 'value="demo"' not in response.text
    assert "set-cookie" not in response.headers


@pytest.mark.parametrize("path", PAGES)
def test_pages_without_a_session_show_only_the_sign_in_form(dash: Dash, path: str) -> None:
    response = httpx.get(dash.url + path, timeout=30)
    assert response.status_code == 401
    assert 'action="/dashboard/signin"' in response.text
    assert "ecloserie.fr" not in response.text and "candidater" not in response.text


@pytest.mark.parametrize("path", DOWNLOADS)
def test_downloads_without_a_session_are_refused(dash: Dash, path: str) -> None:
    response = httpx.get(dash.url + path, timeout=30)
    assert response.status_code == 401
    assert response.json()["error"] == "not_signed_in"
    # a token is for the API, not for dashboard downloads
    response = httpx.get(dash.url + path, headers={"Authorization": f"Bearer {dash.token}"}, timeout=30)
    assert response.status_code == 401


def test_a_wrong_token_is_refused_and_sets_no_cookie(dash: Dash) -> None:
    response = sign_in(dash, dash.token + "x")
    assert response.status_code == 401
    assert "set-cookie" not in response.headers
    assert dash.token not in response.text  # the token typed is not echoed back


def test_the_cookie_is_httponly_samesite_strict_and_holds_no_token(dash: Dash) -> None:
    response = sign_in(dash, dash.token, next="/dashboard/leads?from=2025-01-01")
    assert response.status_code == 303
    assert response.headers["location"] == "/dashboard/leads?from=2025-01-01"
    cookie = session_cookie(response)
    attributes = [a.strip().lower() for a in cookie.split(";")]
    assert "httponly" in attributes and "samesite=strict" in attributes and "path=/dashboard" in attributes
    value = cookie.split(";")[0].split("=", 1)[1]
    assert dash.token not in value and len(value) >= 40
    assert "secure" not in attributes  # plain http here; https answers add Secure (see test below)
    page = httpx.get(dash.url + "/dashboard/leads", cookies={"wl_session": value}, timeout=30)
    assert page.status_code == 200 and 'id="leads"' in page.text


def test_the_cookie_is_secure_when_the_dashboard_is_public_over_https(make_server: Any, tmp_path: Path) -> None:
    db = tmp_path / "https.duckdb"
    token = webleads("token", "create", db=db).stdout.strip().splitlines()[-1]
    srv = make_server(db, "--public-url", "https://stats.example.org")
    response = httpx.post(srv.url + "/dashboard/signin", data={"token": token},
                          headers={"Origin": "https://stats.example.org"}, timeout=30)
    assert response.status_code == 303
    assert "secure" in [a.strip().lower() for a in session_cookie(response).split(";")]


@pytest.mark.parametrize("origin", ["https://evil.example", "null", None, "http://127.0.0.1:1"])
def test_sign_in_from_another_origin_is_refused(dash: Dash, origin: str | None) -> None:
    response = sign_in(dash, dash.token, origin=origin)
    assert response.status_code == 403
    assert "set-cookie" not in response.headers


def test_sign_out_from_another_origin_is_refused(dash: Dash) -> None:
    value = session_cookie(sign_in(dash, dash.token)).split(";")[0].split("=", 1)[1]
    response = httpx.post(dash.url + "/dashboard/signout", cookies={"wl_session": value},
                          headers={"Origin": "https://evil.example"}, timeout=30)
    assert response.status_code == 403
    assert httpx.get(dash.url + "/dashboard/leads", cookies={"wl_session": value}, timeout=30).status_code == 200


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/dashboard", "/dashboard//evil.example",
                                    "/api/v1/reports/leads", "/dashboard\\@evil.example"])
def test_after_sign_in_the_browser_stays_on_the_dashboard(dash: Dash, target: str) -> None:
    response = sign_in(dash, dash.token, next=target)
    assert response.status_code == 303
    assert response.headers["location"] == "/dashboard"


def test_every_page_sends_the_security_headers(dash: Dash) -> None:
    value = session_cookie(sign_in(dash, dash.token)).split(";")[0].split("=", 1)[1]
    for path in ["/dashboard", *PAGES]:
        response = httpx.get(dash.url + path, cookies={"wl_session": value}, timeout=30)
        assert response.status_code == 200, path
        assert response.headers["content-security-policy"] == CSP
        assert response.headers["x-frame-options"] == "DENY"
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["cache-control"] == "no-store"
        assert "<script>" not in response.text and " style=" not in response.text  # nothing inline
    signed_out = httpx.get(dash.url + "/dashboard", timeout=30)
    assert signed_out.headers["content-security-policy"] == CSP


@pytest.mark.browser
def test_sign_in_refused_then_accepted_then_signed_out(dash: Dash, new_tab: Callable[..., Tab],
                                                       shot: Callable[[Any, str], Any]) -> None:
    tab = new_tab()
    page = tab.page
    tab.open("/dashboard")
    shot(page, "signin")
    page.fill("#token", "wl_not-a-token")
    with page.expect_navigation():
        page.click("form[action='/dashboard/signin'] button[type=submit]")
    assert page.locator("#signin-message").inner_text().startswith("Ce jeton n’est pas reconnu")
    # the coordinator cannot run commands on the server: the page sends her to the person who can
    assert "la personne qui gère le serveur" in page.locator("#signin-message").inner_text()
    assert "créez-en un" not in page.content()
    assert page.locator("#token").get_attribute("aria-invalid") == "true"
    assert tab.context.cookies() == []
    shot(page, "signin-refused")
    # the refusal is a 401: Chromium logs it as a failed resource, which is expected here
    tab.errors[:] = [e for e in tab.errors if "status of 401" not in e]

    page.fill("#token", dash.token)
    with page.expect_navigation():
        page.click("form[action='/dashboard/signin'] button[type=submit]")
    assert page.locator("h1").inner_text() == "Vue d’ensemble"
    (cookie,) = tab.context.cookies()
    assert cookie["name"] == "wl_session" and cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    assert page.evaluate("document.cookie") == ""  # HttpOnly: out of the page's reach

    with page.expect_navigation():
        page.click("form[action='/dashboard/signout'] button")
    assert page.locator("#signin-message").inner_text() == "Vous êtes déconnecté."
    assert tab.context.cookies() == []
    # the old session id is dead on the server too
    response = httpx.get(dash.url + "/dashboard/leads", cookies={"wl_session": cookie["value"]}, timeout=30)
    assert response.status_code == 401
    # no URL the browser asked for carried the token, and the server never logged it
    assert not [u for u in tab.urls if dash.token in u]
    assert dash.token not in dash.server.log()


@pytest.mark.browser
def test_a_page_asked_for_before_sign_in_opens_after_it(dash: Dash, new_tab: Callable[..., Tab]) -> None:
    tab = new_tab()
    response = tab.page.goto(dash.url + "/dashboard/attribution?by=source&model=linear")
    assert response is not None and response.status == 401
    tab.errors.clear()  # the expected 401
    tab.page.fill("#token", dash.token)
    with tab.page.expect_navigation():
        tab.page.click("form[action='/dashboard/signin'] button[type=submit]")
    assert tab.page.url.endswith("/dashboard/attribution?by=source&model=linear")
    assert tab.page.locator("#attribution").get_attribute("data-by") == "source"
