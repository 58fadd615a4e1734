"""Operations: retention purge, consistent backups and restores, and `webleads doctor` checks."""

from __future__ import annotations

import contextlib
import os
import pwd
import re
import shutil
import stat
import time
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

import duckdb

from .fileformat import STORAGE_VERSION, needs_migration
from .journal import SUFFIX as JOURNAL_SUFFIX
from .rows import utcnow
from .schema import quote_literal
from .storage import Storage

PURGE_CHUNK = 50_000


def months_ago(now: datetime, months: int) -> datetime:
    """The same instant `months` calendar months earlier (clamped to the month's last day)."""
    year, month = divmod(now.year * 12 + now.month - 1 - months, 12)
    month += 1
    for day in (now.day, 30, 29, 28):
        try:
            return now.replace(year=year, month=month, day=day)
        except ValueError:
            continue
    raise AssertionError("unreachable")


def retention_cutoffs(store: Storage, default_months: int, now: datetime) -> dict[str, datetime]:
    """Per site: events before this instant are past the retention period."""
    rows = store.query("SELECT name, retention_months FROM sites")
    cutoffs = {r["name"]: months_ago(now, r["retention_months"] or default_months) for r in rows}
    # events of sites no longer registered still age out, with the default period
    for r in store.query("SELECT DISTINCT site FROM event_log"):
        cutoffs.setdefault(r["site"], months_ago(now, default_months))
    return cutoffs


def purge(store: Storage, default_months: int, now: datetime | None = None, dry_run: bool = False) -> dict[str, int]:
    """Delete events older than each site's retention period; returns the count per site.

    Deletes go through the writer in chunks of PURGE_CHUNK rows, each its own short transaction,
    so ingest waits at most one chunk. Nothing younger than the cutoff is touched. After deleting,
    the store checkpoints and merges its row groups, so the space of the deleted events is reused."""
    now = now or utcnow()
    store.settle()  # the events still in the journal count too
    counts: dict[str, int] = {}
    for site, cutoff in sorted(retention_cutoffs(store, default_months, now).items()):
        n = store.query("SELECT count(*) AS n FROM event_log WHERE site = $s AND ts < $t",
                        {"s": site, "t": cutoff})[0]["n"]
        if n:
            counts[site] = n
        if dry_run or not n:
            continue
        while True:
            deleted = store.run_write(lambda conn, s=site, t=cutoff: _delete_chunk(conn, s, t))
            if deleted < PURGE_CHUNK:
                break
    if not dry_run:  # the short links' scans and the leads' outcomes age out with the events
        for site, cutoff in retention_cutoffs(store, default_months, now).items():
            store.run_write(lambda conn, s=site, t=cutoff: conn.execute(
                "DELETE FROM link_scans WHERE ts < $t AND code IN (SELECT code FROM short_links WHERE site = $s)",
                {"s": s, "t": t}))
        store.run_write(lambda conn: conn.execute(
            "DELETE FROM lead_outcomes WHERE lead_id NOT IN "
            "(SELECT event_id FROM event_log WHERE type = 'conversion')"))
    if counts and not dry_run:
        store.compact()
    return counts


def _delete_chunk(conn: duckdb.DuckDBPyConnection, site: str, cutoff: datetime) -> int:
    row = conn.execute(
        "DELETE FROM event_log WHERE rowid IN (SELECT rowid FROM event_log WHERE site = $s AND ts < $t LIMIT $n)",
        {"s": site, "t": cutoff, "n": PURGE_CHUNK}).fetchone()
    return int(row[0]) if row else 0


# --- backups -----------------------------------------------------------------------------------
# Left empty in backups: a copy of the daily salts would make the day's visitor hashes linkable
# back to an IP address and user-agent for as long as the copy is kept; a restored copy signs the
# dashboard's users out rather than bring back sessions ended since.
NOT_BACKED_UP = ("daily_salts", "dashboard_sessions")


