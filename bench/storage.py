"""How large the DuckDB file grows per million events.

    python bench/storage.py [--events 1000000]

Builds realistic events (pages with and without campaign parameters, referrers, 300 user-agents,
visitors returning over 30 days, a few conversions) through the real validation and enrichment
(`build_row`), writes them through the real store in batches, checkpoints, and prints the file's size.
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from webleads.collector.enrich import Context, Geo, build_row
from webleads.collector.registry import Registry
from webleads.collector.store import Store, utcnow
from webleads.collector.validate import validate_event

PAGES = ["/", "/formation-developpeur-web", "/candidater", "/coworking", "/fablab", "/mooc-teletravail",
         "/contact", "/reserver-une-visite", "/actualites/portes-ouvertes", "/equipe"]
CAMPAIGNS = ["", "", "", "?utm_source=newsletter&utm_medium=email&utm_campaign=rentree-2026",
             "?utm_source=facebook&utm_medium=social&utm_campaign=promo-dev-web", "?gclid=Cj0KCQiA",
             "?utm_source=linkedin&utm_medium=social", "?utm_source=flyer&utm_medium=print&utm_campaign=mairie"]
REFERRERS = ["", "", "https://www.google.fr/", "https://www.bing.com/", "https://l.facebook.com/",
             "https://www.lefigaro.fr/", "https://numerique-region.fr/partenaires", "https://duckduckgo.com/"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    db = Path(tempfile.mkdtemp(prefix="webleads-storage-")) / "size.duckdb"
    store = Store(str(db))
    registry = Registry(store)
    site = registry.add_site("ecloserie", ["https://www.ecloserie.fr"])
    geo = Geo(None)
    agents = [f"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
              f"Chrome/{100 + i % 40}.0.{i}.0 Safari/537.36" for i in range(300)]
    now = utcnow()
    salt = registry.salt_for(now)
    started = time.perf_counter()
    batch = []
    visitors = max(1, args.events // 8)
    for _ in range(args.events):
        v = rng.randrange(visitors)
        kind = "conversion" if rng.random() < 0.01 else "pageview"
        event = {"site": "ecloserie", "type": kind, "url": "https://www.ecloserie.fr" + rng.choice(PAGES)
                 + rng.choice(CAMPAIGNS), "referrer": rng.choice(REFERRERS) or None,
                 "visitor_id": f"v{v:08d}" if v % 3 == 0 else None}
        if kind == "conversion":
            event["name"] = rng.choice(["candidater", "reserver-visite", "contact"])
        ev = validate_event(event)
        ev.ts = now - timedelta(seconds=rng.randrange(30 * 86400))
        ctx = Context(ip=f"203.0.{v % 256}.{v // 256 % 256}", user_agent=agents[v % 300], origin="beacon")
        batch.append(build_row(ev, site, ctx, now, salt, geo))
        if len(batch) == 20_000:
            store.write(batch)
            batch = []
    if batch:
        store.write(batch)
    elapsed = time.perf_counter() - started
    store.close()  # checkpoints
    size = db.stat().st_size
    print(f"{args.events:,} events enriched and written in {elapsed:.1f}s ({args.events / elapsed:,.0f}/s)")
    print(f"file: {size / 1e6:.1f} MB, {size / args.events:.1f} bytes per event, "
          f"{size / args.events * 1e6 / 1e6:.0f} MB per million events")


if __name__ == "__main__":
    main()
