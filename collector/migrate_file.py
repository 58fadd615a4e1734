"""`webleads migrate`: convert, in place, a database file written by a newer DuckDB than the one this
release uses (the files of the first releases, made by DuckDB 2.0.1 in its newest storage format) into
the format this release writes (collector/fileformat.py: STORAGE_VERSION).

This DuckDB cannot read such a file, so the copy runs elsewhere: a temporary virtual environment gets
a DuckDB that can (installed from PyPI with pip), and runs collector/convert_file.py there. The new
file is written beside the old one, checked here (this DuckDB opens it, every table has the same
number of rows), then takes the old file's name, owner and mode. The old file and its write-ahead
log stay beside it as `<db>.before-migrate-<time>`. The journal (`<db>.journal/`), if a crash left
one, stays where it is: its events go into the new file at the next start, as usual.

While it works, it holds a shared lock on the old file: a collector running on it (which holds the
file's write lock) makes it refuse, and a collector started meanwhile cannot open the file."""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import duckdb

from .fileformat import STORAGE_NUMBER, STORAGE_VERSION, header_version, needs_migration
from .rows import utcnow

# The DuckDB releases that may read a file this one cannot, tried in this order: the one the first
# releases of webleads were installed with (pip's choice then), then its predecessor.
READERS = ("2.0.1", "2.0.0")
CONVERTER = Path(__file__).with_name("convert_file.py")


class MigrateError(Exception):
    """Why the file was not converted (the file is left as it was)."""


@dataclass
class Migrated:
    counts: dict[str, int]
    backup: str
    duckdb: str


def migrate(db: str, echo: Callable[[str], None], readers: Sequence[str] = READERS) -> Migrated | None:
    """Convert `db` in place; None if this DuckDB reads it already (nothing done)."""
    path = Path(db).resolve()
    if not path.is_file():
        raise MigrateError(f"no database file at {path}")
    if _readable_here(path):
        return None
    wal = Path(f"{path}.wal")
    needed = path.stat().st_size + (wal.stat().st_size if wal.exists() else 0)
    free = shutil.disk_usage(path.parent).free
    if free < needed:
        raise MigrateError(f"not enough free space beside {path}: the copy needs about {needed >> 20} MB, "
                           f"{free >> 20} MB are free")
    found = header_version(path)  # before the lock: closing any descriptor of the file would release it
    with _shared_lock(path):
        new = Path(f"{path}.migrating")
        _remove(new)
        try:
            with tempfile.TemporaryDirectory(prefix="webleads-migrate-") as work:
                result = _convert_with_any(path, found, new, Path(work), readers, echo)
            _check_here(new, result["counts"])
        except BaseException:
            _remove(new)
            raise
        backup = f"{path}.before-migrate-{utcnow():%Y%m%d%H%M%S}"
        _swap(path, new, backup)
    return Migrated(counts=dict(result["counts"]), backup=backup, duckdb=str(result["duckdb"]))


def _readable_here(path: Path) -> bool:
    """True if this DuckDB opens the file. A collector holding it (the lock) is refused here too."""
    try:
        duckdb.connect(str(path), read_only=True).close()
    except duckdb.Error as exc:
        if needs_migration(str(path), exc) is not None:
            return False
        if "lock" in str(exc).lower():
            raise MigrateError(_running(path)) from None
        raise MigrateError(f"cannot open {path}: {str(exc).splitlines()[0]}") from None
    return True


def _running(path: Path) -> str:
    return (f"a collector is running on {path}: stop it (systemctl stop webleads, or Ctrl+C), "
            "run webleads migrate, then start the new release")


