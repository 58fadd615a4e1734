"""Sites and tokens in the lake, shared by every collector."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from webleads.collector import lake
from webleads.collector.lake_shared import LakeSite, add_site, check_token, create_token, remove_site, sites

WORKER = str(Path(__file__).with_name("worker.py"))


def test_collectors_adding_the_same_site_at_once_make_one(pg_catalog: str, lake_data: str) -> None:
    lake.connect(pg_catalog, lake_data).close()
    go = time.time() + 6  # all connected by then: they add the site at the same moment
    workers = [subprocess.Popen([sys.executable, WORKER, "site", pg_catalog, lake_data, "shop",
                                 f"https://shop{i}.example", str(go)],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for i in range(5)]
    answers = []
    for worker in workers:
        out, err = worker.communicate(timeout=120)
        assert worker.returncode == 0, err
        answers.append(out.strip())
    assert sorted(answers)[0] == "added" and answers.count("added") == 1, answers
    assert all(a == "refused: site 'shop' exists already" for a in answers if a != "added")
    conn = lake.connect(pg_catalog, lake_data)
    assert conn.execute("SELECT count(*) FROM lake.sites WHERE name = 'shop'").fetchone() == (1,)


def test_sites_and_tokens_made_by_one_collector_are_seen_by_another(pg_catalog: str, lake_data: str) -> None:
    one, two = lake.connect(pg_catalog, lake_data), lake.connect(pg_catalog, lake_data)
    add_site(one, LakeSite("blog", ("https://blog.example",), ("ref",), "required", 13))
    assert sites(two)["blog"] == LakeSite("blog", ("https://blog.example",), ("ref",), "required", 13)
    token = create_token(one, "ci")
    assert check_token(two, token) and not check_token(two, token + "x") and not check_token(two, None)
    with pytest.raises(lake.LakeError, match="exists already"):
        add_site(two, LakeSite("blog", ("https://other.example",), (), "optional", None))
    assert remove_site(two, "blog") and "blog" not in sites(one)
