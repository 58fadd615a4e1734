"""What the running collector does besides answering: /metrics, /opt-out (collector/optout.py), the daily purge and a
periodic summary of rejections (one log line per reason, with counts, never one line per hit)."""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
from collections.abc import Callable
from datetime import datetime, time, timedelta
from pathlib import Path
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from . import ops, optout
from .journal import SUFFIX as JOURNAL_SUFFIX
from .quiet import QuietWatch
from .registry import check_token
from .rows import utcnow
from .shortlinks import Scans
from .writer import COMMIT_BUCKETS

log = logging.getLogger("webleads.collector")

PURGE_EVERY = 24 * 3600
SUMMARY_EVERY = 60
SCANS_EVERY = 2  # seconds between writes of the short links' scans
QUIET_FIRST_CHECK = 2  # seconds after start: a site that went quiet while the collector was down is said at once
# The old daily salt is deleted this long after midnight UTC (a margin for a clock read a moment
# early; an early wake-up finds nothing to delete and sleeps again until midnight).
SALT_MARGIN = 1.0


def _is_loopback(host: str | None) -> bool:
    try:
        return host is not None and ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _bytes(paths: list[Path]) -> int:
    """Their total size; a file gone meanwhile (a journal segment just moved in) counts nothing."""
    total = 0
    for path in paths:
        with contextlib.suppress(OSError):
            total += path.stat().st_size
    return total


