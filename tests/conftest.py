"""Shared fixtures: a real `webleads serve` subprocess on 127.0.0.1 with its own DuckDB file."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import httpx
import pytest

ORIGIN = "https://www.ecloserie.test"
# The machine's own /etc/webleads/webleads.toml (a collector installed on it) must not reach the tests:
# commands and collectors started here read only the settings a test gives them.
os.environ["WEBLEADS_SYSTEM_CONFIG"] = os.devnull
# Debian's chromium, driven by Playwright (never a browser download), launched as this machine needs.
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run"]


def require_chromium() -> None:
    """Skip a browser test where chromium is missing; in CI (CI set), fail instead."""
    if not os.path.exists(CHROMIUM):
        reason = f"Debian's chromium is not installed at {CHROMIUM} (apt-get install chromium)"
        if os.environ.get("CI"):
            pytest.fail(reason + "; CI must run the browser tests")
        pytest.skip(reason)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def webleads(*args: str, db: Path | str, check: bool = True, env: dict[str, str] | None = None,
             input: str | None = None) -> subprocess.CompletedProcess[str]:
    """Run the real `webleads` command (python -m webleads) and return its result."""
    run_env = {**os.environ, **(env or {})}
    proc = subprocess.run([sys.executable, "-m", "webleads", *args, "--db", str(db)], capture_output=True,
                          text=True, env=run_env, timeout=120, input=input)
    if check and proc.returncode != 0:
        raise AssertionError(f"webleads {' '.join(args)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc


@dataclass
class Server:
    """A running `webleads serve`: its address, database file, process and log."""
    db: Path
    port: int
    proc: subprocess.Popen[bytes] | None = None
    log_path: Path | None = None
    extra_args: tuple[str, ...] = ()
    env: dict[str, str] = field(default_factory=dict)
    as_user: tuple[str, ...] = ()  # a prefix that runs it as another user, e.g. setpriv's

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30) -> Server:
        return self.launch().ready(timeout)

    def launch(self) -> Server:
        """Start the process without waiting for it (see ready())."""
        assert self.log_path is not None
        with open(self.log_path, "ab") as log:  # the child keeps its own descriptor
            self.proc = subprocess.Popen(
                [*self.as_user, sys.executable, "-m", "webleads", "serve", "--db", str(self.db),
                 "--port", str(self.port), *self.extra_args],
                stdout=log, stderr=subprocess.STDOUT, env={**os.environ, **self.env})
        return self

    def ready(self, timeout: float = 30) -> Server:
        """Wait until /healthz answers; show the log if the process died or never answered."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise AssertionError(f"webleads serve exited with {self.proc.returncode}:\n{self.log()}")
            try:
                if httpx.get(self.url + "/healthz", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        raise AssertionError(f"webleads serve did not answer in {timeout}s:\n{self.log()}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path and self.log_path.exists() else ""

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 60) -> int:
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else 0
        self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            raise AssertionError(f"webleads serve did not stop after signal {sig}:\n{self.log()}") from None

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(30)

    def query(self, sql: str, params: dict[str, Any] | None = None) -> list[tuple[Any, ...]]:
        """Read the database file (the server must be stopped: DuckDB allows one process)."""
        assert self.proc is None or self.proc.poll() is not None, "stop the server before reading its file"
        with duckdb.connect(str(self.db), read_only=True) as conn:
            return conn.execute(sql, params or {}).fetchall()


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "webleads.duckdb"


@pytest.fixture
def site_db(db_path: Path) -> Path:
    """A database with the site 'ecloserie' registered for ORIGIN."""
    webleads("site", "add", "ecloserie", "--origin", ORIGIN, db=db_path)
    return db_path


@pytest.fixture
def server(site_db: Path, tmp_path: Path) -> Iterator[Server]:
    """A running collector on a free port, with the 'ecloserie' site; its log is shown on failure."""
    srv = Server(db=site_db, port=free_port(), log_path=tmp_path / "serve.log")
    srv.start()
    try:
        yield srv
    finally:
        srv.kill()


@pytest.fixture
def make_server(tmp_path: Path) -> Iterator[Any]:
    """Start a collector with extra flags or environment: make_server(db, *flags, env={...})."""
    started: list[Server] = []

    def make(db: Path, *flags: str, env: dict[str, str] | None = None) -> Server:
        srv = Server(db=db, port=free_port(), log_path=tmp_path / f"serve{len(started)}.log",
                     extra_args=flags, env=env or {})
        started.append(srv)
        return srv.start()

    yield make
    for srv in started:
        srv.kill()
