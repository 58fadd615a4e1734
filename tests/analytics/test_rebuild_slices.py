"""A full rebuild cut into slices of visitors gives the same derived rows as one built in one go."""

from __future__ import annotations

import random
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from lab import ARRIVAL, T0, Lab

from webleads.analytics import sessions

TABLES = {
    "sessions": "SELECT * FROM sessions",
    "conversions": "SELECT * FROM conversions",
    "referrer_classes": "SELECT * FROM referrer_classes",
    "source_classes": "SELECT * FROM source_classes",
}


def fill(lab: Lab, visitors: int, seed: int = 7) -> None:
    """Journeys of every kind: several sources, gaps around 30 minutes, conversions (some rejected by
    a verdict sent under another visitor id), bots, a second site."""
    rnd = random.Random(seed)
    lab.registry.add_site("autre", ["https://autre.test"])
    conversions = []
    for v in range(visitors):
        visitor = f"v{v}"
        site = "autre" if v % 11 == 0 else "ecloserie"
        at = T0 + timedelta(minutes=rnd.randrange(0, 60 * 24 * 20))
        bot = rnd.random() < 0.05
        for _ in range(rnd.randrange(1, 12)):
            at += timedelta(minutes=rnd.choice([1, 5, 29, 30, 31, 600]))
            if site == "ecloserie" and rnd.random() < 0.08:
                event_id = f"c{v}-{len(conversions)}"
                lab.convert(visitor, at, event_id=event_id, bot=bot)
                conversions.append((visitor, at, event_id))
            else:
                via = rnd.choice([None, None, *ARRIVAL])
                lab.visit(visitor, at, via=via, page=rnd.choice(["/", "/formation", "/candidater"]),
                          site=site, bot=bot)
    for visitor, at, event_id in conversions[::3]:
        other = visitor if rnd.random() < 0.5 else visitor + "-next-day"
        lab.verdict(other, at + timedelta(minutes=1), of=event_id, status=rnd.choice(["sent", "spam", "failed"]))
    lab.commit()


def snapshot(lab: Lab) -> dict[str, list[tuple[Any, ...]]]:
    out = {}
    for name, query in TABLES.items():
        rows = lab.store.query(query)
        out[name] = sorted(tuple(sorted((k, repr(v)) for k, v in r.items())) for r in rows)
    return out


def test_a_rebuild_in_slices_equals_one_in_one_go(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    lab = Lab(tmp_path / "slices.duckdb")
    try:
        fill(lab, visitors=600)
        events = lab.store.query("SELECT count(*) AS n FROM event_log")[0]["n"]
        assert events > 2000
        monkeypatch.setattr(sessions, "SLICE_EVENTS", events + 1)
        sessions.rebuild(lab.store)
        whole = snapshot(lab)
        assert len(whole["sessions"]) > 1000 and len(whole["conversions"]) > 50
        assert any(r for r in lab.store.query("SELECT status FROM conversions WHERE status <> 'submitted'"))

        monkeypatch.setattr(sessions, "SLICE_EVENTS", 400)
        assert lab.store.run_write(sessions._slice_count) >= 5
        sessions.rebuild(lab.store)
        assert snapshot(lab) == whole
    finally:
        lab.close()