async def metrics(request: Request) -> Response:
    """Prometheus text format. Open to local clients (a loopback peer with no X-Forwarded-For, so
    requests relayed by a local reverse proxy do not count as local); others need an API token."""
    c = request.app.state.collector
    peer = request.client.host if request.client else None
    local = _is_loopback(peer) and "x-forwarded-for" not in request.headers
    auth = request.headers.get("authorization", "")
    token = auth[7:] if auth.lower().startswith("bearer ") else None
    if not local and not await run_in_threadpool(check_token, c.store, token):
        return PlainTextResponse("metrics need a Bearer token (webleads token create) from a non-local address\n",
                                 status_code=401)
    stats = c.store.stats
    db = Path(c.store.path)
    journal = sorted(Path(str(db) + JOURNAL_SUFFIX).glob("*.jsonl"))
    size = _bytes([Path(str(db) + suffix) for suffix in ("", ".wal")] + journal)
    lines = [
        "# HELP webleads_events_accepted_total Events committed (to the journal, then the database).",
        "# TYPE webleads_events_accepted_total counter",
        f"webleads_events_accepted_total {stats['events']}",
        "# HELP webleads_events_duplicate_total Events acknowledged but not stored again (known event id).",
        "# TYPE webleads_events_duplicate_total counter",
        f"webleads_events_duplicate_total {stats['duplicates']}",
        "# HELP webleads_events_rejected_total Requests refused, by reason.",
        "# TYPE webleads_events_rejected_total counter",
        *[f'webleads_events_rejected_total{{reason="{reason}"}} {n}' for reason, n in sorted(c.rejections.items())],
        "# HELP webleads_enrich_failures_total Events stored without what an enrichment step adds (it failed).",
        "# TYPE webleads_enrich_failures_total counter",
        *[f'webleads_enrich_failures_total{{step="{step}"}} {n}' for step, n in sorted(c.enrich_failures.items())],
        "# HELP webleads_events_dropped_total Events answered as usual but stored nowhere, by reason: dnt and gpc "
        "(the request's DNT: 1 or Sec-GPC: 1), no_consent (a consent-required site's event without consent), "
        "opt_out_check (the opt-out page's test visit from a browser still counted).",
        "# TYPE webleads_events_dropped_total counter",
        *[f'webleads_events_dropped_total{{reason="{reason}"}} {n}' for reason, n in sorted(c.dropped.items())],
        "# HELP webleads_bots_flagged_total Events flagged as bots (stored, excluded from reports).",
        "# TYPE webleads_bots_flagged_total counter",
        f"webleads_bots_flagged_total {c.bots_flagged}",
        "# HELP webleads_queue_depth Events waiting for the writer.",
        "# TYPE webleads_queue_depth gauge",
        f"webleads_queue_depth {c.store.queue_depth}",
        "# HELP webleads_commit_batches_total Batches the writer committed to the journal (group commits).",
        "# TYPE webleads_commit_batches_total counter",
        f"webleads_commit_batches_total {stats['batches']}",
        "# HELP webleads_commit_seconds_total Time spent writing batches.",
        "# TYPE webleads_commit_seconds_total counter",
        f"webleads_commit_seconds_total {stats['commit_seconds_total']:.6f}",
        "# HELP webleads_commit_duration_seconds Time each batch took to write to the journal, its sync included.",
        "# TYPE webleads_commit_duration_seconds histogram",
        *[f'webleads_commit_duration_seconds_bucket{{le="{bound}"}} {n}'
          for bound, n in zip(COMMIT_BUCKETS, stats["commit_buckets"], strict=True)],
        f'webleads_commit_duration_seconds_bucket{{le="+Inf"}} {stats["batches"]}',
        f"webleads_commit_duration_seconds_sum {stats['commit_seconds_total']:.6f}",
        f"webleads_commit_duration_seconds_count {stats['batches']}",
        "# HELP webleads_idle_checkpoints_total Checkpoints with the merge of row groups, made at quiet moments.",
        "# TYPE webleads_idle_checkpoints_total counter",
        f"webleads_idle_checkpoints_total {stats['idle_checkpoints']}",
        "# HELP webleads_checkpoints_total Checkpoints made in the background once the log passed 64 MB.",
        "# TYPE webleads_checkpoints_total counter",
        f"webleads_checkpoints_total {stats['checkpoints']}",
        "# HELP webleads_checkpoint_seconds_total Time spent in those checkpoints (no commit waits for them).",
        "# TYPE webleads_checkpoint_seconds_total counter",
        f"webleads_checkpoint_seconds_total {stats['checkpoint_seconds_total']:.6f}",
        "# HELP webleads_moves_total Moves of the journal's batches into the database (one transaction each).",
        "# TYPE webleads_moves_total counter",
        f"webleads_moves_total {stats['moves']}",
        "# HELP webleads_move_seconds_total Time spent in those moves (no request waits for them).",
        "# TYPE webleads_move_seconds_total counter",
        f"webleads_move_seconds_total {stats['move_seconds_total']:.6f}",
        "# HELP webleads_journal_events Events acknowledged and not yet moved into the database.",
        "# TYPE webleads_journal_events gauge",
        f"webleads_journal_events {c.store.journal_events}",
        "# HELP webleads_writer_load Share of the writer's time spent writing (a 2-second average).",
        "# TYPE webleads_writer_load gauge",
        f"webleads_writer_load {c.store.load:.3f}",
        "# HELP webleads_last_commit_batch_events Events in the last batch written.",
        "# TYPE webleads_last_commit_batch_events gauge",
        f"webleads_last_commit_batch_events {stats['last_batch_events']}",
        "# HELP webleads_last_commit_seconds Duration of the last batch write (to the journal).",
        "# TYPE webleads_last_commit_seconds gauge",
        f"webleads_last_commit_seconds {stats['last_commit_seconds']:.6f}",
        "# HELP webleads_database_bytes Size of the DuckDB file, its write-ahead log and the journal.",
        "# TYPE webleads_database_bytes gauge",
        f"webleads_database_bytes {size}",
    ]
    watch = getattr(c, "quiet", None)
    if watch is not None and watch.checked_at is not None:
        now = utcnow()
        lines += ["# HELP webleads_last_event_age_seconds Age of each site's newest event from its pages "
                  "(beacon or pixel, not a bot), at the last check.",
                  "# TYPE webleads_last_event_age_seconds gauge"]
        lines += [f'webleads_last_event_age_seconds{{site="{a.site}"}} {age.total_seconds():.0f}'
                  for a in watch.latest if (age := a.age(now)) is not None]
        lines += ["# HELP webleads_site_quiet 1 when a site is quiet for longer than its threshold (see the README).",
                  "# TYPE webleads_site_quiet gauge"]
        lines += [f'webleads_site_quiet{{site="{a.site}"}} {int(a.quiet)}' for a in watch.latest]
    fronts = getattr(request.app.state, "fronts", None)
    if fronts is not None:
        lines += [
            "# HELP webleads_front_processes Front processes answering the public port.",
            "# TYPE webleads_front_processes gauge",
            f"webleads_front_processes {fronts.alive}",
            "# HELP webleads_front_restarts_total Front processes started again after exiting on their own.",
            "# TYPE webleads_front_restarts_total counter",
            f"webleads_front_restarts_total {fronts.restarts}",
        ]
    return PlainTextResponse("\n".join(lines) + "\n", media_type="text/plain; version=0.0.4")


