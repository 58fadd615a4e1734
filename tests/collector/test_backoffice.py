"""Campaign costs and lead outcomes from the back office: `webleads cost import`, `webleads outcome
import` and POST /api/v1/outcomes, with bad input reported by line and nothing stored changed."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import httpx

from conftest import ORIGIN, Server, webleads

WHEN = (datetime.utcnow() - timedelta(days=3)).replace(microsecond=0)


def leads_db(db: Path, tmp_path: Path) -> Path:
    """Two leads (conversions with the ids lead-1 and lead-2) imported into the site's database."""
    rows = ["ts,site,type,name,visitor_id,url,event_id"]
    for i in (1, 2):
        rows.append(f"{WHEN.isoformat()},ecloserie,pageview,,v{i},{ORIGIN}/,view-{i}")
        rows.append(f"{(WHEN + timedelta(minutes=2)).isoformat()},ecloserie,conversion,candidater,v{i},"
                    f"{ORIGIN}/candidater,lead-{i}")
    history = tmp_path / "history.csv"
    history.write_text("\n".join(rows) + "\n")
    webleads("import", str(history), db=db)
    return db


def test_costs_are_checked_by_line_and_a_day_imported_again_replaces(site_db: Path, tmp_path: Path) -> None:
    costs = tmp_path / "couts.csv"
    costs.write_text("\ufeffdate,source,medium,campaign,cost,note\n"
                     "2026-11-02,Google,CPC,Formation-Dev,\"12,50\",x\n"
                     "2026-11-03,google,cpc,formation-dev,7.5,\n"
                     "2026-11-31,google,cpc,formation-dev,3,\n"
                     "2026-11-04,google,cpc,formation-dev,-3,\n"
                     "2026-11-05,google,cpc,,3,\n"
                     "2026-11-06,google,cpc,formation-dev,trois,\n", encoding="utf-8")
    out = webleads("cost", "import", str(costs), db=site_db).stdout
    assert "2 cost line(s) stored, 4 rejected" in out
    for words in ("bad_date, e.g. line 4", "bad_cost, e.g. line 5", "missing_campaign, e.g. line 6",
                  "unknown columns left out: note"):
        assert words in out, out
    again = tmp_path / "again.csv"
    again.write_text("date,source,medium,campaign,cost\n2026-11-02,google,cpc,formation-dev,20\n")
    webleads("cost", "import", str(again), db=site_db)
    stored = Server(db=site_db, port=0).query("SELECT day::VARCHAR, source, campaign, cost::DOUBLE FROM campaign_costs "
                                              "ORDER BY day")
    assert stored == [("2026-11-02", "google", "formation-dev", 20.0), ("2026-11-03", "google", "formation-dev", 7.5)]
    for content, words in (("day,cost\n2026-11-02,3\n", "the header must name"),
                           (None, "not UTF-8 text")):
        bad = tmp_path / "bad.csv"
        bad.write_bytes(content.encode() if content else "date,source\n\xe9t\xe9".encode("latin-1"))
        result = webleads("cost", "import", str(bad), db=site_db, check=False)
        assert result.returncode == 1 and words in result.stderr and "Traceback" not in result.stderr
    missing = webleads("cost", "import", str(costs), "--site", "nope", db=site_db, check=False)
    assert missing.returncode == 1 and "no site named 'nope'" in missing.stderr


def test_outcomes_name_unknown_leads_by_line_and_append(site_db: Path, tmp_path: Path) -> None:
    leads_db(site_db, tmp_path)
    file = tmp_path / "suivi.csv"
    file.write_text("lead_id,outcome,value,ts\n"
                    f"lead-1,inscrit,\"2 400,00\",{(WHEN + timedelta(days=1)).isoformat()}\n"
                    "lead-9,inscrit,,\n"
                    "lead-2,,,\n"
                    "lead-2,abandon,beaucoup,\n"
                    f"lead-1,financé,3000,{(WHEN + timedelta(days=2)).isoformat()}\n")
    out = webleads("outcome", "import", str(file), db=site_db).stdout
    assert "2 outcome(s) recorded, 3 rejected" in out
    assert "unknown_lead, e.g. line 3: no lead with id 'lead-9'" in out
    assert "missing_outcome, e.g. line 4" in out and "bad_value, e.g. line 5" in out
    webleads("outcome", "import", str(file), db=site_db)  # appended again: nothing changes in place
    rows = Server(db=site_db, port=0).query(
        "SELECT lead_id, outcome, value::DOUBLE, origin FROM lead_outcomes ORDER BY recorded_at, ts")
    assert rows[:2] == [("lead-1", "inscrit", 2400.0, "import"), ("lead-1", "financé", 3000.0, "import")]
    assert len(rows) == 4


def test_the_api_records_outcomes_from_a_back_office(site_db: Path, tmp_path: Path, make_server: object) -> None:
    leads_db(site_db, tmp_path)
    token = webleads("token", "create", db=site_db).stdout.strip()
    srv: Server = make_server(site_db)  # type: ignore[operator]
    url = srv.url + "/api/v1/outcomes"
    auth = {"Authorization": f"Bearer {token}"}
    assert httpx.post(url, json={"lead_id": "lead-1", "outcome": "inscrit"}, timeout=10).status_code == 401
    answer = httpx.post(url, json=[{"lead_id": "lead-1", "outcome": "inscrit", "value": 1200},
                                   {"lead_id": "nope", "outcome": "inscrit"},
                                   {"lead_id": "lead-2", "outcome": "abandon", "ts": "0001-01-01T00:00:00+01:00"}],
                        headers=auth, timeout=10)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["accepted"] == 1 and body["rejected"]["unknown_lead"] == 1 and "line 2" in body["examples"][
        "unknown_lead"]
    assert sum(body["rejected"].values()) == 2
    refused = httpx.post(url, json={"lead_id": "nope", "outcome": "x"}, headers=auth, timeout=10)
    assert refused.status_code == 400 and refused.headers["x-webleads-reason"] == "unknown_lead"
    assert httpx.post(url, content=b"{not json", headers=auth, timeout=10).status_code == 400
    srv.stop()
    assert srv.query("SELECT lead_id, outcome, value::DOUBLE, origin FROM lead_outcomes") == [
        ("lead-1", "inscrit", 1200.0, "api")]


def test_the_privacy_notice_speaks_of_outcomes_once_they_are_in_use(site_db: Path, tmp_path: Path) -> None:
    leads_db(site_db, tmp_path)
    for lang, words in (("fr", "devient alors une donnée personnelle"), ("en", "then becomes personal data")):
        before = webleads("privacy-notice", "--site", "ecloserie", "--lang", lang, db=site_db).stdout
        assert words not in before
    file = tmp_path / "suivi.csv"
    file.write_text("lead_id,outcome,value\nlead-1,inscrit,1500\n")
    webleads("outcome", "import", str(file), db=site_db)
    fr = webleads("privacy-notice", "--site", "ecloserie", db=site_db).stdout
    assert "devient alors une donnée personnelle" in fr
    assert "ne conserve que l'identifiant de la demande, ce qu'elle est devenue, son montant et sa date" in fr
    en = webleads("privacy-notice", "--site", "ecloserie", "--lang", "en", db=site_db).stdout
    assert "then becomes personal data, handled on the same legal basis as your application" in en
    # another site's notice says nothing of outcomes it does not use
    webleads("site", "add", "fablab", "--origin", "https://fablab.test", db=site_db)
    other = webleads("privacy-notice", "--site", "fablab", db=site_db).stdout
    assert "donnée personnelle" not in other
