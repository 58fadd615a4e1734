"""Commands sent to a running `webleads serve` (the command channel): the output streams back while the
command runs, with progress on long work; files are named from the caller's folder; the exit code is the
command's."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

from webleads.collector.rows import utcnow

from conftest import ORIGIN, Server, webleads

LINES = 100_000


def history(path: Path, lines: int = LINES) -> Path:
    """An import file of `lines` pageviews from a thousand visitors over the last days."""
    start = utcnow() - timedelta(days=20)
    with open(path, "w", encoding="utf-8") as fh:
        fh.write("ts,site,type,name,visitor_id,url,referrer\n")
        for i in range(lines):
            at = (start + timedelta(seconds=10 * i)).isoformat()
            fh.write(f"{at},ecloserie,pageview,,v{i % 1000},{ORIGIN}/page-{i % 50},\n")
    return path


def command(*args: str, db: Path, cwd: Path, **kwargs: object) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "webleads", *args, "--db", str(db)], cwd=cwd,
                            **kwargs)  # type: ignore[call-overload]


def test_an_import_through_the_collector_shows_its_progress_as_it_goes(server: Server, tmp_path: Path) -> None:
    history(tmp_path / "history.csv")
    # a relative file name: the collector reads it from the caller's folder
    proc = command("import", "history.csv", db=server.db, cwd=tmp_path, stdout=subprocess.PIPE,
                   stderr=subprocess.PIPE)
    assert proc.stderr is not None and proc.stdout is not None
    progress, arrived = [], []
    for raw in proc.stderr:  # read as it comes, line by line
        progress.append(raw.decode())
        arrived.append(time.monotonic())
    out = proc.stdout.read().decode()
    proc.stdout.close()
    proc.stderr.close()
    assert proc.wait(timeout=300) == 0, "".join(progress)
    ended = time.monotonic()
    assert f"history.csv: {LINES} accepted, 0 already stored, 0 rejected" in out
    # The progress lines came one by one while the import ran, not all at once when it ended.
    times = [at for at, line in zip(arrived, progress, strict=True) if "of 100,001 lines" in line]
    assert len(times) >= 2, progress
    assert times[-1] - times[0] > 0.5 and ended - times[0] > 0.5, (times, ended)
    shares = [line.rsplit("(", 1)[1].split("%")[0] for line in progress if "lines (" in line]
    assert shares == sorted(shares, key=int) and len(shares) <= 11
    server.stop()
    assert server.query("SELECT count(*) FROM event_log") == [(LINES,)]
    assert "Traceback" not in server.log()


def test_on_a_terminal_the_progress_is_a_bar_redrawn_in_place(server: Server, tmp_path: Path) -> None:
    history(tmp_path / "history.csv")
    leader, follower = pty.openpty()  # the caller's stderr is a terminal; stdout a pipe
    proc = command("import", str(tmp_path / "history.csv"), db=server.db, cwd=tmp_path, stdout=subprocess.PIPE,
                   stderr=follower)
    os.close(follower)
    seen, first_at = b"", None
    while True:
        ready, _, _ = select.select([leader], [], [], 300)
        try:
            chunk = os.read(leader, 65536) if ready else b""
        except OSError:  # the terminal closed with the command
            chunk = b""
        if not chunk:
            break
        if first_at is None and b"\r" in chunk and proc.poll() is None:
            first_at = time.monotonic()
        seen += chunk
    os.close(leader)
    assert proc.stdout is not None
    proc.stdout.close()
    assert proc.wait(timeout=300) == 0
    text = seen.decode()
    assert first_at is not None, text  # a bar was drawn while the import ran
    assert "\rimporting history.csv [" in text and text.count("\r") >= 2 and text.endswith("\n")
    assert "of 100,001 lines" not in text  # not the lines written for a log


def test_a_failing_command_gives_its_message_and_code_through_the_collector(server: Server,
                                                                             tmp_path: Path) -> None:
    missing = webleads("snippet", "nope", db=server.db, check=False)
    assert missing.returncode == 1 and missing.stderr.startswith("Error: no site named 'nope'")
    doctor = webleads("doctor", "--offline", db=server.db, check=False)
    assert "collector running" in doctor.stdout and doctor.returncode in (0, 1)
    out = webleads("report", "leads", "--format", "csv", "--out", "leads.csv", db=server.db)
    assert "written to leads.csv" in out.stdout
    server.stop()
    assert "Traceback" not in server.log()