def routes() -> list[BaseRoute]:
    return [Route("/metrics", metrics, methods=["GET"]), *optout.routes()]


async def _every(seconds: float, first: float, job: Any) -> None:
    await asyncio.sleep(first)
    while True:
        try:
            await job()
        except Exception:  # a housekeeping failure is logged, and retried next round
            log.exception("housekeeping job %s failed", getattr(job, "__name__", job))
        await asyncio.sleep(seconds)


def seconds_to_midnight(now: datetime) -> float:
    """Seconds from `now` (naive UTC) to the next midnight UTC."""
    return (datetime.combine(now.date() + timedelta(days=1), time()) - now).total_seconds()


@contextlib.asynccontextmanager
async def background(collector: Any, clock: Callable[[], datetime] = utcnow) -> Any:
    """Deletes the salts older than yesterday (at start, then just after each midnight UTC: a salt
    never outlives its two days, even without traffic); runs the daily purge (first one a minute
    after start) and the rejection summary. `clock` gives naive UTC time (a test moves it)."""
    last_seen: dict[str, int] = {}

    async def forget_salts() -> None:
        deleted = await run_in_threadpool(collector.registry.forget_old_salts, clock())
        if deleted:
            log.info("deleted %d daily salt(s) older than yesterday", deleted)

    async def salt_loop() -> None:
        while True:
            await asyncio.sleep(seconds_to_midnight(clock()) + SALT_MARGIN)
            try:
                await forget_salts()
            except Exception:  # logged, and tried again at the next midnight
                log.exception("deleting old daily salts failed")

    async def purge_job() -> None:
        counts = await run_in_threadpool(ops.purge, collector.store, collector.settings.retention_months)
        if counts:
            log.info("retention purge removed %s", ", ".join(f"{s}: {n} events" for s, n in counts.items()))

    s = collector.settings
    watch = collector.quiet = QuietWatch(collector.store, timedelta(hours=s.quiet_hours_min), s.alert_command,
                                         s.alert_webhook)

    async def quiet_job() -> None:
        await run_in_threadpool(watch.check)

    scans = collector.scans = Scans()

    async def scans_job() -> None:
        await run_in_threadpool(scans.flush, collector.store)

    async def summary_job() -> None:
        for reason, n in sorted(collector.rejections.items()):
            new = n - last_seen.get(reason, 0)
            if new:
                log.warning("rejected %d request(s) in the last minute: %s", new, reason)
            last_seen[reason] = n

    await forget_salts()
    tasks = [asyncio.create_task(salt_loop()),
             asyncio.create_task(_every(PURGE_EVERY, 60, purge_job)),
             asyncio.create_task(_every(SUMMARY_EVERY, SUMMARY_EVERY, summary_job)),
             asyncio.create_task(_every(s.quiet_check_seconds, QUIET_FIRST_CHECK, quiet_job)),
             asyncio.create_task(_every(SCANS_EVERY, SCANS_EVERY, scans_job))]
    try:
        yield
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await summary_job()
        await scans_job()
