"""Bot detection: crawlers, HTTP libraries and headless browsers are flagged with the rule that matched;
people's browsers, in-app ones included, are not."""

from __future__ import annotations

import httpx
import pytest

from webleads.collector import enrich
from webleads.collector.enrich import bot_pattern, parse_agent

from conftest import ORIGIN, Server

BOTS = {
    "googlebot": "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    "googlebot-smartphone": ("Mozilla/5.0 (Linux; Android 6.0.1; Nexus 5X Build/MMB29P) AppleWebKit/537.36 (KHTML, "
                             "like Gecko) Chrome/131.0.6778.204 Mobile Safari/537.36 (compatible; Googlebot/2.1; "
                             "+http://www.google.com/bot.html)"),
    "bingbot": ("Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; bingbot/2.0; "
                "+http://www.bing.com/bingbot.htm) Chrome/116.0.1938.76 Safari/537.36"),
    "gptbot": ("Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; GPTBot/1.2; "
               "+https://openai.com/gptbot)"),
    "claudebot": ("Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; ClaudeBot/1.0; "
                  "+claudebot@anthropic.com)"),
    "ahrefsbot": "Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)",
    "facebookexternalhit": "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)",
    "curl": "curl/8.5.0",
    "python-requests": "python-requests/2.32.3",
    "wget": "Wget/1.21.4",
}
HEADLESS = {
    "headless-chrome": ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
                        "HeadlessChrome/131.0.0.0 Safari/537.36"),
    "headless-chrome-windows": ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
                                "HeadlessChrome/120.0.6099.28 Safari/537.36"),
}
PEOPLE = {  # user-agent: the device it must be stored with
    "chrome-windows": ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
                       "Chrome/131.0.0.0 Safari/537.36", "desktop"),
    "chrome-mac": ("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) "
                   "Chrome/131.0.0.0 Safari/537.36", "desktop"),
    "firefox-windows": ("Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0",
                        "desktop"),
    "firefox-linux": ("Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0", "desktop"),
    "safari-mac": ("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
                   "Version/18.2 Safari/605.1.15", "desktop"),
    "edge-windows": ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
                     "Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0", "desktop"),
    "safari-iphone": ("Mozilla/5.0 (iPhone; CPU iPhone OS 18_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like "
                      "Gecko) Version/18.2 Mobile/15E148 Safari/604.1", "mobile"),
    "chrome-iphone": ("Mozilla/5.0 (iPhone; CPU iPhone OS 18_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like "
                      "Gecko) CriOS/131.0.6778.134 Mobile/15E148 Safari/604.1", "mobile"),
    "chrome-android": ("Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) "
                       "Chrome/131.0.0.0 Mobile Safari/537.36", "mobile"),
    "samsung-internet": ("Mozilla/5.0 (Linux; Android 14; SAMSUNG SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) "
                         "SamsungBrowser/27.0 Chrome/125.0.0.0 Mobile Safari/537.36", "mobile"),
    "firefox-android": ("Mozilla/5.0 (Android 14; Mobile; rv:133.0) Gecko/133.0 Firefox/133.0", "mobile"),
    "edge-android": ("Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) "
                     "Chrome/131.0.0.0 Mobile Safari/537.36 EdgA/131.0.0.0", "mobile"),
    "google-app-iphone": ("Mozilla/5.0 (iPhone; CPU iPhone OS 18_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, "
                          "like Gecko) GSA/345.0.695551749 Mobile/15E148 Safari/604.1", "mobile"),
    "chrome-android-tablet": ("Mozilla/5.0 (Linux; Android 13; SM-X710) AppleWebKit/537.36 (KHTML, like Gecko) "
                              "Chrome/131.0.0.0 Safari/537.36", "tablet"),
    # In-app browsers: the visitors that Facebook and Instagram ads bring.
    "facebook-app-iphone": ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, "
                            "like Gecko) Mobile/15E148 [FBAN/FBIOS;FBAV/470.0.0.41.107;FBBV/640468410;"
                            "FBDV/iPhone15,2;FBMD/iPhone;FBSN/iOS;FBSV/17.5;FBSS/3;FBID/phone;FBLC/fr_FR;FBOP/5]",
                            "mobile"),
    "facebook-app-android": ("Mozilla/5.0 (Linux; Android 14; SM-S918B Build/UP1A.231005.007; wv) AppleWebKit/537.36 "
                             "(KHTML, like Gecko) Version/4.0 Chrome/131.0.6778.135 Mobile Safari/537.36 "
                             "[FB_IAB/FB4A;FBAV/493.0.0.74.109;]", "mobile"),
    "instagram-iphone": ("Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like "
                         "Gecko) Mobile/15E148 Instagram 357.0.0.25.101 (iPhone15,2; iOS 18_1; fr_FR; fr; "
                         "scale=3.00; 1179x2556; 661018372)", "mobile"),
}


