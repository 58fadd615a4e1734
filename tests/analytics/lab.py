"""Small hand-made journeys for the analytics tests, written through the real validation and enrichment.

Lab(path) is a real DuckDB file behind a collector Store with the site 'ecloserie'; visit() and convert()
queue import records, commit() sends them through collector/batch.py:ingest_records. memory_source()
builds the same rows into an in-memory DuckDB connection (faster, for property tests).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb

from webleads.analytics import reports
from webleads.collector.batch import ingest_records
from webleads.collector.enrich import Context, Geo, SiteConfig, build_row
from webleads.collector.registry import Registry
from webleads.collector.store import Store, migrate, rows_to_arrow, utcnow
from webleads.collector.validate import IMPORT_KEYS, validate_event

SITE = "ecloserie"
ORIGIN = "https://www.ecloserie.test"
UA = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
# A fixed instant well inside the retention period, at 10:00 UTC.
T0 = (utcnow() - timedelta(days=200)).replace(hour=10, minute=0, second=0, microsecond=0)

# How a landing arrives, by the channel it gives.
ARRIVAL: dict[str, dict[str, str]] = {
    "Email": {"query": "utm_source=newsletter&utm_medium=email&utm_campaign=nov"},
    "Organic Search": {"referrer": "https://www.google.fr/"},
    "Organic Social": {"referrer": "https://l.facebook.com/"},
    "Paid Search": {"query": "gclid=abc123"},
    "Referral": {"referrer": "https://www.partenaire.test/agenda"},
    "Direct": {},
    "Unassigned": {"query": "utm_source=flyer&utm_medium=qr"},
}


def record(visitor: str, at: datetime, kind: str = "pageview", page: str = "/", via: str | None = None,
           query: str | None = None, referrer: str | None = None, name: str | None = None,
           props: dict[str, Any] | None = None, event_id: str | None = None, site: str = SITE,
           bot: bool = False) -> dict[str, Any]:
    how = ARRIVAL[via] if via else {}
    query = query if query is not None else how.get("query")
    referrer = referrer if referrer is not None else how.get("referrer")
    rec: dict[str, Any] = {"ts": at.isoformat(), "site": site, "type": kind, "visitor_id": visitor,
                           "url": f"{ORIGIN}{page}" + (f"?{query}" if query else ""), "user_agent": UA}
    if referrer:
        rec["referrer"] = referrer
    if name:
        rec["name"] = name
    if props:
        rec["props"] = props
    if event_id:
        rec["event_id"] = event_id
    if bot:
        rec["bot"] = True
    return rec


class Lab:
    def __init__(self, path: Path, **store_options: Any) -> None:
        self.store = Store(str(path), **store_options)
        self.registry = Registry(self.store)
        if self.registry.get(SITE) is None:
            self.registry.add_site(SITE, [ORIGIN])
        self.pending: list[dict[str, Any]] = []

    def visit(self, visitor: str, at: datetime, via: str | None = None, page: str = "/", **kw: Any) -> Lab:
        self.pending.append(record(visitor, at, page=page, via=via, **kw))
        return self

    def convert(self, visitor: str, at: datetime, name: str = "candidater", **kw: Any) -> Lab:
        self.pending.append(record(visitor, at, kind="conversion", page="/candidater", name=name, **kw))
        return self

    def verdict(self, visitor: str, at: datetime, of: str, status: str, **kw: Any) -> Lab:
        """A form plugin's verdict (a status event) on the conversion whose event_id is `of`."""
        self.pending.append(record(visitor, at, kind="status", page="/candidater", name=status, props={"of": of},
                                   **kw))
        return self

    def commit(self, origin: str = "import") -> Any:
        """Store the pending records, as imported lines or (origin "beacon") as live events would be."""
        result = ingest_records(self.store, self.registry, enumerate(self.pending, start=1), origin=origin)
        assert result.rejected_total == 0, result.examples
        self.pending = []
        return result

    def credits(self, model: str, by: str = "channel", **options: Any) -> dict[str, float]:
        if self.pending:
            self.commit()
        rows = reports.attribution(self.store, model=model, by=by, **options)
        return {r[by]: round(r["conversions"], 6) for r in rows}

    def query(self, sql: str, params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        return self.store.query(sql, params)

    def close(self) -> None:
        self.store.close()


def memory_source(records: list[dict[str, Any]]) -> duckdb.DuckDBPyConnection:
    """An in-memory database holding these import records (validated and enriched as on import)."""
    conn = duckdb.connect()
    migrate(conn)
    conn.execute("INSERT INTO sites (name, origins, allowed_params, created_at) VALUES ($n, [$o], [], $t)",
                 {"n": SITE, "o": ORIGIN, "t": utcnow()})
    site = SiteConfig(SITE, (ORIGIN,))
    now = utcnow()
    rows = [build_row(validate_event(r, IMPORT_KEYS), site, Context(None, UA, "import"), now, b"salt" * 8,
                      Geo(None)) for r in records]
    conn.register("new_rows", rows_to_arrow(rows))
    conn.execute("INSERT INTO event_log SELECT * FROM new_rows")
    conn.unregister("new_rows")
    return conn
