"""The closed loop in the reports: leads' outcomes (latest wins), attribution by outcome and by value, and
the return on campaign costs, through the real `webleads` command and the API."""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime, timedelta
from pathlib import Path

import httpx

from conftest import ORIGIN, Server, webleads

DAY = (datetime.utcnow() - timedelta(days=5)).replace(hour=10, minute=0, second=0, microsecond=0)


def journey(lead: str, query: str, minutes: int) -> list[dict[str, object]]:
    at = DAY + timedelta(minutes=minutes)
    return [{"ts": at.isoformat(), "site": "ecloserie", "type": "pageview", "visitor_id": f"v-{lead}",
             "url": f"{ORIGIN}/formation{query}", "event_id": f"{lead}-view"},
            {"ts": (at + timedelta(minutes=3)).isoformat(), "site": "ecloserie", "type": "conversion",
             "name": "candidater", "visitor_id": f"v-{lead}", "url": ORIGIN + "/candidater", "event_id": lead}]


def csv_rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def setup(db: Path, tmp_path: Path) -> None:
    ads = "?utm_source=google&utm_medium=cpc&utm_campaign=formation-dev"
    poster = "?utm_source=mairie&utm_medium=affiche&utm_campaign=portes-ouvertes"
    events = journey("lead-a", ads, 0) + journey("lead-b", ads, 10) + journey("lead-c", poster, 20) + journey(
        "lead-d", "", 30)
    (tmp_path / "events.jsonl").write_text("\n".join(json.dumps(e) for e in events) + "\n")
    webleads("import", str(tmp_path / "events.jsonl"), db=db)
    day = DAY.date().isoformat()
    (tmp_path / "costs.csv").write_text("date,source,medium,campaign,cost\n"
                                        f"{day},google,cpc,formation-dev,100\n"
                                        f"{day},mairie,affiche,portes-ouvertes,30\n"
                                        f"{day},radio,audio,spot,50\n")
    webleads("cost", "import", str(tmp_path / "costs.csv"), db=db)
    later, latest = (DAY + timedelta(days=1)).isoformat(), (DAY + timedelta(days=2)).isoformat()
    (tmp_path / "outcomes.csv").write_text("lead_id,outcome,value,ts\n"
                                           f"lead-a,inscrit,1000,{later}\n"
                                           f"lead-b,inscrit,,{latest}\n"
                                           f"lead-b,abandon,,{later}\n"  # older: lead-b is inscrit
                                           f"lead-c,inscrit,3000,{later}\n"
                                           f"lead-d,abandon,,{later}\n")
    webleads("outcome", "import", str(tmp_path / "outcomes.csv"), db=db)


def test_outcomes_in_leads_attribution_and_roi(site_db: Path, tmp_path: Path, make_server: object) -> None:
    setup(site_db, tmp_path)
    leads = {r["lead_id"]: (r["outcome"], r["value"]) for r in csv_rows(
        webleads("report", "leads", "--format", "csv", db=site_db).stdout)}
    assert leads == {"lead-a": ("inscrit", "1000.0"), "lead-b": ("inscrit", ""), "lead-c": ("inscrit", "3000.0"),
                     "lead-d": ("abandon", "")}

    enrolled = csv_rows(webleads("report", "attribution", "--model", "last_touch", "--by", "campaign", "--outcome",
                                 "inscrit", "--format", "csv", db=site_db).stdout)
    assert [(r["campaign"], r["conversions"]) for r in enrolled] == [("formation-dev", "2.0"),
                                                                       ("portes-ouvertes", "1.0")]
    valued = csv_rows(webleads("report", "attribution", "--model", "last_touch", "--by", "campaign", "--value",
                               "--format", "csv", db=site_db).stdout)
    assert [(r["campaign"], r["value"], r["share"]) for r in valued][:2] == [("portes-ouvertes", "3000.0", "0.75"),
                                                                              ("formation-dev", "1000.0", "0.25")]

    by_campaign = {r["campaign"]: r for r in csv_rows(webleads(
        "report", "roi", "--model", "last_touch", "--by", "campaign", "--format", "csv", db=site_db).stdout)}
    assert by_campaign["formation-dev"] == {"campaign": "formation-dev", "cost": "100.0", "conversions": "2.0",
                                            "cost_per_conversion": "50.0", "value": "1000.0", "roas": "10.0"}
    assert by_campaign["spot"]["cost_per_conversion"] == "" and by_campaign["spot"]["roas"] == "0.0"
    assert by_campaign["(not set)"]["cost"] == "0.0" and by_campaign["(not set)"]["roas"] == ""
    by_channel = {r["channel"]: r for r in csv_rows(webleads(
        "report", "roi", "--model", "linear", "--by", "channel", "--outcome", "inscrit", "--format", "csv",
        db=site_db).stdout)}
    assert by_channel["Paid Search"]["cost"] == "100.0" and by_channel["Paid Search"]["conversions"] == "2.0"
    assert by_channel["Offline"]["cost"] == "30.0" and by_channel["Offline"]["roas"] == "100.0"
    assert by_channel["Audio"]["conversions"] == "0.0"
    refused = webleads("report", "roi", "--model", "linear", "--by", "term", db=site_db, check=False)
    assert refused.returncode == 2 and "Traceback" not in refused.stderr

    token = webleads("token", "create", db=site_db).stdout.strip()
    srv: Server = make_server(site_db)  # type: ignore[operator]
    auth = {"Authorization": f"Bearer {token}"}
    api = httpx.get(srv.url + "/api/v1/reports/roi", params={"model": "last_touch", "by": "campaign"},
                    headers=auth, timeout=30)
    assert api.status_code == 200
    assert {r["campaign"]: r["roas"] for r in api.json()["rows"]}["portes-ouvertes"] == 100.0
    bad = httpx.get(srv.url + "/api/v1/reports/roi", params={"model": "last_touch", "by": "term"}, headers=auth,
                    timeout=30)
    assert bad.status_code == 400 and bad.json()["error"] == "bad_dimension"
    valued_api = httpx.get(srv.url + "/api/v1/reports/attribution", params={"model": "first_touch", "value": "1",
                                                                           "outcome": "inscrit"},
                           headers=auth, timeout=30)
    assert valued_api.status_code == 200 and sum(r["value"] for r in valued_api.json()["rows"]) == 4000.0