@pytest.mark.parametrize("ua", BOTS.values(), ids=BOTS.keys())
def test_crawlers_and_http_libraries_are_bots_with_the_rule_that_matched(ua: str) -> None:
    agent = parse_agent(ua)
    pattern = bot_pattern(ua)
    assert pattern is not None
    assert (agent.is_bot, agent.device, agent.bot_reason) == (True, "bot", f"user-agent pattern {pattern}")


@pytest.mark.parametrize("ua", HEADLESS.values(), ids=HEADLESS.keys())
def test_headless_browsers_are_bots(ua: str) -> None:
    agent = parse_agent(ua)
    assert (agent.is_bot, agent.device, agent.bot_reason) == (True, "bot", "headless")


@pytest.mark.parametrize("ua, device", PEOPLE.values(), ids=PEOPLE.keys())
def test_browsers_of_people_are_not_bots(ua: str, device: str) -> None:
    agent = parse_agent(ua)
    assert (agent.is_bot, agent.device, agent.bot_reason) == (False, device, None)
    assert agent.browser is not None and agent.os is not None


def test_no_user_agent_is_a_bot() -> None:
    assert parse_agent("") == enrich.AgentInfo(None, None, None, "bot", True, "no user-agent")


def test_matcher_agrees_with_is_bot() -> None:
    """Our faster matcher runs is-bot's own list and must give is-bot's verdict (bench/bots.py checks it on
    thousands of strings); the bot case differs from a browser's only by a token, in upper case."""
    from is_bot import Bots

    reference = Bots()
    for ua in [*BOTS.values(), *HEADLESS.values(), *(ua for ua, _ in PEOPLE.values()),
               "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
               "Chrome/131.0.0.0 Safari/537.36 GOOGLE-INSPECTIONTOOL/1.0", "Google-Site-Verification/1.0",
               "Mozilla/5.0 (compatible)", "GOOGLEBOT"]:
        assert (bot_pattern(ua) is not None) == reference.is_bot(ua), ua


def test_the_cache_keeps_at_most_the_capped_user_agent() -> None:
    """The cache's memory is bounded by its entry count times the user-agent cap: a longer string is
    cut before it becomes a key."""
    long_ua = PEOPLE["chrome-windows"][0] + " " + "x" * 2000
    before = enrich._parse_agent.cache_info().currsize
    assert parse_agent(long_ua) == parse_agent(long_ua[:enrich.MAX_AGENT])
    assert enrich._parse_agent.cache_info().currsize <= before + 1
    assert enrich._parse_agent.cache_info().maxsize == enrich.AGENT_CACHE


def test_a_crawler_beacon_is_stored_as_a_bot_and_a_browser_beacon_is_not(server: Server) -> None:
    body = '{"site":"ecloserie","url":"https://www.ecloserie.test/formation","visitor_id":"%s"}'
    for visitor, ua in [("crawler", BOTS["gptbot"]), ("person", PEOPLE["safari-iphone"][0]),
                        ("in-app", PEOPLE["facebook-app-android"][0])]:
        answer = httpx.post(server.url + "/e", content=body % visitor,
                            headers={"Origin": ORIGIN, "Content-Type": "text/plain", "User-Agent": ua})
        assert answer.status_code == 204
    server.stop()
    rows = server.query("SELECT visitor_id, is_bot, device, bot_reason FROM event_log ORDER BY visitor_id")
    assert rows == [("crawler", True, "bot", f"user-agent pattern {bot_pattern(BOTS['gptbot'])}"),
                    ("in-app", False, "mobile", None), ("person", False, "mobile", None)]
