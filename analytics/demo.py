"""Synthetic traffic of a small training centre, through the real ingest path (collector/batch.py).

generate(visitors, seed, end) yields import records: 90 days of journeys ending at `end` (the start of
the current UTC day by default, so a run is the same all day and `--seed` makes it reproducible).
The mix: newsletters (tagged by hand as newsletter, Newsletter or NL), Facebook and LinkedIn posts,
partner sites, the local newspaper, France Travail, a QR-code flyer, Google and other search engines,
a few search ads (gclid), direct visits; 1 to 5 visits per visitor over up to three weeks; about
4 % of visitors send the "candidater" or "reserver-visite" form (with an allow-listed field); 3 % bots. 60 % of visitors
gave consent (one id across days); the others get a new id each day, as the daily hash does.
The forms are Contact Form 7's: each submission gets its verdict (a status event). About one in six is first
refused as invalid and sent again, a few mails fail, and about 2 % of visitors post spam to the contact
form, which CF7 rejects. The verdicts draw from a random generator of their own, so the rest of the traffic
is the same as without them.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

SITE = "demo"  # its own site: demo traffic never mixes with a real one
ORIGIN = "https://www.ecloserie.fr"
PAGES = {
    "home": "/", "dev": "/formation-developpeur", "mooc": "/mooc-teletravail", "cowork": "/coworking",
    "fablab": "/fablab", "apply": "/candidater", "visit": "/reserver-une-visite", "contact": "/contact",
    "agenda": "/agenda",
}
# (weight, how the visit arrives, landing page)
ARRIVALS: list[tuple[int, dict[str, str], str]] = [
    (22, {}, "home"),
    (18, {"referrer": "https://www.google.com/"}, "dev"),
    (3, {"referrer": "https://www.qwant.com/"}, "dev"),
    (2, {"referrer": "https://www.bing.com/"}, "home"),
    (1, {"referrer": "https://www.ecosia.org/"}, "mooc"),
    (9, {"query": "utm_source=newsletter&utm_medium=email&utm_campaign=formation-dev-2026"}, "dev"),
    (3, {"query": "utm_source=Newsletter&utm_medium=email&utm_campaign=Formation-Dev-2026"}, "dev"),
    (2, {"query": "utm_source=NL&utm_medium=email&utm_campaign=mooc-teletravail"}, "mooc"),
    (9, {"referrer": "https://l.facebook.com/"}, "agenda"),
    (5, {"query": "utm_source=facebook&utm_medium=social&utm_campaign=groupes-locaux"}, "dev"),
    (5, {"referrer": "https://www.linkedin.com/"}, "dev"),
    (6, {"referrer": "https://www.numerique-auvergne.fr/partenaires"}, "home"),
    (4, {"referrer": "https://www.lamontagne.fr/societe/une-formation-au-numerique"}, "dev"),
    (5, {"referrer": "https://www.francetravail.fr/"}, "dev"),
    (3, {"query": "utm_source=flyer&utm_medium=qr&utm_campaign=mairie"}, "dev"),
    (4, {"query": "gclid=ad"}, "dev"),
    (1, {"referrer": "https://www.youtube.com/"}, "fablab"),
]
BROWSING = ["home", "dev", "mooc", "cowork", "fablab", "agenda", "contact", "dev", "dev"]
AGENTS = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 "
    "Safari/605.1.15",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 "
    "Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Linux; Android 14; SM-A546B) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile "
    "Safari/537.36",
    "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
]
BOTS = [
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/131.0.0.0 Safari/537.36",
    "curl/8.5.0",
]
FORMATIONS = ["developpeur-web", "mooc-teletravail", "coworking"]


def default_end() -> datetime:
    now = datetime.now(UTC).replace(tzinfo=None)
    return now.replace(hour=0, minute=0, second=0, microsecond=0)


def _ms(at: datetime) -> int:
    return int(at.replace(tzinfo=UTC).timestamp() * 1000)


def _verdict(conversion: dict[str, Any], status: str, after: timedelta) -> dict[str, Any]:
    """CF7's verdict on a conversion, as the snippet sends it: a status event naming its event_id."""
    return {"ts": conversion["ts"] + int(after.total_seconds() * 1000), "site": conversion["site"], "type": "status",
            "name": status, "url": conversion["url"], "visitor_id": conversion["visitor_id"],
            "user_agent": conversion["user_agent"], "props": {"of": conversion["event_id"]},
            "event_id": conversion["event_id"] + "-" + status}


