"""The quiet-site alarm: a site whose pages stop sending events (a theme update that dropped the tag,
a blocked collector address) is noticed, and said once when it goes quiet and once when it comes back.

A site is quiet when its newest live event (a beacon or pixel, not a bot's) is older than its threshold:
twice the longest quiet spell of the last four weeks, and at least `min_quiet` (24 hours by default), so
that a site busy every day but silent each night is not called quiet at dawn. A site that never sent a
live event, and the demo's site, are never quiet. The state is kept in `site_alerts`, so that a restart
does not repeat an alert already sent.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from .rows import utcnow

log = logging.getLogger("webleads.quiet")

HISTORY = timedelta(days=28)
ALERT_TIMEOUT_SECONDS = 30

ACTIVITY_SQL = """
WITH live AS (
    SELECT site, date_trunc('minute', received_at) AS minute, max(received_at) AS last
    FROM event_log
    WHERE received_at >= $since AND origin IN ('beacon', 'pixel') AND NOT is_bot
    GROUP BY ALL
), gaps AS (
    SELECT site, last, minute - lag(minute) OVER (PARTITION BY site ORDER BY minute) AS gap FROM live
)
SELECT s.name AS site, max(g.last) AS last_event, max(g.gap) AS longest_gap
FROM sites s LEFT JOIN gaps g ON g.site = s.name
WHERE NOT s.demo
GROUP BY s.name
ORDER BY s.name
"""
# A site whose last live event is older than the four weeks above.
LAST_EVER_SQL = """
SELECT max(received_at) AS last_event FROM event_log
WHERE site = $site AND origin IN ('beacon', 'pixel') AND NOT is_bot
"""


@dataclass(frozen=True)
class Activity:
    site: str
    last_event: datetime | None  # naive UTC; None: no live event ever
    threshold: timedelta
    quiet: bool

    def age(self, now: datetime) -> timedelta | None:
        return None if self.last_event is None else now - self.last_event

    def describe(self, now: datetime) -> str:
        if self.last_event is None:
            return f"site {self.site}: no event from its pages yet (is the tag on them?)"
        age = _span(now - self.last_event)
        text = f"site {self.site}: last event {self.last_event:%Y-%m-%d %H:%M} UTC ({age} ago)"
        if self.quiet:
            text += (f", quiet for longer than {_span(self.threshold)}: is the tag still on the pages "
                     "(a theme update may have removed it)?")
        return text


def _span(delta: timedelta) -> str:
    seconds = max(0, int(delta.total_seconds()))
    if seconds >= 2 * 86400:
        return f"{seconds // 86400} days"
    if seconds >= 3600:
        return f"{seconds // 3600} h"
    return f"{seconds // 60} min"


def activity(store: Any, now: datetime, min_quiet: timedelta) -> list[Activity]:
    """Each registered site's last live event and whether it is quiet at `now` (naive UTC)."""
    found = []
    for row in store.query(ACTIVITY_SQL, {"since": now - HISTORY}):
        last = row["last_event"]
        if last is None:
            last = store.query(LAST_EVER_SQL, {"site": row["site"]})[0]["last_event"]
        gap = row["longest_gap"] or timedelta(0)
        threshold = max(min_quiet, 2 * gap)
        found.append(Activity(row["site"], last, threshold, last is not None and now - last > threshold))
    return found


class QuietWatch:
    """Checks the sites and sends the alerts (a command, a webhook, a log line) on each change."""

    def __init__(self, store: Any, min_quiet: timedelta, command: str = "", webhook: str = "",
                 clock: Callable[[], datetime] = utcnow) -> None:
        self.store = store
        self.min_quiet = min_quiet
        self.command = command
        self.webhook = webhook
        self.clock = clock
        self.latest: list[Activity] = []
        self.checked_at: datetime | None = None

    def check(self) -> list[Activity]:
        """Look at every site now; alert on the ones that went quiet or came back since the last alert."""
        now = self.clock()
        sites = activity(self.store, now, self.min_quiet)
        known = {r["site"]: bool(r["quiet"]) for r in self.store.query("SELECT site, quiet FROM site_alerts")}
        for site in sites:
            if site.quiet != known.get(site.site, False):
                self._alert(site, now)
                self.store.run_write(lambda conn, s=site: conn.execute(
                    "INSERT OR REPLACE INTO site_alerts VALUES ($site, $quiet, $since)",
                    {"site": s.site, "quiet": s.quiet, "since": now}))
        self.latest, self.checked_at = sites, now
        return sites

    def _alert(self, site: Activity, now: datetime) -> None:
        state = "quiet" if site.quiet else "back"
        if site.quiet:
            message = site.describe(now)
        else:
            message = f"site {site.site}: events are arriving again (last at {site.last_event:%Y-%m-%d %H:%M} UTC)"
        (log.warning if site.quiet else log.info)("%s", message)
        last = site.last_event.isoformat() if site.last_event else ""
        if self.command:
            env = {**os.environ, "WEBLEADS_ALERT": state, "WEBLEADS_SITE": site.site, "WEBLEADS_LAST_EVENT": last,
                   "WEBLEADS_MESSAGE": message}
            try:
                done = subprocess.run(self.command, shell=True, env=env, timeout=ALERT_TIMEOUT_SECONDS,  # noqa: S602
                                      capture_output=True, check=False)
            except (OSError, subprocess.TimeoutExpired) as exc:
                log.error("alert command failed: %s", exc)
            else:
                if done.returncode:
                    log.error("alert command exited with %d: %s", done.returncode,
                              done.stderr.decode(errors="replace").strip()[:300])
        if self.webhook:
            body = json.dumps({"site": site.site, "state": state, "last_event": last, "message": message}).encode()
            request = urllib.request.Request(self.webhook, data=body, method="POST",
                                             headers={"Content-Type": "application/json"})
            try:
                with urllib.request.urlopen(request, timeout=ALERT_TIMEOUT_SECONDS):  # noqa: S310 - the admin's URL
                    pass
            except OSError as exc:
                log.error("alert webhook %s failed: %s", self.webhook, exc)
