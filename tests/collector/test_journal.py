"""The journal's records on the disk: what a torn or damaged record leaves readable, and a batch whose
sync failed."""

from __future__ import annotations

import errno
import struct
from pathlib import Path

import pytest

from webleads.collector import journal as journal_module
from webleads.collector.journal import Journal, read_segment

COLUMNS = ["event_id", "site"]


def test_a_damaged_record_ends_what_is_read_of_its_segment(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "j", COLUMNS)
    for b in range(3):
        journal.append([(f"e{b}-{i}", "ecloserie") for i in range(4)])
    segment = journal.seal()
    assert segment is not None
    columns, rows, torn = read_segment(segment)
    assert (columns, len(rows), torn) == (COLUMNS, 12, 0)
    data = bytearray(segment.read_bytes())
    header_length = struct.unpack_from("<I", data, 0)[0]
    first_batch = 8 + header_length
    second_payload = first_batch + 8 + struct.unpack_from("<I", data, first_batch)[0] + 8
    data[second_payload + 3] ^= 0xFF  # one flipped byte in the second batch: its CRC no longer matches
    segment.write_bytes(bytes(data))
    columns, rows, torn = read_segment(segment)
    assert [r[0] for r in rows] == [f"e0-{i}" for i in range(4)]
    assert torn == len(data) - (second_payload - 8)


def test_a_batch_whose_sync_failed_ends_its_segment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The next batch starts a new segment, so that an acknowledged batch never follows a record
    that may be torn."""
    journal = Journal(tmp_path / "j", COLUMNS)
    journal.append([("a", "ecloserie")])
    real = journal_module._datasync

    def failing(fd: int) -> None:
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(journal_module, "_datasync", failing)
    with pytest.raises(OSError):
        journal.append([("b", "ecloserie")])
    monkeypatch.setattr(journal_module, "_datasync", real)
    journal.append([("c", "ecloserie")])
    journal.seal()
    segments = journal.segments()
    assert len(segments) == 2
    assert [r[0] for r in read_segment(segments[1])[1]] == ["c"]
    assert "a" in [r[0] for r in read_segment(segments[0])[1]]
    journal.discard(segments)
    journal.close()
    assert not (tmp_path / "j").exists()
