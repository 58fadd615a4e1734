"""The `webleads` command: sites, tags, tokens; clear one-line errors; it works while the collector
holds the database (through the local command channel) and when it does not."""

from __future__ import annotations

import re
from pathlib import Path

import httpx

from conftest import ORIGIN, Server, webleads


def test_site_add_prints_the_tag_and_snippet_repeats_it(db_path: Path) -> None:
    out = webleads("site", "add", "ecloserie", "--origin", "https://www.ecloserie.fr/",
                   "--origin", "ecloserie.fr", db=db_path).stdout
    tag = '<script async src="http://127.0.0.1:8000/s.js" data-site="ecloserie"></script>'
    assert tag in out
    assert "https://ecloserie.fr, https://www.ecloserie.fr" in out
    again = webleads("snippet", "ecloserie", "--collector", "https://stats.ecloserie.fr/", db=db_path).stdout
    assert again.strip() == '<script async src="https://stats.ecloserie.fr/s.js" data-site="ecloserie"></script>'
    assert webleads("site", "list", db=db_path).stdout.split() == [
        "ecloserie", "https://ecloserie.fr", "https://www.ecloserie.fr"]


def test_user_mistakes_are_one_line_errors(db_path: Path) -> None:
    webleads("site", "add", "ecloserie", "--origin", ORIGIN, db=db_path)
    cases = [
        (("site", "add", "ecloserie", "--origin", ORIGIN), "exists already"),
        (("site", "add", "Bad Name", "--origin", ORIGIN), "site name"),
        (("site", "add", "other", "--origin", "ftp://x.fr"), "is not of the form"),
        (("snippet", "missing"), "no site named 'missing'"),
        (("snippet", "ecloserie", "--collector", "stats.fr"), "must start with http"),
    ]
    for args, words in cases:
        result = webleads(*args, db=db_path, check=False)
        assert result.returncode != 0, args
        assert words in result.stderr, (args, result.stderr)
        assert "Traceback" not in result.stderr
        assert result.stderr.startswith("Error: ")


def test_token_create_stores_only_a_hash(db_path: Path) -> None:
    token = webleads("token", "create", "--name", "board", db=db_path).stdout.strip()
    assert re.fullmatch(r"wl_[A-Za-z0-9_-]{32}", token)
    files = [p for p in db_path.parent.iterdir() if p.name.startswith(db_path.name)]
    assert files and all(token.encode() not in p.read_bytes() for p in files)


def test_commands_go_through_the_running_collector(server: Server) -> None:
    # The collector holds the file: the command is run inside it, and the new site works at once.
    preflight = {"Origin": "https://fablab.test", "Access-Control-Request-Method": "POST"}
    assert httpx.options(server.url + "/e", headers=preflight).status_code == 403
    out = webleads("site", "add", "fablab", "--origin", "https://fablab.test", db=server.db).stdout
    assert 'data-site="fablab"' in out and f"http://127.0.0.1:{server.port}/s.js" in out
    r = httpx.post(server.url + "/e", content='{"site":"fablab","url":"https://fablab.test/"}',
                   headers={"Origin": "https://fablab.test"})
    assert r.status_code == 204 and r.headers["access-control-allow-origin"] == "https://fablab.test"
    assert httpx.options(server.url + "/e", headers=preflight).status_code == 204
    token = webleads("token", "create", db=server.db).stdout.strip()
    assert token.startswith("wl_")
    error = webleads("snippet", "nope", db=server.db, check=False)
    assert error.returncode == 1 and "no site named 'nope'" in error.stderr
    server.stop()
    assert server.query("SELECT site FROM events") == [("fablab",)]
    assert server.query("SELECT count(*) FROM api_tokens") == [(1,)]
    assert not Path(str(server.db) + ".serve.json").exists()


def test_a_second_serve_on_the_same_file_says_why(server: Server) -> None:
    result = webleads("serve", "--port", "1", db=server.db, check=False)
    assert result.returncode == 1
    assert "already used by a running collector" in result.stderr and "Traceback" not in result.stderr


def test_bad_settings_name_the_key(db_path: Path, tmp_path: Path) -> None:
    result = webleads("serve", "--geoip", str(tmp_path / "missing.mmdb"), db=db_path, check=False)
    assert result.returncode == 1 and "setting 'geoip'" in result.stderr
    result = webleads("serve", db=db_path, check=False, env={"WEBLEADS_PORT": "eighty"})
    assert result.returncode == 1 and "setting 'port'" in result.stderr
    config = tmp_path / "webleads.toml"
    config.write_text('beacon_path = "/api/e"\n')
    result = webleads("serve", "--config", str(config), db=db_path, check=False)
    assert result.returncode == 1 and "setting 'beacon_path'" in result.stderr


def test_version_names_the_commit_between_releases() -> None:
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-m", "webleads", "--version"], capture_output=True, text=True,
                         timeout=60, check=True).stdout
    assert out.startswith("webleads ")
    root = Path(__file__).resolve().parents[2]
    head = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True)
    tagged = subprocess.run(["git", "-C", str(root), "describe", "--exact-match", "--tags"], capture_output=True)
    if head.returncode == 0 and tagged.returncode != 0:  # built from a checkout, not on a release tag
        commit = re.search(r"built from commit ([0-9a-f]{7,})", out)
        assert commit, out
        # the commit installed (an editable install keeps the one of its last build): this history's
        known = subprocess.run(["git", "-C", str(root), "merge-base", "--is-ancestor", commit.group(1), "HEAD"])
        assert known.returncode == 0, out
