"""GA4 default channel group: a table of cases from the rules (first match wins, case-insensitive),
and how referrers and click ids read as source / medium."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest
from lab import T0, Lab

from webleads.analytics import channels
from webleads.analytics.referrers import classify_referrer, source_category

# (source, medium, campaign, expected channel); the source's GA4 category comes from our table.
CASES = [
    ("(direct)", "(none)", "(not set)", "Direct"),
    ("(direct)", "(not set)", "(not set)", "Direct"),
    ("(not set)", "(not set)", "spring", "Unassigned"),  # a campaign alone is not Direct
    ("google", "cpc", "pmax-cross-network", "Cross-network"),
    ("facebook", "cpc", "Cross-Network retargeting", "Cross-network"),
    ("amazon", "cpc", "(not set)", "Paid Shopping"),
    ("newsletter", "paid", "summer_shop", "Paid Shopping"),
    ("google", "cpc", "shopping-feed", "Paid Shopping"),
    ("google", "cpc", "(not set)", "Paid Search"),
    ("Google", "CPC", "(not set)", "Paid Search"),  # case-insensitive
    ("bing", "ppc", "(not set)", "Paid Search"),
    ("google", "cpm", "(not set)", "Paid Search"),  # cpm matches .*cp.* before Display
    ("qwant", "paid-search", "(not set)", "Paid Search"),
    ("duckduckgo", "retargeting", "(not set)", "Paid Search"),
    ("facebook", "cpc", "(not set)", "Paid Social"),
    ("fb", "paid_social", "(not set)", "Paid Social"),
    ("linkedin", "cpc", "recrutement", "Paid Social"),
    ("lnkd.in", "ppc", "(not set)", "Paid Social"),
    ("youtube", "cpv", "(not set)", "Paid Video"),
    ("vimeo.com", "paid", "(not set)", "Paid Video"),
    ("partner", "display", "(not set)", "Display"),
    ("adserver", "banner", "(not set)", "Display"),
    ("adserver", "interstitial", "(not set)", "Display"),
    ("adserver", "expandable", "(not set)", "Display"),
    ("adserver", "cpm", "(not set)", "Display"),  # Display (rule 7) comes before Paid Other (8)
    ("partner", "cpa", "(not set)", "Paid Other"),
    ("partner", "paid", "(not set)", "Paid Other"),
    ("ebay", "referral", "(not set)", "Organic Shopping"),
    ("newsletter", "email", "summer_shop", "Organic Shopping"),  # rule 9 before Email
    ("newsletter", "email", "eshop-noel", "Organic Shopping"),
    ("newsletter", "email", "workshop-noel", "Email"),  # 'workshop': k before shop is excluded
    ("facebook", "referral", "(not set)", "Organic Social"),  # social source before Referral
    ("l.facebook.com", "referral", "(not set)", "Organic Social"),
    ("t.co", "referral", "(not set)", "Organic Social"),
    ("x.com", "referral", "(not set)", "Organic Social"),
    ("forum", "social", "(not set)", "Organic Social"),
    ("forum", "social-network", "(not set)", "Organic Social"),
    ("forum", "sm", "(not set)", "Organic Social"),
    ("forum", "social media", "(not set)", "Organic Social"),
    ("youtube", "referral", "(not set)", "Organic Video"),
    ("dailymotion.com", "referral", "(not set)", "Organic Video"),
    ("partner", "video", "(not set)", "Organic Video"),
    ("partner", "webvideo", "(not set)", "Organic Video"),
    ("google", "organic", "(not set)", "Organic Search"),
    ("ecosia", "referral", "(not set)", "Organic Search"),
    ("unknown-engine", "organic", "(not set)", "Organic Search"),
    ("lamontagne.fr", "referral", "(not set)", "Referral"),
    ("app", "app", "(not set)", "Referral"),
    ("site", "link", "(not set)", "Referral"),
    ("newsletter", "email", "nov", "Email"),
    ("NL", "E-mail", "nov", "Email"),
    ("email", "(not set)", "(not set)", "Email"),
    ("e mail", "blast", "(not set)", "Email"),
    ("newsletter", "email_blast", "(not set)", "Unassigned"),  # exact match only
    ("partner", "affiliate", "(not set)", "Affiliates"),
    ("podcast", "audio", "(not set)", "Audio"),
    ("sms", "(not set)", "(not set)", "SMS"),
    ("operator", "sms", "(not set)", "SMS"),
    ("app", "push", "(not set)", "Mobile Push Notifications"),
    ("app", "web-push", "(not set)", "Mobile Push Notifications"),
    ("app", "mobile", "(not set)", "Mobile Push Notifications"),
    ("firebase", "(not set)", "(not set)", "Mobile Push Notifications"),
    ("flyer", "print2", "(not set)", "Unassigned"),
    # our one addition to GA4's rules: printed links and QR codes (GA4 leaves them Unassigned)
    ("flyer", "qr", "mairie", "Offline"),
    ("mairie", "print", "(not set)", "Offline"),
    ("marche", "Flyer", "portes-ouvertes", "Offline"),
    ("france-travail", "affiche", "(not set)", "Offline"),
    ("radio", "offline", "(not set)", "Offline"),
    ("facebook", "poster", "(not set)", "Offline"),  # the medium says paper, whatever the source
]


@pytest.fixture(scope="module")
def conn() -> duckdb.DuckDBPyConnection:
    c = duckdb.connect()
    channels.install(c)
    return c


@pytest.mark.parametrize(("source", "medium", "campaign", "expected"), CASES,
                         ids=[f"{s}/{m}/{c}->{e}" for s, m, c, e in CASES])
def test_ga4_default_channel_group(conn: duckdb.DuckDBPyConnection, source: str, medium: str, campaign: str,
                                   expected: str) -> None:
    assert channels.channel(source, medium, campaign, conn=conn) == expected


def test_the_table_is_large_enough_and_covers_every_channel() -> None:
    assert len(CASES) >= 40
    assert {c[3] for c in CASES} == set(channels.CHANNELS)


REFERRERS = [
    ("google.fr", ("google", "organic", "SEARCH")),
    ("google.co.uk", ("google", "organic", "SEARCH")),
    ("news.google.com", ("google", "organic", "SEARCH")),
    ("bing.com", ("bing", "organic", "SEARCH")),
    ("qwant.com", ("qwant", "organic", "SEARCH")),
    ("duckduckgo.com", ("duckduckgo", "organic", "SEARCH")),
    ("fr.search.yahoo.com", ("yahoo", "organic", "SEARCH")),
    ("search.lilo.org", ("lilo", "organic", "SEARCH")),
    ("search.brave.com", ("brave", "organic", "SEARCH")),
    ("sites.google.com", ("sites.google.com", "referral", None)),  # a Google site is not a search
    ("cnn.com", ("cnn.com", "referral", None)),  # Matomo lists it only with a keyword parameter
    ("l.facebook.com", ("facebook", "social", "SOCIAL")),
    ("fr-fr.facebook.com", ("facebook", "social", "SOCIAL")),
    ("linkedin.com", ("linkedin", "social", "SOCIAL")),
    ("lnkd.in", ("linkedin", "social", "SOCIAL")),
    ("t.co", ("twitter", "social", "SOCIAL")),
    ("bsky.app", ("bluesky", "social", "SOCIAL")),
    ("m.youtube.com", ("youtube", "referral", "VIDEO")),
    ("amazon.fr", ("amazon", "referral", "SHOPPING")),
    ("mail.google.com", ("gmail", "email", None)),
    ("webmail.free.fr", ("free mail", "email", None)),
    ("mail.orange.fr", ("orange mail", "email", None)),
    ("lamontagne.fr", ("lamontagne.fr", "referral", None)),
    ("chatgpt.com", ("chatgpt.com", "referral", None)),  # GA4 has no AI channel: Referral
]


@pytest.mark.parametrize(("domain", "expected"), REFERRERS, ids=[d for d, _ in REFERRERS])
def test_referrer_classification(domain: str, expected: tuple[str, str, str | None]) -> None:
    assert classify_referrer(domain) == expected


@pytest.mark.parametrize(("source", "category"), [("google", "SEARCH"), ("Facebook", "SOCIAL"), ("fb", "SOCIAL"),
                                                  ("ig", "SOCIAL"), ("m.facebook.com", "SOCIAL"),
                                                  ("youtube", "VIDEO"), ("etsy", "SHOPPING"),
                                                  ("newsletter", None), ("partenaire.fr", None)])
def test_source_category(source: str, category: str | None) -> None:
    assert source_category(source) == category


def test_landings_read_as_source_medium_and_channel(tmp_path: Path) -> None:
    lab = Lab(tmp_path / "landings.duckdb")
    try:
        arrivals = {
            "utm": {"query": "utm_source=Newsletter&utm_medium=Email&utm_campaign=Nov"},
            "utm-source-only": {"query": "utm_source=facebook"},
            "gclid": {"query": "gclid=abc"},
            "msclkid": {"query": "msclkid=abc"},
            "fbclid": {"query": "fbclid=abc"},
            "utm-and-gclid": {"query": "utm_campaign=promo&gclid=abc"},
            "search": {"referrer": "https://www.google.fr/"},
            "social": {"referrer": "https://l.facebook.com/l.php"},
            "webmail": {"referrer": "https://mail.google.com/mail/u/0/"},
            "other-site": {"referrer": "https://www.lamontagne.fr/article"},
            "internal": {"referrer": "https://www.ecloserie.test/agenda"},
            "none": {},
        }
        for visitor, how in arrivals.items():
            lab.visit(visitor, T0, **how)
        lab.commit()
        from webleads.analytics import sessions

        sessions.prepare(lab.store)
        got = {r["visitor_id"]: (r["source"], r["medium"], r["campaign"], r["channel"])
               for r in lab.query("SELECT visitor_id, source, medium, campaign, channel FROM sessions")}
        assert got == {
            "utm": ("newsletter", "email", "nov", "Email"),
            "utm-source-only": ("facebook", "(not set)", "(not set)", "Organic Social"),
            "gclid": ("google", "cpc", "(not set)", "Paid Search"),
            "msclkid": ("bing", "cpc", "(not set)", "Paid Search"),
            "fbclid": ("facebook", "social", "(not set)", "Organic Social"),
            "utm-and-gclid": ("google", "cpc", "promo", "Paid Search"),
            "search": ("google", "organic", "(not set)", "Organic Search"),
            "social": ("facebook", "social", "(not set)", "Organic Social"),
            "webmail": ("gmail", "email", "(not set)", "Email"),
            "other-site": ("lamontagne.fr", "referral", "(not set)", "Referral"),
            "internal": ("(direct)", "(none)", "(not set)", "Direct"),
            "none": ("(direct)", "(none)", "(not set)", "Direct"),
        }
    finally:
        lab.close()
