"""The opt-out page's check tokens: read from an event's address, noted only for the site they were handed
out for, forgotten after their lifetime, bounded in number."""

from __future__ import annotations

import pytest

from webleads.collector import optcheck
from webleads.collector.optcheck import Checks, check_token


@pytest.mark.parametrize(("url", "token"), [
    ("https://www.ecloserie.fr/?webleads_check=abc", "abc"),
    ("https://www.ecloserie.fr/formation?x=1&webleads_check=abc#top", "abc"),
    ("https://www.ecloserie.fr/", None),
    ("https://www.ecloserie.fr/webleads_check", None),
    (None, None),
], ids=["home", "among-parameters", "none", "in-the-path", "no-url"])
def test_check_token(url: str | None, token: str | None) -> None:
    assert check_token(url) == token


def test_a_token_is_noted_for_its_own_site_and_expires() -> None:
    now = [1000.0]
    checks = Checks(clock=lambda: now[0])
    token = checks.issue("ecloserie")
    checks.saw("other", token)
    checks.saw("ecloserie", "not-handed-out")
    check = checks.get(token)
    assert check is not None and check.seen is None and check.opened is None
    now[0] += 1
    checks.opened(token)
    checks.saw("ecloserie", token)
    assert (check.opened, check.seen) == (1001.0, 1001.0)
    now[0] += optcheck.LIFETIME
    assert checks.get(token) is None


def test_the_book_is_bounded() -> None:
    checks = Checks()
    first = checks.issue("ecloserie")
    for _ in range(optcheck.LIMIT):
        checks.issue("ecloserie")
    assert checks.get(first) is None


def test_the_verdict_names_the_consent_banner_where_it_matters() -> None:
    from webleads.collector.optout import SETTLE, _result

    checks = Checks(clock=lambda: 0.0)
    check = checks.get(checks.issue("ecloserie"))
    assert check is not None
    check.opened = 0.0
    box, refresh = _result(check, "ecloserie", 1.0)
    assert 'data-verdict="waiting"' in box and "refresh" in refresh
    box, refresh = _result(check, "ecloserie", SETTLE + 1, consent=True)
    assert 'data-verdict="excluded"' in box and "bandeau cookies" in box and refresh == ""
    assert "bandeau cookies" not in _result(check, "ecloserie", SETTLE + 1)[0]
    assert "inconnue" in _result(check, "other", SETTLE + 1)[0]
