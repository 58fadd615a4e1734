"""The store's journal: where a batch of events is made durable before its requests are answered.

A directory beside the database (`<db>.journal`) of segment files. Each segment is a run of records,
each record its length and CRC-32 (8 bytes, little-endian) then a JSON document (orjson): first a
header naming the columns, then one array of rows per group commit (the timestamps as ISO 8601
text). A record is on the disk (fdatasync) before the batch's requests are answered; a new segment's
directory entry too. The store moves the rows of sealed segments into event_log in one transaction,
then deletes the segments; the segments found at start (a crash, kill -9) are moved in then, the
events already in event_log skipped.

Why not commit each batch to DuckDB directly: a live collector commits a few dozen rows at a time,
and DuckDB's fixed cost per commit (planning the INSERT, writing its log, syncing it) is many times
the cost of appending the batch here, which is little more than its sync; DuckDB then takes the rows
a few hundred at a time, in one Arrow table, for little more than the cost of one small commit.
"""

from __future__ import annotations

import contextlib
import os
import struct
import zlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import orjson

SUFFIX = ".journal"
_HEADER = struct.Struct("<II")  # payload length, CRC-32 of the payload
_SEGMENT = "{:012d}.jsonl"
FORMAT = 1
_datasync = getattr(os, "fdatasync", os.fsync)  # macOS has no fdatasync


class Journal:
    """Append-only segments of rows. Not thread-safe: the store serialises access."""

    def __init__(self, directory: str | Path, columns: Sequence[str]) -> None:
        self.directory = Path(directory)
        self._header = orjson.dumps({"format": FORMAT, "columns": list(columns)})
        self.directory.mkdir(mode=0o700, exist_ok=True)  # its events hold captured form fields
        with contextlib.suppress(OSError):  # a folder made by an earlier version; another user's stays
            os.chmod(self.directory, 0o700)
        found = self.segments()
        self._next = int(found[-1].stem) + 1 if found else 1
        self._fd: int | None = None
        self._path: Path | None = None

    def segments(self) -> list[Path]:
        """The segment files present, oldest first."""
        return sorted(p for p in self.directory.glob("*.jsonl") if p.stem.isdigit())

    def append(self, rows: Sequence[Sequence[Any]]) -> int:
        """Write one batch of rows (in the header's column order) and sync it: once this returns,
        the batch survives a crash. A failed write ends the segment: the next batch starts another,
        so that no acknowledged batch ever follows a torn one. Returns the record's size in bytes."""
        payload = orjson.dumps(rows)
        if self._fd is None:
            self._open()
        assert self._fd is not None
        try:
            _write_record(self._fd, payload)
            _datasync(self._fd)
        except BaseException:
            self.seal()
            raise
        return len(payload)

    def _open(self) -> None:
        path = self.directory / _SEGMENT.format(self._next)
        self._next += 1
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND, 0o600)
        try:
            _write_record(fd, self._header)
            _datasync(fd)
            sync_directory(self.directory)  # the new file's name, so that a crash keeps it
        except BaseException:
            os.close(fd)
            path.unlink(missing_ok=True)
            raise
        self._fd, self._path = fd, path

    def seal(self) -> Path | None:
        """Close the segment being written (the next append starts another); returns its path."""
        if self._fd is None:
            return None
        with contextlib.suppress(OSError):  # what it holds is synced already
            os.close(self._fd)
        path, self._fd, self._path = self._path, None, None
        return path

    def discard(self, paths: list[Path]) -> None:
        """Delete segments whose batches are in event_log (and sync the directory: a deletion lost
        in a crash would bring back events erased since)."""
        for path in paths:
            path.unlink(missing_ok=True)
        if paths:
            sync_directory(self.directory)

    def close(self) -> None:
        self.seal()
        try:
            self.directory.rmdir()  # empty after a clean stop
        except OSError:
            pass


def read_segment(path: Path) -> tuple[list[str], list[list[Any]], int]:
    """The columns and rows of a segment, and how many bytes at its end could not be read. A batch
    being written when the collector stopped (never acknowledged) leaves a torn record there."""
    data = path.read_bytes()
    columns: list[str] | None = None
    rows: list[list[Any]] = []
    offset = 0
    while offset + _HEADER.size <= len(data):
        length, crc = _HEADER.unpack_from(data, offset)
        start, end = offset + _HEADER.size, offset + _HEADER.size + length
        payload = data[start:end]
        if end > len(data) or zlib.crc32(payload) != crc:
            break
        if columns is None:
            header = orjson.loads(payload)
            if header.get("format") != FORMAT:
                raise ValueError(f"{path}: a journal of format {header.get('format')!r}, not {FORMAT}")
            columns = header["columns"]
        else:
            rows.extend(orjson.loads(payload))
        offset = end
    return columns or [], rows, len(data) - offset


def _write_record(fd: int, payload: bytes) -> None:
    record = _HEADER.pack(len(payload), zlib.crc32(payload)) + payload
    view = memoryview(record)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def sync_directory(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