def backup(store: Storage, dest: str) -> int:
    """Copy the database to a new DuckDB file `dest` (mode 0600), as one consistent snapshot, with
    every table but NOT_BACKED_UP (their schema only).

    Runs on a reading cursor, in one transaction: DuckDB's snapshot isolation gives a consistent copy
    while the writer keeps committing. Returns the number of events in the copy."""
    target = Path(dest).resolve()
    if target.exists():
        raise FileExistsError(f"{target} exists already; give a new file name (backups never overwrite)")
    target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    alias = f"backup_{os.getpid()}_{int(time.time() * 1000)}"
    store.settle()  # the events still in the journal, into event_log
    cur = store.cursor()
    try:
        source = cur.execute("SELECT current_database()").fetchone()[0]  # type: ignore[index]
        cur.execute(f"ATTACH '{quote_literal(str(target))}' AS {alias} (STORAGE_VERSION '{STORAGE_VERSION}')")
        os.chmod(target, 0o600)
        try:
            cur.execute(f"COPY FROM DATABASE {source} TO {alias} (SCHEMA)")
            cur.execute("BEGIN TRANSACTION")
            tables = cur.execute("SELECT schema_name, table_name FROM duckdb_tables() "
                                 "WHERE database_name = $d AND NOT internal AND NOT temporary",
                                 {"d": source}).fetchall()
            for schema, table in tables:
                if table in NOT_BACKED_UP:
                    continue
                name = f"{_ident(schema)}.{_ident(table)}"
                cur.execute(f"INSERT INTO {alias}.{name} SELECT * FROM {_ident(source)}.{name}")
            count = cur.execute(f"SELECT count(*) FROM {alias}.event_log").fetchone()[0]  # type: ignore[index]
            cur.execute("COMMIT")
        except Exception:
            with contextlib.suppress(duckdb.Error):
                cur.execute("ROLLBACK")
            raise
        finally:
            cur.execute(f"DETACH {alias}")
    except Exception:
        target.unlink(missing_ok=True)
        Path(str(target) + ".wal").unlink(missing_ok=True)
        raise
    finally:
        cur.close()
    return int(count)


def _ident(name: str) -> str:
    """A quoted SQL identifier (names read from DuckDB's catalog)."""
    return '"' + name.replace('"', '""') + '"'


class RestoreError(Exception):
    """The backup cannot be put in place; the message says why and what to do."""


def restore(backup_file: str, db: str) -> tuple[int, str | None]:
    """Put a backup in place of `db` (the collector must be stopped). The current file, if any, is
    kept beside it as `<db>.before-restore-<time>`. Returns (events, path of the kept file).

    The restored file gets the owner, group and mode of the file it replaces (or, for a new file, the
    owner and group of its folder, mode 0600): restored by root, it stays the service's. It is copied
    beside the database first and put in place only once it opens and has that owner, so a restore
    never leaves a file the service cannot open."""
    source = Path(backup_file).resolve()
    if not source.is_file():
        raise FileNotFoundError(f"no backup at {source}")
    count = _count_events(source)
    target = Path(db).resolve()
    if not target.parent.is_dir():
        raise RestoreError(f"no folder {target.parent} for the database")
    like = os.stat(target) if target.exists() else os.stat(target.parent)
    owner, group = like.st_uid, like.st_gid
    mode = (stat.S_IMODE(like.st_mode) | 0o600) & 0o666 if target.exists() else 0o600
    if os.geteuid() not in (0, owner):
        name = _user_name(owner)
        raise RestoreError(f"{target if target.exists() else target.parent} belongs to user {name}; run the "
                           f"restore as {name} (sudo -u {name} webleads restore ...) or as root")
    if target.exists():
        try:
            with duckdb.connect(str(target), read_only=True):  # fails fast if a collector holds it
                pass
        except duckdb.IOException as exc:
            if needs_migration(str(target), exc) is None:  # a file of an earlier release is replaced all the same
                raise
    staged = target.with_name(f".{target.name}.restore-{os.getpid()}.tmp")
    try:
        shutil.copyfile(source, staged)
        os.chmod(staged, mode)
        if os.geteuid() == 0:
            os.chown(staged, owner, group)
        _check_restorable(staged, owner, count)
        stamp = f"{target}.before-restore-{utcnow():%Y%m%d%H%M%S}"
        kept = None
        if target.exists():
            kept = stamp
            target.rename(kept)
        # its log and its journal (events they may still hold belong to the old database), also when
        # the file itself is gone: the restored one must not take them in at its first start
        for suffix in (".wal", JOURNAL_SUFFIX):
            companion = Path(str(target) + suffix)
            if companion.exists():
                companion.rename(stamp + suffix)
        os.replace(staged, target)
    finally:
        staged.unlink(missing_ok=True)
    return count, kept