def generate(visitors: int, seed: int = 1, end: datetime | None = None, days: int = 90) -> Iterator[dict[str, Any]]:
    rnd = random.Random(seed)
    verdicts = random.Random(f"verdicts-{seed}")
    end = end or default_end()
    weights = [w for w, _, _ in ARRIVALS]
    for v in range(visitors):
        bot = rnd.random() < 0.03
        consent = rnd.random() < 0.6
        agent = rnd.choice(BOTS if bot else AGENTS)
        visits = 1 if bot else min(1 + int(rnd.expovariate(0.8)), 5)
        intent = rnd.random()
        first = end - timedelta(days=days) + timedelta(seconds=rnd.uniform(0, (days - 21) * 86400))
        at = first
        counter = 0
        for visit in range(visits):
            if visit:
                at += timedelta(hours=rnd.uniform(2, 24 * 5))
            day_id = f"d{seed}x{v}" if consent else f"h{seed}x{v}x{at.date().isoformat()}"
            _, how, landing = rnd.choices(ARRIVALS, weights)[0]
            if visit and rnd.random() < 0.45:
                how, landing = {}, rnd.choice(["home", "dev"])  # came back by typing the address
            query = how.get("query", "").replace("gclid=ad", f"gclid=Cj0K{seed}x{v}x{visit}")
            pages = [landing] + [rnd.choice(BROWSING) for _ in range(rnd.randint(0, 5))]
            last_visit = visit == visits - 1
            converts = last_visit and not bot and intent < 0.015 + 0.012 * visits
            if converts:
                pages.append("apply" if intent < 0.01 + 0.009 * visits else "visit")
            for i, page in enumerate(pages):
                url = ORIGIN + PAGES[page] + (f"?{query}" if i == 0 and query else "")
                referrer = how.get("referrer") if i == 0 else ORIGIN + PAGES[pages[i - 1]]
                counter += 1
                yield {"ts": _ms(at), "site": SITE, "type": "pageview", "url": url, "referrer": referrer,
                       "visitor_id": day_id, "event_id": f"demo{seed}-{v}-{counter}", "user_agent": agent,
                       "bot": bot}
                at += timedelta(seconds=rnd.uniform(15, 240))
            if converts:
                counter += 1
                form = "candidater" if pages[-1] == "apply" else "reserver-visite"
                props = {"formation": rnd.choice(FORMATIONS)} if form == "candidater" else None
                conversion = {"ts": _ms(at), "site": SITE, "type": "conversion", "name": form,
                              "url": ORIGIN + PAGES[pages[-1]], "visitor_id": day_id,
                              "event_id": f"demo{seed}-{v}-{counter}", "user_agent": agent, "props": props}
                yield conversion
                if verdicts.random() < 0.17:  # a required field left empty: refused, then sent again
                    yield _verdict(conversion, "invalid", timedelta(seconds=2))
                    counter += 1
                    conversion = {**conversion, "ts": conversion["ts"] + verdicts.randint(20, 90) * 1000,
                                  "event_id": f"demo{seed}-{v}-{counter}"}
                    yield conversion
                yield _verdict(conversion, "failed" if verdicts.random() < 0.03 else "sent", timedelta(seconds=2))
            elif last_visit and not bot and verdicts.random() < 0.02:  # spam posted to the contact form
                counter += 1
                spam = {"ts": _ms(at), "site": SITE, "type": "conversion", "name": "contact",
                        "url": ORIGIN + PAGES["contact"], "visitor_id": day_id,
                        "event_id": f"demo{seed}-{v}-{counter}", "user_agent": agent}
                yield spam
                yield _verdict(spam, "spam", timedelta(seconds=1))
