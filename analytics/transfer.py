"""Import of historical events (CSV or JSONL) and export as Hive-partitioned Parquet.

read_events(path, site=None) -> Reading: an iterator of (line number, record) for
collector/batch.py:ingest_records (the validation and enrichment of live events), plus what the reader
itself refused (a line that is not JSON, an event without a time or a visitor) and the unknown
columns it left out, so that the command reports them instead of dropping them silently.

export_parquet(store, out, site=None, start=None, end=None, overwrite=False) -> int writes
`out/site=<site>/date=<UTC day>/*.parquet` (what DuckDB, ClickHouse, Spark or Trino read as one data
set; `webleads report ... --data DIR` reads it back).
"""

from __future__ import annotations

import csv
import os
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson

from webleads.collector.store import Store

from .queries import sql

# DESIGN.md "Import columns"; `bot` (an automation hint, as on beacons) is accepted too.
IMPORT_COLUMNS = ("ts", "site", "type", "name", "visitor_id", "url", "referrer", "event_id", "user_agent", "props",
                  "bot")
REQUIRED = ("ts", "visitor_id")


@dataclass
class Reading:
    rejected: Counter[str] = field(default_factory=Counter)
    examples: dict[str, str] = field(default_factory=dict)
    unknown_columns: set[str] = field(default_factory=set)
    lines: int = 0

    def refuse(self, line: int, code: str, reason: str) -> None:
        self.rejected[code] += 1
        self.examples.setdefault(code, f"line {line}: {reason}")


def detect_format(path: str) -> str:
    lower = path.lower()
    if lower.endswith(".csv"):
        return "csv"
    if lower.endswith((".jsonl", ".ndjson", ".json")):
        return "jsonl"
    with open(path, encoding="utf-8-sig", errors="replace") as fh:
        head = fh.read(4096).lstrip()
    return "jsonl" if head.startswith("{") else "csv"


def _clean(record: dict[str, Any], reading: Reading, site: str | None, from_csv: bool) -> dict[str, Any]:
    unknown = {k for k in record if k not in IMPORT_COLUMNS}
    reading.unknown_columns |= {"(values beyond the header)" if k is None else str(k)[:60] for k in unknown}
    out = {k: v for k, v in record.items() if k in IMPORT_COLUMNS and v not in (None, "")}
    if site and not out.get("site"):
        out["site"] = site
    if from_csv:
        if "props" in out:
            try:
                out["props"] = orjson.loads(out["props"])
            except orjson.JSONDecodeError:
                pass  # validation answers bad_props with its line
        if "bot" in out:
            out["bot"] = str(out["bot"]).strip().lower() in ("1", "true", "yes")
    return out


def read_events(path: str, site: str | None = None,
                fmt: str | None = None) -> tuple[Reading, Iterator[tuple[int, Any]]]:
    """The records of an import file, with what the reader refused (counted in the Reading)."""
    reading = Reading()
    fmt = fmt or detect_format(path)

    def records() -> Iterator[tuple[int, Any]]:
        with open(path, encoding="utf-8-sig", newline="" if fmt == "csv" else None) as fh:
            if fmt == "csv":
                rows: Iterator[tuple[int, Any]] = ((i, row) for i, row in enumerate(csv.DictReader(fh), start=2))
            else:
                rows = _json_lines(fh, reading)
            for line, record in rows:
                reading.lines += 1
                if not isinstance(record, dict):
                    yield line, record  # validation refuses it with its reason
                    continue
                clean = _clean(record, reading, site, fmt == "csv")
                missing = [k for k in REQUIRED if not clean.get(k)]
                if missing:
                    reading.refuse(line, f"missing_{missing[0]}",
                                   f"'{missing[0]}' is required to import an event")
                    continue
                yield line, clean

    return reading, records()


def _json_lines(fh: Any, reading: Reading) -> Iterator[tuple[int, Any]]:
    for i, text in enumerate(fh, start=1):
        if not text.strip():
            continue
        try:
            yield i, orjson.loads(text)
        except orjson.JSONDecodeError:
            reading.lines += 1
            reading.refuse(i, "bad_json", "not a JSON object")


def export_parquet(store: Store, out: str, site: str | None = None, start: datetime | None = None,
                   end: datetime | None = None, overwrite: bool = False) -> int:
    """Write the events as out/site=.../date=.../*.parquet; returns how many were written."""
    if os.path.exists(out) and not os.path.isdir(out):
        raise ValueError(f"{out} exists and is not a folder")
    if os.path.isdir(out) and os.listdir(out) and not overwrite:
        raise ValueError(f"{out} is not empty; give an empty folder, or --overwrite to replace its content")
    try:
        os.makedirs(out, exist_ok=True)
    except OSError as e:
        raise ValueError(f"cannot create the folder {out}: {e.strerror}") from None
    params = {"site": site, "start": start, "end": end}
    cur = store.cursor()
    try:
        count_row = cur.execute("SELECT count(*) FROM event_log WHERE ($start IS NULL OR ts >= $start) "
                                "AND ($end IS NULL OR ts < $end) AND ($site IS NULL OR site = $site)",
                                params).fetchall()
        count = int(count_row[0][0])
        if count:
            rel = cur.sql(sql("export"), params=params)
            rel.write_parquet(out, partition_by=["site", "date"], overwrite=overwrite)
    finally:
        cur.close()
    return count
