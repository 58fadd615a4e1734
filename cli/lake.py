"""`webleads lake`: move a file into a DuckLake, check one, compact one; and the reader the read commands
open when given `--lake CATALOG` (WEBLEADS_LAKE) and `--lake-data PATH` (WEBLEADS_LAKE_DATA)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any, TypeVar

import click
import duckdb

from webleads.collector import lake as lakes
from webleads.collector.lake_push import push_file
from webleads.collector.lake_reader import LakeReader

from .reads import READ_COMMANDS, reads_only

F = TypeVar("F", bound=Callable[..., Any])

LAKE_HELP = "A DuckLake catalog: postgres:dbname=... host=... [user=...], or a .ducklake file [WEBLEADS_LAKE]."
DATA_HELP = "Where the lake's Parquet files go: a folder or s3://bucket/prefix/ [WEBLEADS_LAKE_DATA]."


def open_reader(catalog: str, data_path: str | None) -> LakeReader:
    """The reader of a read command run with --lake; a clear refusal for the commands that write."""
    if not reads_only():
        raise click.ClickException(f"--lake works with the commands that read ({', '.join(READ_COMMANDS)}) "
                                   "and with `webleads lake`; this command does not take it yet")
    try:
        return LakeReader(catalog, data_path)
    except lakes.LakeError as exc:
        raise click.ClickException(str(exc)) from None


def _lake_options(fn: F) -> F:
    fn = click.option("--lake-data", "data_path", envvar="WEBLEADS_LAKE_DATA", default=None, help=DATA_HELP)(fn)
    return click.option("--lake", "catalog", envvar="WEBLEADS_LAKE", required=True, help=LAKE_HELP)(fn)


def _connect(catalog: str, data_path: str | None) -> duckdb.DuckDBPyConnection:
    try:
        return lakes.connect(catalog, data_path)
    except lakes.LakeError as exc:
        raise click.ClickException(str(exc)) from None


@click.group()
def lake() -> None:
    """A DuckLake shared by many collectors: move a file into it, check it, compact it."""


@lake.command("push")
@click.option("--db", "db_path", envvar="WEBLEADS_DB", required=True, help="The DuckDB file to copy [WEBLEADS_DB].")
@_lake_options
def lake_push(db_path: str, catalog: str, data_path: str | None) -> None:
    """Copy the file's events, sites and tokens into the lake; run again, it adds only what is missing."""
    conn = _connect(catalog, data_path)
    try:
        def told(month: date, added: int, in_file: int) -> None:
            click.echo(f"{month:%Y-%m}: {added} of the month's {in_file} event(s) added", err=True)
        counts = push_file(conn, db_path, told)
    except lakes.LakeError as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        conn.close()
    click.echo(f"{counts['events']} event(s), {counts['sites']} site(s), {counts['tokens']} token(s) added.")


@lake.command("check")
@_lake_options
def lake_check(catalog: str, data_path: str | None) -> None:
    """The extensions, the catalog and the data path, one line each; exit status 1 if one fails."""
    lines = lakes.check(catalog, data_path)
    for what, fine, detail in lines:
        click.echo(f"{'ok' if fine else 'FAIL':4}  {what}: {detail}")
    if not all(fine for _, fine, _ in lines):
        raise click.exceptions.Exit(1)


@lake.command("compact")
@_lake_options
def lake_compact(catalog: str, data_path: str | None) -> None:
    """Merge the small Parquet files, expire old snapshots, delete the files nothing needs."""
    conn = _connect(catalog, data_path)
    try:
        before = lakes.data_files(conn)
        lakes.compact(conn)
        click.echo(f"event files: {before} before, {lakes.data_files(conn)} after.")
    finally:
        conn.close()