class _shared_lock:
    """A shared POSIX lock on the whole file, as DuckDB takes it: compatible with the read-only
    converter, incompatible with a collector's write lock."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.fd = -1

    def __enter__(self) -> _shared_lock:
        self.fd = os.open(self.path, os.O_RDONLY)
        try:
            fcntl.lockf(self.fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except OSError:
            os.close(self.fd)
            raise MigrateError(_running(self.path)) from None
        return self

    def __exit__(self, *exc: object) -> None:
        os.close(self.fd)  # releases the lock


def _convert_with_any(old: Path, found: int | None, new: Path, work: Path, readers: Sequence[str],
                      echo: Callable[[str], None]) -> dict[str, Any]:
    tried = []
    for version in readers:
        echo(f"Installing DuckDB {version} into a temporary environment (to read {old.name}, "
             f"storage format {found})...")
        python = _environment(work / f"duckdb-{version}", version)
        result = _run_converter(python, old, new, echo)
        if result is not None:
            return result
        tried.append(version)
        _remove(new)
    raise MigrateError(f"none of DuckDB {', '.join(tried)} can read {old} (storage format {found}); "
                       "give the DuckDB release that wrote it with --duckdb VERSION")


def _environment(where: Path, version: str) -> Path:
    """A virtual environment with duckdb==version; returns its python."""
    _run([sys.executable, "-m", "venv", "--without-pip", str(where)], "create a virtual environment")
    python = where / "bin" / "python"
    requirement = f"duckdb=={version}"
    quiet = ["--quiet", "--disable-pip-version-check", "--no-input"]
    if _pip_has_python_option():  # this environment's pip installs into the other one: no pip to set up there
        _run([sys.executable, "-m", "pip", "--python", str(python), "install", *quiet, requirement],
             f"install {requirement} from PyPI")
    else:
        _run([str(python), "-m", "ensurepip", "--default-pip"], "set up pip in the temporary environment")
        _run([str(python), "-m", "pip", "install", *quiet, requirement], f"install {requirement} from PyPI")
    return python


def _pip_has_python_option() -> bool:
    try:
        major, minor = (int(part) for part in metadata.version("pip").split(".")[:2])
    except (metadata.PackageNotFoundError, ValueError):
        return False
    return (major, minor) >= (22, 3)


def _run(command: list[str], what: str) -> None:
    done = subprocess.run(command, capture_output=True, text=True, stdin=subprocess.DEVNULL)
    if done.returncode != 0:
        lines = [line for line in (done.stderr or done.stdout).splitlines()
                 if line.strip() and not line.startswith("WARNING")]
        reason = lines[-1].strip() if lines else f"exit code {done.returncode}"
        raise MigrateError(f"could not {what}: {reason}")


def _run_converter(python: Path, old: Path, new: Path, echo: Callable[[str], None]) -> dict[str, Any] | None:
    """Run convert_file.py; its result, or None if that DuckDB cannot read the file either."""
    proc = subprocess.Popen([str(python), "-I", str(CONVERTER), str(old), str(new), STORAGE_VERSION],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True)
    assert proc.stdout is not None and proc.stderr is not None
    result: dict[str, Any] | None = None
    error: dict[str, Any] | None = None
    shown: dict[str, int] = {}
    for line in proc.stdout:
        try:
            message = json.loads(line)
        except ValueError:
            continue
        if "tables" in message:
            total = sum(rows for _, rows in message["tables"])
            echo(f"Copying {len(message['tables'])} tables, {total:,} rows, into storage format {STORAGE_VERSION}:")
        elif "table" in message:
            name, copied, rows = message["table"], message["copied"], message["rows"]
            if copied >= rows or copied - shown.get(name, 0) >= 1_000_000:
                echo(f"  {name}: {copied:,} / {rows:,} rows")
                shown[name] = copied
        elif "done" in message:
            result = message
        elif "error" in message:
            error = message
    stderr = proc.stderr.read()
    proc.wait()
    if result is not None and proc.returncode == 0:
        return result
    if error is not None and error.get("unreadable"):
        return None
    reason = error["error"] if error else (stderr.strip().splitlines() or [f"exit code {proc.returncode}"])[-1]
    raise MigrateError(f"the copy failed: {reason}")


def _check_here(new: Path, counts: dict[str, int]) -> None:
    """This DuckDB opens the new file, in the expected format, with the rows the copy reported."""
    found = header_version(new)
    if found != STORAGE_NUMBER:
        raise MigrateError(f"the new file has storage format {found}, not {STORAGE_NUMBER} ({STORAGE_VERSION})")
    with duckdb.connect(str(new), read_only=True) as conn:
        for name, rows in counts.items():
            schema, table = name.split(".", 1)
            row = conn.execute(f'SELECT count(*) FROM "{schema}"."{table}"').fetchone()
            if not row or row[0] != rows:
                raise MigrateError(f"the new file's {name} has {row[0] if row else 0} rows, not {rows}")


def _swap(path: Path, new: Path, backup: str) -> None:
    """The new file takes the old one's name, owner and mode; the old one (and its log) is kept."""
    st = path.stat()
    os.chmod(new, stat.S_IMODE(st.st_mode))
    try:
        os.chown(new, st.st_uid, st.st_gid)
    except PermissionError:  # not root: the file is ours, and stays so
        pass
    _fsync(new)
    os.rename(path, backup)
    wal = Path(f"{path}.wal")
    if wal.exists():
        os.rename(wal, f"{backup}.wal")
    os.rename(new, path)
    _fsync(path.parent)


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _remove(new: Path) -> None:
    for name in (new, Path(f"{new}.wal")):
        name.unlink(missing_ok=True)
