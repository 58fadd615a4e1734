"""Non-live ingest (file import, server-side API events): the same validation and enrichment as
beacons, with the event's own timestamp, deduplicated over all time by event id."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from .enrich import Context, Geo, build_row
from .registry import Registry
from .store import Store, utcnow
from .validate import IMPORT_KEYS, Rejected, bad, validate_event

CHUNK = 50_000
UNREADABLE = "bad_value"

log = logging.getLogger("webleads.batch")


@dataclass
class BatchResult:
    accepted: int = 0
    duplicates: int = 0
    rejected: Counter[str] = field(default_factory=Counter)
    examples: dict[str, str] = field(default_factory=dict)  # reason code -> first "line N: reason"

    @property
    def rejected_total(self) -> int:
        return sum(self.rejected.values())


def prepare(record: Any, registry: Registry, ctx: Context, now: datetime, salt: bytes, geo: Geo,
            oldest: datetime) -> tuple[Any, ...]:
    ev = validate_event(record, IMPORT_KEYS)
    site = registry.get(ev.site)
    if site is None:
        raise Rejected(400, "unknown_site", f"site '{ev.site}' is not registered")
    if ev.ts is not None:
        if ev.ts > now + timedelta(minutes=5):
            raise bad("future_ts", "'ts' is in the future")
        if ev.ts < oldest:
            raise bad("old_ts", "'ts' is older than the retention period")
    return build_row(ev, site, Context(ctx.ip, ev.user_agent or ctx.user_agent, ctx.origin), now, salt, geo)


def ingest_records(store: Store, registry: Registry, records: Iterable[tuple[int, Any]], origin: str,
                   retention_months: int = 25, geo: Geo | None = None,
                   progress: Any = None) -> BatchResult:
    """Validate, enrich and store (line number, record) pairs; bad records are counted, not fatal."""
    geo = geo or Geo(None)
    result = BatchResult()
    now = utcnow()
    salt = registry.salt_for(now)
    oldest = now - timedelta(days=int(retention_months * 30.44))
    ctx = Context(ip=None, user_agent=None, origin=origin)
    chunk: list[tuple[Any, ...]] = []

    def flush() -> None:
        if chunk:
            written = store.write(chunk, dedupe_all_time=True)
            result.accepted += written.stored
            result.duplicates += written.duplicates
            if progress:
                progress(result)
            chunk.clear()

    for line, record in records:
        try:
            chunk.append(prepare(record, registry, ctx, now, salt, geo, oldest))
        except Rejected as exc:
            result.rejected[exc.code] += 1
            result.examples.setdefault(exc.code, f"line {line}: {exc.reason}")
        except Exception:  # noqa: BLE001 - a value validation let through: it costs its own line only
            if not result.rejected[UNREADABLE]:
                log.exception("line %s of an %s could not be validated or enriched", line, origin)
            result.rejected[UNREADABLE] += 1
            result.examples.setdefault(UNREADABLE, f"line {line}: a value could not be read (the log says why)")
        if len(chunk) >= CHUNK:
            flush()
    flush()
    return result
