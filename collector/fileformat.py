"""The DuckDB file format: the storage version new files are written in, and what to say about a
file this DuckDB cannot read.

DuckDB writes a new file in the format its `storage_compatibility_version` names. Left to its
default, a new DuckDB may write a format older releases cannot open: DuckDB 2.0.1, which the first
releases of webleads were installed with, wrote its newest format, which the DuckDB pinned now (for
the DuckLake extensions) cannot read. So every file webleads creates names its format: the store,
backups, migrations. An existing file keeps the format it has."""

from __future__ import annotations

import re
import struct
from pathlib import Path

# The newest format DuckDB 1.5 writes; DuckDB 1.5 and every later release read it. (1.5.5's own
# default is the format of 0.10.2, which compresses less.)
STORAGE_VERSION = "v1.5.0"
# The number in the header of a file written in STORAGE_VERSION.
STORAGE_NUMBER = 68

# DuckDB's words when a file's format is newer than it reads.
_TOO_NEW = re.compile(r"version number (\d+), but we can only read versions between (\d+) and (\d+)")


class NeedsMigration(Exception):
    """The file was written by a newer DuckDB than this one: `webleads migrate` converts it."""

    def __init__(self, path: str, found: int | None) -> None:
        self.path = path
        self.found = found
        fmt = f" (storage format {found})" if found is not None else ""
        super().__init__(f"{path} was written by a newer DuckDB than this release uses{fmt}: convert it once "
                         f"with `webleads migrate --db {path}` (it keeps the old file as a backup)")


def needs_migration(path: str, error: BaseException) -> NeedsMigration | None:
    """The NeedsMigration that DuckDB's error on opening `path` means, or None for another error."""
    found = _TOO_NEW.search(str(error))
    if found is None:
        return None
    return NeedsMigration(path, int(found.group(1)))


def header_version(path: str | Path) -> int | None:
    """The storage number in a DuckDB file's header; None if the file is not a DuckDB file."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(20)
    except OSError:
        return None
    if len(head) < 20 or head[8:12] != b"DUCK":
        return None
    return int(struct.unpack("<Q", head[12:20])[0])
