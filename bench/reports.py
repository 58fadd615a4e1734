"""Benchmark of the reports: `python bench/reports.py` (one command; not part of the pytest run).

It builds a database of 10 million events (1 million visitors, about 3 % of them converting, 3
sessions per visitor on average) directly in DuckDB with the collector's schema (the ingest path would
take about an hour for that many; the rows have the shape enrichment gives them), builds the derived
sessions once, then times, each in its own process so that peak memory is the report's own:

- the floor: one aggregate that groups every event by visitor (visitor_id, count(*), max(ts)), the
  least work any per-visitor report must do;
- each attribution model (by channel), a 4-step funnel with a 7-day window, the leads report, and the
  closed loop's reports: the return on costs (`roi`, by campaign) and attribution of the leads whose
  outcome is `inscrit`, crediting their value (a third of the leads have an outcome, the campaigns a
  cost per day).

It prints seconds (median of --repeat runs), the floor timed in the same process just before and
after the report (the machine is shared: its load moves), the ratio (median), and the report's own
peak memory: the process's resident high-water mark (VmHWM in /proc/self/status), reset just before the
report by writing 5 to /proc/self/clear_refs, so the floor run before it is not counted (where that
file cannot be written, the whole process's peak, ru_maxrss, and the column says so). The database is
kept in bench/out/ (git-ignored), or at --db, and reused when it exists.

    python bench/reports.py [--events 10000000] [--repeat 3] [--rebuild] [--db PATH]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import duckdb

HERE = Path(__file__).resolve().parent
OUT = HERE / "out"
EVENTS_PER_VISITOR = 10  # 3 sessions x 3.3 events

# The traffic mix of a small training centre, one landing template per row:
# (weight, referrer, referrer_domain, utm_source, utm_medium, utm_campaign, click_id_type)
LANDINGS = [
    (30, None, None, None, None, None, None),                                        # direct
    (16, "https://www.google.com/", "google.com", None, None, None, None),
    (3, "https://www.bing.com/", "bing.com", None, None, None, None),
    (3, "https://www.qwant.com/", "qwant.com", None, None, None, None),
    (10, None, None, "newsletter", "email", "formation-dev", None),
    (4, None, None, "newsletter", "email", "mooc-teletravail", None),
    (7, "https://l.facebook.com/", "l.facebook.com", None, None, None, None),
    (3, None, None, "facebook", "cpc", "candidatures", None),
    (4, "https://www.linkedin.com/", "linkedin.com", None, None, None, None),
    (5, "https://www.numerique-regional.fr/partenaires", "numerique-regional.fr", None, None, None, None),
    (3, "https://www.lamontagne.fr/article", "lamontagne.fr", None, None, None, None),
    (4, None, None, None, None, None, "gclid"),
    (2, None, None, "flyer", "print", "mairie", None),
    (2, "https://www.youtube.com/", "youtube.com", None, None, None, None),
    (2, "https://www.instagram.com/", "instagram.com", None, None, None, None),
]
PAGES = ["/", "/formation-developpeur", "/mooc-teletravail", "/coworking", "/fablab", "/candidater",
         "/reserver-une-visite", "/contact"]

FUNNEL = ["pageview:/", "pageview:/formation*", "pageview:/candidater", "conversion:candidater"]


def build(path: Path, events: int, seed: float = 0.42) -> None:
    """Write `events` events (about) of synthetic traffic into a new database at path."""
    from webleads.collector.store import migrate

    visitors = max(events // EVENTS_PER_VISITOR, 1)
    started = time.perf_counter()
    path.unlink(missing_ok=True)
    conn = duckdb.connect(str(path))
    conn.execute("SET enable_progress_bar = false")
    migrate(conn)
    conn.execute("INSERT INTO sites (name, origins, allowed_params, created_at) "
                 "VALUES ('ecloserie', ['https://www.ecloserie.fr'], [], now()::TIMESTAMP)")
    weights = [w for w, *_ in LANDINGS]
    cumulative = [sum(weights[: i + 1]) / sum(weights) for i in range(len(weights))]
    conn.execute("CREATE TEMP TABLE landings (idx INTEGER, upto DOUBLE, referrer VARCHAR, referrer_domain VARCHAR, "
                 "utm_source VARCHAR, utm_medium VARCHAR, utm_campaign VARCHAR, click_id_type VARCHAR)")
    conn.executemany("INSERT INTO landings VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                     [(i, cumulative[i], *row[1:]) for i, row in enumerate(LANDINGS)])
    conn.execute("CREATE TEMP TABLE pages AS SELECT unnest($p) AS path, generate_subscripts($p, 1) - 1 AS idx",
                 {"p": PAGES})
    conn.execute("SELECT setseed($s)", {"s": seed})
    conn.execute("""
        CREATE TEMP TABLE gen_visitors AS
        SELECT i AS vid, 'v' || i AS visitor_id,
               1 + CAST(floor(random() * 5) AS INTEGER) AS sessions,
               random() < 0.03 AS converts, random() < 0.02 AS bot,
               TIMESTAMP '2026-03-01' + to_seconds(CAST(random() * 200 * 86400 AS BIGINT)) AS first_seen
        FROM range($n) t(i)""", {"n": visitors})
    conn.execute("""
        CREATE TEMP TABLE gen_sessions AS
        SELECT v.vid, v.visitor_id, v.converts, v.bot, k, k = v.sessions - 1 AS last_session,
               v.first_seen + to_seconds(CAST(k * (3600 + random() * 6 * 86400) AS BIGINT)) AS start,
               (SELECT idx FROM landings WHERE upto >= r ORDER BY upto LIMIT 1) AS landing,
               1 + CAST(floor(random() * 5.6) AS INTEGER) AS n_events
        FROM (SELECT *, unnest(range(sessions)) AS k, random() AS r FROM gen_visitors) v""")
    conn.execute("""
        INSERT INTO event_log
        WITH ev AS (
            SELECT s.*, j, j = 0 AS is_landing,
                   s.converts AND s.last_session AND j = s.n_events - 1 AS is_conversion,
                   s.start + to_seconds(CAST(j * (20 + random() * 280) AS BIGINT)) AS at,
                   CAST(floor(random() * 8) AS INTEGER) AS page
            FROM (SELECT *, unnest(range(n_events + CASE WHEN converts AND last_session THEN 1 ELSE 0 END)) AS j
                  FROM gen_sessions) s
        )
        SELECT ev.vid || '-' || ev.k || '-' || ev.j, ev.at, ev.at, 'ecloserie',
               CASE WHEN is_conversion THEN 'conversion' ELSE 'pageview' END,
               CASE WHEN is_conversion THEN 'candidater' END,
               ev.visitor_id, 'consent',
               'https://www.ecloserie.fr' || p.path, CASE WHEN is_conversion THEN '/candidater' ELSE p.path END,
               CASE WHEN is_landing THEN l.referrer ELSE 'https://www.ecloserie.fr/' END,
               CASE WHEN is_landing THEN l.referrer_domain ELSE 'ecloserie.fr' END,
               CASE WHEN is_landing THEN l.utm_source END, CASE WHEN is_landing THEN l.utm_medium END,
               CASE WHEN is_landing THEN l.utm_campaign END, NULL, NULL, NULL,
               CASE WHEN is_landing AND l.click_id_type IS NOT NULL THEN 'c' || ev.vid || '-' || ev.k END,
               CASE WHEN is_landing THEN l.click_id_type END,
               CASE WHEN is_conversion THEN '{"formation": "developpeur"}' END,
               'Chrome', '131.0.0', 'Windows', CASE WHEN bot THEN 'bot' ELSE 'desktop' END,
               bot, CASE WHEN bot THEN 'user-agent' END, 'FR', 'Auvergne-Rhône-Alpes', 'Clermont-Ferrand', 'beacon'
        FROM ev
        JOIN landings l ON l.idx = ev.landing
        JOIN pages p ON p.idx = ev.page
        ORDER BY ev.at""")
    # the closed loop: a cost per campaign and day, and an outcome for a third of the leads
    conn.execute("""
        INSERT INTO campaign_costs
        SELECT '', day::DATE, lower(utm_source), lower(utm_medium), lower(utm_campaign), 12.5, now()::TIMESTAMP
        FROM (SELECT DISTINCT utm_source, utm_medium, utm_campaign FROM landings WHERE utm_campaign IS NOT NULL)
        CROSS JOIN range(TIMESTAMP '2026-03-01', TIMESTAMP '2026-10-01', INTERVAL 1 DAY) AS t(day)""")
    conn.execute("""
        INSERT INTO lead_outcomes
        SELECT event_id, CASE WHEN hash(event_id) % 3 = 0 THEN 'inscrit' ELSE 'abandon' END,
               CASE WHEN hash(event_id) % 3 = 0 THEN 3200 END, ts + INTERVAL 10 DAY, now()::TIMESTAMP, 'import'
        FROM event_log WHERE type = 'conversion' AND hash(event_id) % 3 < 2""")
    count = conn.execute("SELECT count(*) FROM event_log").fetchone()[0]  # type: ignore[index]
    conn.execute("CHECKPOINT")
    conn.close()
    print(f"built {count:,} events for {visitors:,} visitors in {time.perf_counter() - started:.1f}s -> {path}")


# --- one measurement, in a child process --------------------------------------------------------------
FLOOR_SQL = ("SELECT count(*) AS visitors, sum(n) AS events, max(last) AS last FROM "
             "(SELECT visitor_id, count(*) AS n, max(ts) AS last FROM event_log GROUP BY visitor_id)")


def reset_peak() -> bool:
    """Reset the process's resident high-water mark (Linux >= 4.0); False where it cannot be done."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def read_peak_mib() -> float:
    """The resident high-water mark since the last reset (or since start)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux gives KiB


def measure(db: str, what: str) -> dict[str, float]:
    """Run one report (or the floor) on db; print its seconds and peak memory as JSON. A report is
    timed between two runs of the floor in the same process: the machine is shared, and its load
    changes from one minute to the next, so each report is compared with the floor of its own moment."""
    from webleads.analytics import reports, sessions
    from webleads.analytics.roi import roi
    from webleads.collector.store import Store

    store = Store(db)
    try:
        sessions.prepare(store)  # in sync: the fingerprint check only
        floors = []
        if what not in ("floor", "sessions"):
            started = time.perf_counter()
            store.query(FLOOR_SQL)
            floors.append(time.perf_counter() - started)
        own_peak = reset_peak()
        started = time.perf_counter()
        if what == "floor":
            rows = store.query(FLOOR_SQL)
        elif what == "sessions":
            sessions.rebuild(store)
            rows = []
        elif what.startswith("attribution:"):
            rows = reports.attribution(store, model=what.split(":", 1)[1], by="channel")
        elif what == "funnel":
            rows = reports.funnel(store, steps=FUNNEL, window="7d")
        elif what == "leads":
            rows = reports.leads(store)
        elif what == "roi":
            rows = roi(store, model="last_non_direct", by="campaign")
        elif what == "outcome_value":
            rows = reports.attribution(store, model="linear", by="channel", outcome="inscrit", value=True)
        else:
            raise SystemExit(f"unknown measurement {what}")
        seconds = time.perf_counter() - started
        peak = read_peak_mib() if own_peak else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        if floors:
            started = time.perf_counter()
            store.query(FLOOR_SQL)
            floors.append(time.perf_counter() - started)
    finally:
        store.close()
    floor = statistics.mean(floors) if floors else seconds
    result = {"seconds": seconds, "peak_mib": peak, "own_peak": own_peak, "rows": len(rows), "floor": floor,
              "ratio": seconds / floor}
    print(json.dumps(result))
    return result


def run_child(db: Path, what: str) -> dict[str, float]:
    proc = subprocess.run([sys.executable, __file__, "--measure", what, "--db", str(db)], capture_output=True,
                          text=True, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"{what} failed:\n{proc.stdout}\n{proc.stderr}")
    return dict(json.loads(proc.stdout.strip().splitlines()[-1]))


def main() -> None:
    parser = argparse.ArgumentParser(description="Time the reports against the floor on 10 M events.")
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--rebuild", action="store_true", help="build the database again even if it exists")
    parser.add_argument("--db", default=None)
    parser.add_argument("--measure", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        measure(args.db, args.measure)
        return
    OUT.mkdir(exist_ok=True)
    db = Path(args.db) if args.db else OUT / f"bench-{args.events}.duckdb"
    if args.rebuild or not db.exists():
        build(db, args.events)
    once = run_child(db, "sessions")
    print(f"sessions (derived table, full rebuild; done once, then kept up to date per visitor): "
          f"{once['seconds']:.2f}s, peak {once['peak_mib']:.0f} MiB")
    names = ["floor"] + [f"attribution:{m}" for m in ("first_touch", "last_touch", "last_non_direct", "linear",
                                                       "position_based", "time_decay", "markov")]
    names += ["funnel", "leads", "roi", "outcome_value"]
    results = {}
    for name in names:
        runs = [run_child(db, name) for _ in range(args.repeat)]
        results[name] = {"seconds": statistics.median(r["seconds"] for r in runs),
                         "floor": statistics.median(r["floor"] for r in runs),
                         "ratio": statistics.median(r["ratio"] for r in runs),
                         "peak_mib": max(r["peak_mib"] for r in runs), "rows": runs[0]["rows"]}
    own = all(r.get("own_peak") for r in [once])
    peak_title = "peak MiB" if own else "proc peak"  # the process's, floor included, where it cannot be reset
    print(f"\n{'report':28} {'seconds':>8} {'floor then':>10} {'x floor':>8} {peak_title:>9}  rows"
          f"  (cores: {os.cpu_count()}, load {os.getloadavg()[0]:.1f})")
    for name, r in results.items():
        print(f"{name:28} {r['seconds']:8.3f} {r['floor']:10.3f} {r['ratio']:8.2f} {r['peak_mib']:9.0f}"
              f"  {int(r['rows'])}")
    worst = max(r["ratio"] for n, r in results.items() if n != "floor")
    print(f"\nslowest report: {worst:.2f}x the floor (goal: 3x); "
          f"highest peak: {max(r['peak_mib'] for r in results.values()):.0f} MiB (goal: under 2048)")


if __name__ == "__main__":
    main()
