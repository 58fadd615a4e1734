"""What a command works with (Env: the store, the registry, the settings, where to print and the caller's
folder) and the --db option that makes one. A command is written once against an Env: it runs the same on
the database file and inside a running collector (cli/channel.py)."""

from __future__ import annotations

import atexit
import functools
import os
import pwd
import shlex
import sys
from collections.abc import Callable
from typing import IO, Any, TypeVar

import click

from webleads.collector.fileformat import NeedsMigration
from webleads.collector.reader import Reader
from webleads.collector.registry import Registry
from webleads.collector.schema import SchemaBehind
from webleads.collector.settings import (
    SYSTEM_CONFIG,
    Settings,
    SettingsError,
    database_path,
    load_settings,
    no_database,
)
from webleads.collector.store import DatabaseLocked, Store

from .channel import forward, serving
from .reads import reads_only

F = TypeVar("F", bound=Callable[..., Any])


class Env:
    """The store, the registry, the settings and where to print, for one command."""

    def __init__(self, db: str, out: IO[str] | None = None, err: IO[str] | None = None, tty: bool | None = None,
                 collector: Any = None, found_by: str = "--db", cwd: str | None = None) -> None:
        self.db = db
        # What named the database: "--db" (a new file may be made there), or WEBLEADS_DB, the settings
        # file, "default" (./webleads.duckdb): then the file must exist, so that a command run in the
        # wrong folder says so instead of starting an empty database.
        self.found_by = found_by
        self.lake: tuple[str, str | None] | None = None  # --lake CATALOG, --lake-data PATH (cli/lake.py)
        self.out = out
        self.err = err
        self.tty = sys.stdout.isatty() if tty is None else tty
        self.collector = collector
        # The caller's folder: a command run inside the collector resolves the files it is given there.
        self.cwd = cwd or os.getcwd()
        self._store: Store | None = collector.store if collector else None
        self._registry: Registry | None = collector.registry if collector else None

    @property
    def remote(self) -> bool:
        return self.collector is not None

    def path(self, name: str) -> str:
        """A file named by the caller, as this process can open it."""
        return os.path.join(self.cwd, os.path.expanduser(name))

    @property
    def err_stream(self) -> IO[str]:
        return self.err if self.err is not None else sys.stderr

    @property
    def settings(self) -> Settings:
        if self.collector is not None:
            return self.collector.settings  # type: ignore[no-any-return]
        try:
            return load_settings({"db": self.db})
        except SettingsError as exc:
            raise click.ClickException(str(exc)) from None

    @property
    def store(self) -> Store:
        if self._store is None and self.lake:
            from .lake import open_reader  # the lake's extensions load only for a command given --lake

            self._store = open_reader(*self.lake)
            atexit.register(self._store.close)
        if self._store is None:
            if self.found_by != "--db" and not os.path.exists(self.db):
                raise click.ClickException(no_database(self.db, self.found_by))
            check_owner(self.db)
            try:
                self._store = Reader(self.db) if reads_only() and os.path.exists(self.db) else Store(self.db)
            except DatabaseLocked:
                raise click.ClickException(
                    f"{self.db} is locked by another process that is not a webleads collector (or its "
                    ".serve.json file is gone); stop that process and try again.") from None
            except (NeedsMigration, SchemaBehind) as exc:
                raise click.ClickException(str(exc)) from None
            except Exception as exc:  # duckdb.IOException and friends: say it in one line
                raise click.ClickException(f"cannot open the database {self.db}: {exc}") from None
            atexit.register(self._store.close)
        return self._store

    @property
    def registry(self) -> Registry:
        if self._registry is None:
            self._registry = Registry(self.store)
        return self._registry

    def echo(self, text: str = "", nl: bool = True, err: bool = False) -> None:
        click.echo(text, file=(self.err if err else self.out), nl=nl, err=err)

    def close(self) -> None:
        if self._store is not None and self.collector is None:
            atexit.unregister(self._store.close)
            self._store.close()
            self._store = None


def check_owner(db: str) -> None:
    """A database file of another user (the service's): opened by this one, DuckDB would leave a log
    or checkpoint the service cannot write, root's included. Say which user to run the command as."""
    try:
        owner = os.stat(db).st_uid
    except OSError:
        return
    if owner != os.geteuid():
        try:
            name = pwd.getpwuid(owner).pw_name
        except KeyError:
            name = str(owner)
        args = " ".join(shlex.quote(a) for a in sys.argv[1:]) or "..."
        raise click.ClickException(f"{db} belongs to user {name}; run this command as {name}: "
                                   f"sudo -u {name} webleads {args}")


def db_option(fn: F) -> F:
    """Adds --db (default: WEBLEADS_DB, the settings file's db, or ./webleads.duckdb) and passes an Env.
    When a running collector holds that file, the command is sent to it (cli/channel.py) instead."""

    @click.option("--db", "db_path", default=None,
                  help=f"The DuckDB file [WEBLEADS_DB, else db in {SYSTEM_CONFIG}, else ./webleads.duckdb].")
    @click.option("--lake", "lake_catalog", envvar="WEBLEADS_LAKE", default=None,
                  help="Read a DuckLake instead: its catalog [WEBLEADS_LAKE].")
    @click.option("--lake-data", envvar="WEBLEADS_LAKE_DATA", default=None,
                  help="The lake's data path [WEBLEADS_LAKE_DATA].")
    @click.pass_context
    @functools.wraps(fn)
    def wrapper(ctx: click.Context, db_path: str | None, lake_catalog: str | None = None,
                lake_data: str | None = None, **kwargs: Any) -> Any:
        if isinstance(ctx.obj, Env) and ctx.obj.remote:
            return fn(ctx.obj, **kwargs)
        found_by = "--db"
        if db_path is None:
            db_path, found_by = database_path()
        if not lake_catalog:
            info = serving(db_path)
            if info is not None:
                ctx.exit(forward(info, ctx, kwargs))
        env = ctx.obj if isinstance(ctx.obj, Env) else Env(db_path, found_by=found_by)
        env.db, env.found_by = db_path, found_by
        env.lake = (lake_catalog, lake_data) if lake_catalog else None
        return fn(env, **kwargs)

    return wrapper  # type: ignore[return-value]
