"""What the pages say, in French and in English: channel names and placeholders in words (the CSV keeps
GA4's names), agreement and plurals, the funnel's steps and window, the leads' time zone and order."""

from __future__ import annotations

import csv
import html
import io
import re
from collections.abc import Iterator
from datetime import datetime, timedelta

import httpx
import pytest

from .conftest import Dash


@pytest.fixture(scope="module")
def client(dash: Dash) -> Iterator[httpx.Client]:
    """A signed-in HTTP client (French unless a page asks for ?lang=en; no language cookie is kept)."""
    with httpx.Client(base_url=dash.url, timeout=60, headers={"Origin": dash.url}) as c:
        response = c.post("/dashboard/signin", data={"token": dash.token})
        assert response.status_code == 303, response.text
        yield c


def text(client: httpx.Client, path: str) -> str:
    """The page's text, tags removed and entities decoded (what a reader sees, roughly)."""
    response = client.get(path)
    assert response.status_code == 200, response.text
    client.cookies.delete("wl_lang")
    return html.unescape(re.sub(r"<[^>]+>", " ", response.text))


def query(dash: Dash, **extra: str) -> str:
    return "&".join(f"{k}={v}" for k, v in {**dash.everything, **extra}.items())


def test_attribution_by_channel_speaks_french_and_the_csv_keeps_ga4_names(dash: Dash, client: httpx.Client) -> None:
    page = text(client, "/dashboard/attribution?" + query(dash, by="channel", model="linear"))
    assert "Quels canaux amènent les conversions, selon le modèle «\u00a0Linéaire\u00a0»" in page
    assert "Quelles canaux" not in page
    assert "Recherche naturelle" in page and "Organic Search" not in re.sub(r'data-value="[^"]*"', "", page)
    assert "Conversions où ce canal apparaît" in page and "où elle apparaît" not in page
    raw = client.get("/dashboard/attribution?" + query(dash, by="channel", model="linear")).text
    assert 'data-value="Organic Search"' in raw  # the value itself is kept for programs and tests
    download = client.get("/dashboard/attribution.csv?" + query(dash, by="channel", model="linear")).text
    channels = [row["channel"] for row in csv.DictReader(io.StringIO(download))]
    assert "Organic Search" in channels and "Recherche naturelle" not in download


@pytest.mark.parametrize(("by", "heading"), [
    ("source", "Quelles sources"), ("medium", "Quels supports"), ("term", "Quels mots-clés"),
    ("content", "Quels contenus"), ("referrer_domain", "Quels sites référents"), ("campaign", "Quelles campagnes"),
])
def test_the_attribution_heading_agrees_with_its_noun(dash: Dash, client: httpx.Client, by: str, heading: str) -> None:
    assert heading + " amènent les conversions" in text(client, "/dashboard/attribution?" + query(dash, by=by))


def test_not_set_is_no_campaign_with_what_it_means(dash: Dash, client: httpx.Client) -> None:
    page = text(client, "/dashboard/attribution?" + query(dash, by="campaign"))
    assert "Sans campagne" in page and "(not set)" not in re.sub(r'data-value="[^"]*"', "", page)
    assert "visites arrivées sans balises UTM" in page
    raw = client.get("/dashboard/attribution?" + query(dash, by="campaign")).text
    assert 'href="/dashboard/links"' in raw.split('id="not-set-note"')[1].split("</p>")[0]
    overview = text(client, "/dashboard?" + query(dash))
    assert "Sans campagne" in overview and "visites arrivées sans balises UTM" in overview
    english = text(client, "/dashboard/attribution?" + query(dash, by="campaign", lang="en"))
    assert "No campaign" in english and "Which campaigns bring conversions" in english
    download = client.get("/dashboard/attribution.csv?" + query(dash, by="campaign")).text
    assert "(not set)" in download and "Sans campagne" not in download


def test_overview_plurals_agree_with_the_count(dash: Dash, client: httpx.Client) -> None:
    page = text(client, "/dashboard?" + query(dash))
    assert re.search(r"[\d\u202f]+ visiteurs sur [\d\u202f]+ ont converti", page), page
    later = (dash.today + timedelta(days=30)).isoformat()
    empty = text(client, f"/dashboard?from={later}&to={later}")
    assert "0 visiteur sur 0 a converti" in empty  # French: zero takes the singular
    english = text(client, f"/dashboard?from={later}&to={later}&lang=en")
    assert "0 visitors out of 0 converted" in english


def test_funnel_steps_and_window_in_words(dash: Dash, client: httpx.Client) -> None:
    path = "/dashboard/funnel?" + query(dash, step="pageview:/formation*") + "&step=conversion:candidater&window=7d"
    page = text(client, path)
    assert "Page /formation*" in page and "Formulaire candidater" in page
    assert "pageview:/formation*" not in re.sub(r'(data-value|value)="[^"]*"', "", page)
    assert "dans les 7 jours qui suivent la première" in page
    assert not re.search(r"\b7d\b", re.sub(r'value="[^"]*"', "", page))
    assert "−0 (" not in page
    assert "Form candidater" in text(client, path + "&lang=en")


def test_leads_newest_first_with_their_time_zone_and_french_channels(dash: Dash, client: httpx.Client) -> None:
    raw = client.get("/dashboard/leads?" + query(dash)).text
    shown = re.findall(r'<th scope="row" data-value="([^"]+)">', raw)
    api = [r["ts"] for r in dash.api("leads", dash.everything).json()["rows"]]
    assert len(shown) == len(api) > 3
    assert shown == sorted(api, key=datetime.fromisoformat, reverse=True) == list(reversed(api))
    page = html.unescape(re.sub(r"<[^>]+>", " ", raw))
    assert "Date (fuseau Europe/Paris)" in page and "UTC" not in page
    assert "les plus récentes en premier" in page
    assert "Recherche naturelle" in page or "E-mail" in page
    # the channel filter lists the channels in French but filters on GA4's name
    assert '<option value="Organic Search">Recherche naturelle</option>' in raw
    utc = text(client, "/dashboard/leads?" + query(dash, tz="UTC"))
    assert "Date (fuseau UTC)" in utc


def test_no_english_left_on_french_pages(dash: Dash, client: httpx.Client) -> None:
    """A few words the former pages showed in English or half-translated."""
    for path in ("/dashboard?" + query(dash), "/dashboard/attribution?" + query(dash, by="channel"),
                 "/dashboard/leads?" + query(dash)):
        page = re.sub(r'(data-value|value|datetime)="[^"]*"', "", client.get(path).text)
        for english in ("Organic Search", "Referral", "Unassigned", "(not set)", "Date (UTC)"):
            assert english not in page, (path, english)


def test_the_leads_search_finds_what_the_page_shows(dash: Dash, client: httpx.Client) -> None:
    """« Recherche naturelle » finds the leads that came through Organic Search, and the CSV holds the same rows."""
    search = query(dash, q="recherche%20naturelle")
    raw = client.get("/dashboard/leads?" + search).text
    shown = re.findall(r'<th scope="row" data-value="([^"]+)">', raw)
    api = dash.api("leads", dash.everything).json()["rows"]
    expected = [r["ts"] for r in api if "Organic Search" in r["path"]]
    assert 0 < len(shown) == len(expected) < len(api)
    assert sorted(shown) == sorted(expected)
    download = client.get("/dashboard/leads.csv?" + search).text
    assert sorted(r["ts"] for r in csv.DictReader(io.StringIO(download))) == sorted(expected)
