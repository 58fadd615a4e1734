"""Synthetic traffic of a small training centre, through the real ingest path (collector/batch.py).

generate(visitors, seed, end) yields import records: 90 days of journeys ending at `end` (the start of
the current UTC day by default, so a run is the same all day and `--seed` makes it reproducible).
The mix: newsletters (tagged by hand as newsletter, Newsletter or NL), Facebook and LinkedIn posts,
partner sites, the local newspaper, France Travail, a QR-code flyer, Google and other search engines,
search ads (UTM and gclid), posters and flyers with short links (their scans), direct visits; 1 to 5
visits per visitor over up to three weeks, first visits spread evenly up to the period's end; about
4 % of visitors send the "candidater" or "reserver-visite" form (with an allow-listed field); 3 % bots. 60 % of visitors
gave consent (one id across days); the others get a new id each day, as the daily hash does.
The forms are Contact Form 7's: each submission gets its verdict (a status event). About one in six is first
refused as invalid and sent again, a few mails fail, and about 2 % of visitors post spam to the contact
form, which CF7 rejects. The verdicts draw from a random generator of their own, so the rest of the traffic
is the same as without them. With an Extras, the closed loop too: scans of the short links (LINKS),
answers to "how did you hear of us?" (the field `connu`) and outcomes for about a third of the
applications; costs() gives the campaigns' costs.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from webleads.collector.backoffice import store_costs, store_outcomes
from webleads.collector.shortlinks import ShortLink, add_link, find_link

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
    (3, {"query": "utm_source=mairie&utm_medium=affiche&utm_campaign=portes-ouvertes", "link": "affiche-mairie"},
     "dev"),
    (2, {"query": "utm_source=marche&utm_medium=flyer&utm_campaign=portes-ouvertes", "link": "flyer-marche"}, "dev"),
    (4, {"query": "utm_source=google&utm_medium=cpc&utm_campaign=formation-dev-annonces&gclid=ad"}, "dev"),
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
# The short links of the demo's posters and flyers (webleads link add), and what the campaigns cost.
LINKS = [
    {"code": "affiche-mairie", "target": ORIGIN + PAGES["dev"], "utm_source": "mairie", "utm_medium": "affiche",
     "utm_campaign": "portes-ouvertes", "utm_content": None},
    {"code": "flyer-marche", "target": ORIGIN + PAGES["dev"], "utm_source": "marche", "utm_medium": "flyer",
     "utm_campaign": "portes-ouvertes", "utm_content": None},
]
ONE_OFF_COSTS = [  # (days before the end, source, medium, campaign, euros)
    (80, "mairie", "affiche", "portes-ouvertes", 120.0),
    (75, "marche", "flyer", "portes-ouvertes", 85.0),
]
MONTHLY_COSTS = [("newsletter", "email", "formation-dev-2026", 25.0)]  # the mailing tool
DAILY_COSTS = [("google", "cpc", "formation-dev-annonces", 1.6)]  # search ads
# "Comment nous avez-vous connus ?": what a lead answers, by how its last visit arrived (the form field
# `connu`); a lead who came straight to the site often names what the tracking cannot see.
DECLARED_UNSEEN = ["Bouche à oreille", "Affiche à la mairie", "France Travail", "Radio locale", "Flyer au marché"]
DECLARED = {"affiche-mairie": "Affiche à la mairie", "flyer-marche": "Flyer au marché", "google.com": "Google",
            "newsletter": "Newsletter", "facebook": "Facebook", "francetravail.fr": "France Travail"}
OUTCOMES = [("inscrit", (2400, 4200)), ("financé", (3000, 6000)), ("abandon", None)]


class Extras:
    """What the demo adds beside events: scans of its short links and outcomes of a third of its leads."""

    def __init__(self) -> None:
        self.scans: list[tuple[str, datetime, str, bool]] = []
        self.outcomes: list[dict[str, Any]] = []


def costs(end: datetime | None = None, days: int = 90) -> list[dict[str, Any]]:
    """The cost lines of the demo's campaigns (as `webleads cost import` reads them)."""
    end = end or default_end()
    lines = [{"day": (end - timedelta(days=d)).date(), "source": s, "medium": m, "campaign": c, "cost": euros}
             for d, s, m, c, euros in ONE_OFF_COSTS]
    for d in range(days, 0, -1):
        day = (end - timedelta(days=d)).date()
        lines += [{"day": day, "source": s, "medium": m, "campaign": c, "cost": euros}
                  for s, m, c, euros in DAILY_COSTS]
        if day.day == 1:
            lines += [{"day": day, "source": s, "medium": m, "campaign": c, "cost": euros}
                      for s, m, c, euros in MONTHLY_COSTS]
    return lines


def _declared(how: dict[str, str], rnd: random.Random) -> str | None:
    if rnd.random() < 0.25:
        return None  # not answered
    for key, answer in DECLARED.items():
        if key in how.get("link", "") or key in how.get("query", "") or key in how.get("referrer", ""):
            return answer
    return rnd.choice(DECLARED_UNSEEN) if not how else rnd.choice(["Internet", "Un ami", "Google"])


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