def _count_events(path: Path) -> int:
    try:
        with duckdb.connect(str(path), read_only=True) as conn:
            return int(conn.execute("SELECT count(*) FROM event_log").fetchone()[0])  # type: ignore[index]
    except duckdb.IOException as exc:  # a backup made by an earlier release: convert it first
        too_new = needs_migration(str(path), exc)
        if too_new is not None:
            raise too_new from None
        raise


def _check_restorable(path: Path, owner: int, count: int) -> None:
    """The copy opens, holds the backup's events, and belongs to the user who must open it."""
    info = os.stat(path)
    if info.st_uid != owner or info.st_mode & 0o600 != 0o600:
        raise RestoreError(f"the restored copy would belong to {_user_name(info.st_uid)} with mode "
                           f"{stat.S_IMODE(info.st_mode):o}, not to {_user_name(owner)} (who runs the collector); "
                           "run the restore as root or as that user")
    try:
        found = _count_events(path)
    except Exception as exc:  # noqa: BLE001 - any DuckDB error means the service could not open it either
        raise RestoreError(f"the restored copy does not open: {exc}") from None
    if found != count:
        raise RestoreError(f"the restored copy holds {found} events, the backup {count}; the disk may be full")


def _user_name(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return f"uid {uid}"


# --- rotation: keep the newest backup of each of the last N days and of the last M weeks -----------
BACKUP_NAME = re.compile(r"webleads-(\d{4}-\d{2}-\d{2})-(\d{6})(?:-(\d+))?\.duckdb")


def backup_name(folder: str, now: datetime) -> str:
    """A new file in `folder` named after the time (UTC); a second one in the same second gets -2, -3..."""
    stem = f"webleads-{now:%Y-%m-%d-%H%M%S}"
    name, n = f"{stem}.duckdb", 1
    while os.path.lexists(os.path.join(folder, name)):
        n += 1
        name = f"{stem}-{n}.duckdb"
    return os.path.join(folder, name)


def to_rotate(names: list[str], keep_daily: int, keep_weekly: int) -> list[str]:
    """The backups (named by backup_name) to delete: every one but the newest of each of the `keep_daily`
    most recent days that have one, and the newest of each of the `keep_weekly` most recent ISO weeks.
    Other files in the folder are never touched."""
    dated = sorted(((m.group(1), m.group(2), int(m.group(3) or 1), name) for name in names
                    if (m := BACKUP_NAME.fullmatch(name))), reverse=True)
    keep: set[str] = set()
    days: list[str] = []
    weeks: list[tuple[int, int]] = []
    for day, _time, _n, name in dated:  # newest first: the first seen of a day or week is its newest
        if day not in days:
            days.append(day)
            if len(days) <= keep_daily:
                keep.add(name)
        week = tuple(date.fromisoformat(day).isocalendar())[:2]
        if week not in weeks:
            weeks.append(week)  # type: ignore[arg-type]
            if len(weeks) <= keep_weekly:
                keep.add(name)
    return [name for *_when, name in dated if name not in keep]


def rotate(folder: str, keep_daily: int, keep_weekly: int) -> list[str]:
    """Delete the backups of `folder` that to_rotate names (with a left-over log); returns their names."""
    gone = to_rotate(os.listdir(folder), keep_daily, keep_weekly)
    for name in gone:
        Path(folder, name).unlink(missing_ok=True)
        Path(folder, name + ".wal").unlink(missing_ok=True)
    return gone


# --- doctor ------------------------------------------------------------------------------------
@dataclass
class Check:
    ok: bool
    what: str
    advice: str = ""
    warning: bool = False
