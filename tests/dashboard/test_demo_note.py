"""The dashboard says when what it shows is `webleads demo` data, and how to remove it."""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

import httpx

from conftest import webleads


def test_demo_data_is_marked_on_the_pages_that_show_it(site_db: Path, make_server: Any) -> None:
    webleads("demo", "--visitors", "20", "--seed", "3", db=site_db)
    token = webleads("token", "create", db=site_db).stdout.strip()
    server = make_server(site_db)
    signin = httpx.post(server.url + "/dashboard/signin", data={"token": token}, headers={"Origin": server.url},
                        timeout=30)
    cookies = {"wl_session": signin.cookies["wl_session"]}

    def note(path: str) -> bool:
        page = httpx.get(server.url + path, cookies=cookies, timeout=60)
        assert page.status_code == 200, page.text
        return "webleads demo --remove" in html.unescape(page.text)

    assert note("/dashboard")  # every site: the demo is among them
    assert note("/dashboard/leads?site=demo")
    assert "Données de démonstration" in httpx.get(server.url + "/dashboard?site=demo", cookies=cookies,
                                                   timeout=60).text
    assert not note("/dashboard?site=ecloserie")
    assert not note("/dashboard/attribution?site=ecloserie")