def generate(visitors: int, seed: int = 1, end: datetime | None = None, days: int = 90,
             extras: Extras | None = None) -> Iterator[dict[str, Any]]:
    rnd = random.Random(seed)
    verdicts = random.Random(f"verdicts-{seed}")
    loop = random.Random(f"closed-loop-{seed}")  # scans, answers and outcomes: their own draws
    end = end or default_end()
    weights = [w for w, _, _ in ARRIVALS]
    for v in range(visitors):
        bot = rnd.random() < 0.03
        consent = rnd.random() < 0.6
        agent = rnd.choice(BOTS if bot else AGENTS)
        visits = 1 if bot else min(1 + int(rnd.expovariate(0.8)), 5)
        intent = rnd.random()
        # first visits spread over the whole period, up to its last day: traffic runs steadily to the end
        first = end - timedelta(days=days) + timedelta(seconds=rnd.uniform(0, days * 86400 - 3600))
        at = first
        counter = 0
        for visit in range(visits):
            if visit:
                at += timedelta(hours=rnd.uniform(2, 24 * 5))
                if at >= end - timedelta(hours=1):
                    break
            day_id = f"d{seed}x{v}" if consent else f"h{seed}x{v}x{at.date().isoformat()}"
            _, how, landing = rnd.choices(ARRIVALS, weights)[0]
            if visit and rnd.random() < 0.45:
                how, landing = {}, rnd.choice(["home", "dev"])  # came back by typing the address
            query = how.get("query", "").replace("gclid=ad", f"gclid=Cj0K{seed}x{v}x{visit}")
            if extras is not None and "link" in how:  # the poster's QR code scanned just before
                extras.scans.append((how["link"], at - timedelta(seconds=5), day_id, bot))
            pages = [landing] + [rnd.choice(BROWSING) for _ in range(rnd.randint(0, 5))]
            last_visit = visit == visits - 1 or at + timedelta(hours=2) >= end
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
                if props is not None and (answer := _declared(how, loop)):
                    props["connu"] = answer
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
                failed = verdicts.random() < 0.03
                yield _verdict(conversion, "failed" if failed else "sent", timedelta(seconds=2))
                if extras is not None and form == "candidater" and not failed and loop.random() < 0.35:
                    name, values = loop.choice(OUTCOMES)
                    when = datetime.fromtimestamp(conversion["ts"] / 1000, UTC).replace(tzinfo=None)
                    when = min(when + timedelta(days=loop.uniform(3, 30)), end - timedelta(minutes=1))
                    extras.outcomes.append({"lead_id": conversion["event_id"], "outcome": name, "ts": when,
                                            "value": round(loop.uniform(*values), -2) if values else None})
            elif last_visit and not bot and verdicts.random() < 0.02:  # spam posted to the contact form
                counter += 1
                spam = {"ts": _ms(at), "site": SITE, "type": "conversion", "name": "contact",
                        "url": ORIGIN + PAGES["contact"], "visitor_id": day_id,
                        "event_id": f"demo{seed}-{v}-{counter}", "user_agent": agent}
                yield spam
                yield _verdict(spam, "spam", timedelta(seconds=1))


def write_closed_loop(store: Any, site: str, extras: Extras, end: datetime | None = None) -> dict[str, int]:
    """The demo's short links (codes prefixed with the site), their scans, its campaign costs and its
    leads' outcomes. Run again with the same seed on the same day, it leaves the same rows."""
    created = (end or default_end()) - timedelta(days=90)
    for link in LINKS:
        code = f"{site}-{link['code']}"
        if find_link(store, code) is None:
            add_link(store, ShortLink(**{**link, "code": code, "site": site, "created_at": created}))
    scans = [(f"{site}-{code}", at, visitor, bot) for code, at, visitor, bot in extras.scans]

    def replace_scans(conn: Any) -> None:
        conn.execute("DELETE FROM link_scans WHERE code IN (SELECT code FROM short_links WHERE site = $s)", {"s": site})
        if scans:
            conn.executemany("INSERT INTO link_scans VALUES (?, ?, ?, ?)", scans)

    store.run_write(replace_scans)
    store_costs(store, [{**line, "site": site} for line in costs(end)])
    known = {r["lead_id"] for r in store.query(
        "SELECT DISTINCT lead_id FROM lead_outcomes WHERE lead_id IN (SELECT unnest(CAST($ids AS VARCHAR[])))",
        {"ids": [o["lead_id"] for o in extras.outcomes]})}
    new = [o for o in extras.outcomes if o["lead_id"] not in known]
    store_outcomes(store, new, "import")
    return {"links": len(LINKS), "scans": len(scans), "outcomes": len(new)}


def remove_closed_loop(store: Any, site: str) -> None:
    """Delete what write_closed_loop() made for `site` (before its events: outcomes name their leads)."""
    def remove(conn: Any) -> None:
        conn.execute("DELETE FROM lead_outcomes WHERE lead_id IN "
                     "(SELECT event_id FROM event_log WHERE site = $s AND type = 'conversion')", {"s": site})
        conn.execute("DELETE FROM link_scans WHERE code IN (SELECT code FROM short_links WHERE site = $s)", {"s": site})
        conn.execute("DELETE FROM short_links WHERE site = $s", {"s": site})
        conn.execute("DELETE FROM campaign_costs WHERE site = $s", {"s": site})

    store.run_write(remove)
