"""The store's journal: where a batch of events is made durable before its requests are answered.

A directory beside the database (`<db>.journal`) of segment files. Each segment is a run of records,
each record its length and CRC-32 (8 bytes, little-endian) then an Arrow IPC message: first the
schema, then one record batch per group commit. A record is on the disk (fdatasync) before the
batch's requests are answered; a new segment's directory entry too. The store moves the batches of
a sealed segment into event_log in one transaction, then deletes the segment; the segments found at
start (a crash, kill -9) are moved in then, the events already in event_log skipped.

Why not commit each batch to DuckDB directly: a DuckDB commit of a few dozen rows costs about 5 ms of
CPU (planning the INSERT, writing its log, syncing it), about the same as one of a thousand, and a
live collector commits a few dozen rows at a time. Appending the batch here costs its sync (about
0.5 ms on these machines) and a few tens of microseconds; DuckDB then takes the events a few hundred
at a time.
"""

from __future__ import annotations

import logging
import os
import struct
import zlib
from pathlib import Path

import pyarrow as pa

log = logging.getLogger("webleads.journal")

SUFFIX = ".journal"
_HEADER = struct.Struct("<II")  # payload length, CRC-32 of the payload
_SEGMENT = "{:012d}.arrows"


class Journal:
    """Append-only segments of Arrow record batches. Not thread-safe: the store serialises access."""

    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(exist_ok=True)
        found = self.segments()
        self._next = int(found[-1].stem) + 1 if found else 1
        self._fd: int | None = None
        self._path: Path | None = None

    def segments(self) -> list[Path]:
        """The segment files present, oldest first."""
        return sorted(p for p in self.directory.glob("*.arrows") if p.stem.isdigit())

    def append(self, batch: pa.RecordBatch) -> None:
        """Write one batch and sync it: once this returns, the batch survives a crash."""
        if self._fd is None:
            self._open(batch.schema)
        assert self._fd is not None
        _write_record(self._fd, batch.serialize())
        os.fdatasync(self._fd)

    def _open(self, schema: pa.Schema) -> None:
        path = self.directory / _SEGMENT.format(self._next)
        self._next += 1
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND, 0o600)
        try:
            _write_record(fd, schema.serialize())
            os.fdatasync(fd)
            _sync_directory(self.directory)  # the new file's name, so that a crash keeps it
        except BaseException:
            os.close(fd)
            path.unlink(missing_ok=True)
            raise
        self._fd, self._path = fd, path

    def seal(self) -> Path | None:
        """Close the segment being written (the next append starts another); returns its path."""
        if self._fd is None:
            return None
        os.close(self._fd)
        path, self._fd, self._path = self._path, None, None
        return path

    def discard(self, paths: list[Path]) -> None:
        """Delete segments whose batches are in event_log (and sync the directory: a deletion lost
        in a crash would bring back events erased since)."""
        for path in paths:
            path.unlink(missing_ok=True)
        if paths:
            _sync_directory(self.directory)

    def close(self) -> None:
        self.seal()
        try:
            self.directory.rmdir()  # empty after a clean stop
        except OSError:
            pass


def read_segment(path: Path) -> tuple[list[pa.RecordBatch], int]:
    """The batches of a segment, and how many bytes at its end could not be read. A batch being
    written when the collector stopped (never acknowledged) leaves a torn record there."""
    data = path.read_bytes()
    batches: list[pa.RecordBatch] = []
    schema: pa.Schema | None = None
    offset = 0
    while offset + _HEADER.size <= len(data):
        length, crc = _HEADER.unpack_from(data, offset)
        start, end = offset + _HEADER.size, offset + _HEADER.size + length
        payload = data[start:end]
        if end > len(data) or zlib.crc32(payload) != crc:
            break
        buffer = pa.py_buffer(payload)
        if schema is None:
            schema = pa.ipc.read_schema(buffer)
        else:
            batches.append(pa.ipc.read_record_batch(buffer, schema))
        offset = end
    return batches, len(data) - offset


def _write_record(fd: int, payload: pa.Buffer) -> None:
    body = memoryview(payload)
    record = _HEADER.pack(len(body), zlib.crc32(body)) + body
    view = memoryview(record)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def _sync_directory(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
