"""Declared attribution: the answer to "how did you hear of us?" against the tracked channel, through
the real `webleads` command and the API."""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime, timedelta
from pathlib import Path

import httpx

from conftest import ORIGIN, Server, webleads

WHEN = (datetime.utcnow() - timedelta(days=3)).replace(microsecond=0)


def journey(visitor: str, referrer: str, answer: str | None, minutes: int) -> list[dict[str, object]]:
    at = WHEN + timedelta(minutes=minutes)
    props = {"formation": "dev"} | ({"connu": answer} if answer is not None else {})
    return [{"ts": at.isoformat(), "site": "ecloserie", "type": "pageview", "visitor_id": visitor,
             "url": ORIGIN + "/", "referrer": referrer, "event_id": f"{visitor}-view"},
            {"ts": (at + timedelta(minutes=2)).isoformat(), "site": "ecloserie", "type": "conversion",
             "name": "candidater", "visitor_id": visitor, "url": ORIGIN + "/candidater", "props": props,
             "event_id": f"{visitor}-lead"}]


def test_declared_answers_against_the_tracked_channel(site_db: Path, tmp_path: Path, make_server: object) -> None:
    events = (journey("a", "", "Affiche à la mairie", 0) + journey("b", "", "  affiche à la MAIRIE ", 5)
              + journey("c", "", "Affiche à la mairie", 10) + journey("d", "https://www.google.fr/", "Google", 15)
              + journey("e", "", None, 20) + journey("f", "", "", 25))
    file = tmp_path / "history.jsonl"
    file.write_text("\n".join(json.dumps(e) for e in events) + "\n")
    webleads("import", str(file), db=site_db)
    out = webleads("report", "declared", "--field", "connu", "--format", "csv", db=site_db).stdout
    rows = [(r["declared"], r["channel"], r["leads"]) for r in csv.DictReader(io.StringIO(out))]
    assert rows == [("Affiche à la mairie", "Direct", "3"), ("(no answer)", "Direct", "2"),
                    ("Google", "Organic Search", "1")]
    silent = webleads("report", "declared", "--field", "niveau", db=site_db).stderr  # notes, when piped
    assert "No lead answered the field 'niveau'" in silent
    bad = webleads("report", "declared", "--field", "x'); drop", db=site_db, check=False)
    assert bad.returncode == 1 and "form field's name" in bad.stderr and "Traceback" not in bad.stderr

    token = webleads("token", "create", db=site_db).stdout.strip()
    srv: Server = make_server(site_db)  # type: ignore[operator]
    api = srv.url + "/api/v1/reports/declared"
    answer = httpx.get(api, params={"field": "connu"}, headers={"Authorization": f"Bearer {token}"}, timeout=30)
    assert answer.status_code == 200 and answer.json()["rows"][0] == {"declared": "Affiche à la mairie",
                                                                      "channel": "Direct", "leads": 3}
    missing = httpx.get(api, headers={"Authorization": f"Bearer {token}"}, timeout=30)
    assert missing.status_code == 400 and missing.json()["error"] == "missing_field"
