"""Files of the first releases (DuckDB 2.0.1's newest storage format, which the pinned DuckDB cannot read)
are refused in one line naming `webleads migrate`, which converts them in place: same events, same
reports. The release is installed as pip resolves it, from this repository's history."""

from __future__ import annotations

import csv
import io
import os
import subprocess
import sys
import tarfile
import textwrap
import time
from datetime import timedelta
from pathlib import Path

import duckdb
import pytest

from webleads.collector.fileformat import STORAGE_NUMBER, header_version
from webleads.collector.rows import utcnow

from conftest import free_port, webleads

FIRST_RELEASE = "914f77b"  # main as the first releases left it: duckdb unpinned, so 2.0.1
REPO = Path(__file__).resolve().parents[2]

# The old release's own CLI, with its checkpoints left out, so that what it writes stays in the
# write-ahead log beside the file, as after a crash.
WITHOUT_CHECKPOINT = textwrap.dedent("""
    import sys

    import duckdb

    from webleads.collector import store

    _connect = duckdb.connect

    def connect(*args, **kwargs):
        conn = _connect(*args, **kwargs)
        conn.execute("PRAGMA disable_checkpoint_on_shutdown")
        return conn

    duckdb.connect = connect
    store.Store._checkpoint_and_merge = lambda self, conn: None
    from webleads.cli import main

    main(sys.argv[1:])
""")

EVENTS = "SELECT count(*), md5(string_agg(event_id, ',' ORDER BY rowid)) FROM event_log"


def _run(*args: str | Path, **kwargs: object) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([str(a) for a in args], capture_output=True, text=True, timeout=600, **kwargs)  # type: ignore[call-overload]
    assert done.returncode == 0, f"{args}: {done.stderr}"
    return done  # type: ignore[no-any-return]


def _old_release(where: Path) -> Path:
    """A venv with the first release installed from its source, as pip resolves it; its bin folder."""
    found = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--verify", "--quiet", f"{FIRST_RELEASE}^{{commit}}"],
                           capture_output=True, text=True)
    if found.returncode != 0:
        pytest.skip(f"commit {FIRST_RELEASE} (the first release, whose files are migrated) is not in this "
                    "repository's history: a shallow clone? (git fetch --unshallow)")
    archive = subprocess.run(["git", "-C", str(REPO), "archive", "--format=tar", FIRST_RELEASE], capture_output=True,
                             timeout=120)
    assert archive.returncode == 0, archive.stderr
    source = where / "source"
    with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
        tar.extractall(source, **({"filter": "data"} if hasattr(tarfile, "data_filter") else {}))  # type: ignore[arg-type]
    venv = where / "venv"
    _run(sys.executable, "-m", "venv", "--without-pip", venv)
    _run(sys.executable, "-m", "pip", "--python", venv / "bin" / "python", "install", "--quiet",
         "--disable-pip-version-check", source)
    return venv / "bin"


def _csv(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


@pytest.mark.slow
def test_a_file_of_the_first_release_is_refused_then_migrated_with_the_same_events_and_reports(
        tmp_path: Path) -> None:
    old = _old_release(tmp_path / "old")
    db = tmp_path / "webleads.duckdb"
    _run(old / "webleads", "demo", "--visitors", "200", "--db", db)
    # and a few more events left in the write-ahead log, as after a crash
    yesterday = utcnow() - timedelta(days=1)
    rows = ["ts,site,type,name,visitor_id,url,referrer"]
    for i in range(20):
        at = (yesterday + timedelta(minutes=i)).isoformat()
        rows.append(f"{at},ecloserie,pageview,,walvisitor{i},https://www.ecloserie.fr/?utm_source=wal&utm_medium=email,")
        rows.append(f"{at},ecloserie,conversion,contact,walvisitor{i},https://www.ecloserie.fr/contact,")
    (tmp_path / "more.csv").write_text("\n".join(rows) + "\n")
    script = tmp_path / "no_checkpoint.py"
    script.write_text(WITHOUT_CHECKPOINT)
    _run(old / "python", script, "import", tmp_path / "more.csv", "--db", db)
    wal = Path(f"{db}.wal")
    assert wal.stat().st_size > 0
    assert header_version(db) not in (None, STORAGE_NUMBER)  # the old release's format
    os.chmod(db, 0o640)

    # what the old release reports, from a copy (its commands checkpoint the log into the file)
    reference = tmp_path / "reference.duckdb"
    reference.write_bytes(db.read_bytes())
    Path(f"{reference}.wal").write_bytes(wal.read_bytes())
    # by campaign: the channels changed on purpose since (the Offline channel takes the flyer's `qr` medium)
    report = ("report", "attribution", "--model", "linear", "--by", "campaign", "--format", "csv")
    before = _run(old / "webleads", *report, "--db", reference).stdout
    events_before = _run(old / "python", "-c", f"import duckdb; print(duckdb.connect({str(reference)!r}, "
                                                f"read_only=True).execute({EVENTS!r}).fetchone())").stdout.strip()
    assert events_before.startswith("(1")  # the demo's events and the 40 imported

    # this release refuses it, in one line that names the command
    for args in (report, ("site", "list"), ("serve", "--port", str(free_port()), "--workers", "0")):
        refused = webleads(*args, db=db, check=False)
        assert refused.returncode == 1, (args, refused.stdout)
        assert "Traceback" not in refused.stderr
        assert refused.stderr.startswith("Error: ") and len(refused.stderr.strip().splitlines()) == 1, refused.stderr
        assert f"webleads migrate --db {db}" in refused.stderr

    # not while a collector holds it
    holder = subprocess.Popen([old / "python", "-c", f"import duckdb, time; c = duckdb.connect({str(reference)!r}); "
                                                    "print('held', flush=True); time.sleep(60)"],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        busy = webleads("migrate", db=reference, check=False)
        assert busy.returncode == 1 and "a collector is running" in busy.stderr, busy.stderr
    finally:
        holder.kill()
        holder.wait()
        if holder.stdout is not None:
            holder.stdout.close()

    started = time.monotonic()
    out = _run(sys.executable, "-m", "webleads", "migrate", "--db", db).stdout  # installs from PyPI: a longer timeout
    took = time.monotonic() - started
    assert "Installing DuckDB 2.0.1" in out
    assert "main.event_log: " in out and "main.sites: 1 / 1 rows" in out
    assert "Converted" in out, out
    kept = [p for p in tmp_path.iterdir() if p.name.startswith("webleads.duckdb.before-migrate-")]
    assert sorted(p.suffix == ".wal" for p in kept) == [False, True], kept  # the old file and its log
    assert not wal.exists()
    assert header_version(db) == STORAGE_NUMBER
    assert db.stat().st_mode & 0o777 == 0o640 and db.stat().st_uid == os.getuid()
    print(f"migrate took {took:.1f} s")

    with duckdb.connect(str(db), read_only=True) as conn:
        assert str(conn.execute(EVENTS).fetchone()) == events_before
    after = webleads(*report, db=db).stdout
    old_rows, new_rows = _csv(before), _csv(after)
    old_columns = before.splitlines()[0].split(",")
    assert after.splitlines()[0].split(",")[:len(old_columns)] == old_columns
    assert [{c: r[c] for c in old_columns} for r in new_rows] == old_rows
    assert any(r["campaign"] == "formation-dev-2026" for r in new_rows)

    again = webleads("migrate", db=db)
    assert "nothing to convert" in again.stdout
