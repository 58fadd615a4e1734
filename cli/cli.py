"""The `webleads` command line (a click group). Commands are written once against an Env; they run
directly on the database file, or inside the running collector when it holds the file."""

from __future__ import annotations

import atexit
import functools
import io
import logging
import os
import sys
from collections.abc import Callable
from typing import Any, TypeVar

import click

from webleads.collector.fileformat import NeedsMigration
from webleads.collector.registry import Registry, RegistryError, create_token, embed_tag
from webleads.collector.remote import call_collector, read_serve_file
from webleads.collector.settings import Settings, SettingsError, load_settings
from webleads.collector.store import DatabaseLocked, Store

F = TypeVar("F", bound=Callable[..., Any])
DEFAULT_DB = "webleads.duckdb"


class RunRemotely(Exception):
    """The database is held by a running collector: send this command to it."""

    def __init__(self, db: str) -> None:
        super().__init__(db)
        self.db = db


class Env:
    """What a command works with: the store, the registry, the settings and where to print."""

    def __init__(self, db: str, out: Any = None, err: Any = None, tty: bool | None = None,
                 collector: Any = None) -> None:
        self.db = db
        self.out = out
        self.err = err
        self.tty = sys.stdout.isatty() if tty is None else tty
        self.collector = collector
        self._store: Store | None = collector.store if collector else None
        self._registry: Registry | None = collector.registry if collector else None

    @property
    def remote(self) -> bool:
        return self.collector is not None

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
        if self._store is None:
            try:
                self._store = Store(self.db)
            except DatabaseLocked:
                raise RunRemotely(self.db) from None
            except NeedsMigration as exc:
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


def db_option(fn: F) -> F:
    """Adds --db (default ./webleads.duckdb or WEBLEADS_DB) and passes an Env as `env`."""

    @click.option("--db", "db_path", envvar="WEBLEADS_DB", default=DEFAULT_DB, show_default=True,
                  help="The DuckDB file.")
    @click.pass_context
    @functools.wraps(fn)
    def wrapper(ctx: click.Context, db_path: str, **kwargs: Any) -> Any:
        env = ctx.obj if isinstance(ctx.obj, Env) else Env(db_path)
        if not env.remote:
            env.db = db_path
        return fn(env, **kwargs)

    return wrapper  # type: ignore[return-value]


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="webleads-tracker")
def cli() -> None:
    """webleads: which campaigns bring leads, self-hosted.

    Start with `webleads serve`, then `webleads site add`, paste the tag it prints, and open
    the address `serve` printed.
    """


# --- serve --------------------------------------------------------------------------------------
@cli.command()
@click.option("--db", "db_path", envvar="WEBLEADS_DB", default=None, help="The DuckDB file [./webleads.duckdb].")
@click.option("--host", default=None, help="Address to listen on [127.0.0.1].")
@click.option("--port", type=int, default=None, help="Port to listen on [8000].")
@click.option("--geoip", default=None, help="A GeoLite2 or DB-IP .mmdb file (Country or City).")
@click.option("--trusted-proxy", "trusted_proxies", multiple=True,
              help="A proxy (IP or CIDR) whose X-Forwarded-For is believed; repeatable.")
@click.option("--public-url", default=None, help="The collector's address as browsers reach it.")
@click.option("--workers", type=int, default=None,
              help="Processes answering the public port [1]; 0 runs everything in one process.")
@click.option("--config", "config_file", default=None, help="A TOML file of settings.")
def serve(db_path: str | None, host: str | None, port: int | None, geoip: str | None,
          trusted_proxies: tuple[str, ...], public_url: str | None, workers: int | None,
          config_file: str | None) -> None:
    """Run the collector, the report API and the dashboard."""
    import shutil
    import tempfile

    import uvicorn

    from webleads.collector.app import create_app
    from webleads.collector.front import FromFront, Fronts, ServerWithFronts, bind_public, quiet_uvicorn
    from webleads.collector.remote import remove_serve_file, write_serve_file

    try:
        settings = load_settings({"db": db_path, "host": host, "port": port, "geoip": geoip,
                                  "trusted_proxies": trusted_proxies, "public_url": public_url,
                                  "workers": workers}, config_file=config_file)
    except SettingsError as exc:
        raise click.ClickException(str(exc)) from None
    logging.basicConfig(level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        store = Store(settings.db, settings.queue_events, settings.batch_events, settings.commit_linger_ms)
    except DatabaseLocked:
        info = read_serve_file(settings.db)
        where = f" (pid {info.pid}, {info.url})" if info else ""
        raise click.ClickException(f"{settings.db} is already used by a running collector{where}; "
                                   "stop it first, or give another --db") from None
    app = create_app(settings, store)
    local_url = f"http://{'127.0.0.1' if settings.host in ('0.0.0.0', '') else settings.host}:{settings.port}"
    if ":" in settings.host and settings.host != "::":
        local_url = f"http://[{settings.host}]:{settings.port}"

    def started(collector: Any) -> None:
        app.state.serve_info = write_serve_file(settings.db, local_url)
        click.echo(f"webleads is collecting into {settings.db}\n"
                   f"  open {settings.base_url}/ to see what to do next "
                   f"(dashboard: {settings.base_url}/dashboard)\n"
                   f"  {len(collector.registry.sites)} site(s) registered; Ctrl+C stops it")

    def stopping(collector: Any) -> None:
        remove_serve_file(settings.db, getattr(app.state, "serve_info", None))

    app.state.on_started = started
    app.state.on_stopping = stopping
    # X-Forwarded-For is read by the collector, from --trusted-proxy only (proxy_headers off).
    common: dict[str, Any] = {"access_log": False, "loop": "auto", "http": "auto", "timeout_graceful_shutdown": 30,
                              "server_header": False, "proxy_headers": False}
    rundir = None
    try:
        if settings.workers == 0:
            uvicorn.Server(uvicorn.Config(app, host=settings.host, port=settings.port,
                                          log_level=settings.log_level, **common)).run()
            return
        # Front processes answer the public port; this process keeps the database and answers the
        # rest over a unix socket in a private directory (collector/front.py).
        try:
            sock = bind_public(settings.host, settings.port)
        except OSError as exc:
            raise click.ClickException(str(exc.strerror)) from None
        rundir = tempfile.mkdtemp(prefix="webleads-")  # mode 0700
        fronts = Fronts(settings, sock, os.path.join(rundir, "link.sock"), os.path.join(rundir, "core.sock"))
        app.state.fronts = fronts
        server = ServerWithFronts(uvicorn.Config(FromFront(app), uds=fronts.core_path,
                                                 log_level=quiet_uvicorn(settings.log_level), **common), fronts)
        server.run()
        if not server.started:
            raise click.ClickException("the collector did not start; see the messages above")
    finally:
        store.close()
        if rundir:
            shutil.rmtree(rundir, ignore_errors=True)


# --- sites, snippets, tokens ----------------------------------------------------------------------
@cli.group()
def site() -> None:
    """Register and list the sites allowed to send events."""


@site.command("add")
@click.argument("name")
@click.option("--origin", "origins", multiple=True, required=True,
              help="An address the site's pages are served from, e.g. https://www.example.org; repeatable.")
@click.option("--allow-param", "allowed_params", multiple=True,
              help="A query parameter kept in stored URLs besides UTM and click ids; repeatable.")
@click.option("--consent", type=click.Choice(["optional", "required"]), default="optional", show_default=True,
              help="'required': the snippet sends nothing before consent (README: privacy tiers).")
@click.option("--retention-months", type=int, default=None, help="Keep this site's events N months [25].")
@click.option("--collector", "collector_url", default=None, help="The collector's public address for the tag.")
@db_option
def site_add(env: Env, name: str, origins: tuple[str, ...], allowed_params: tuple[str, ...], consent: str,
             retention_months: int | None, collector_url: str | None) -> None:
    """Register site NAME and print its embed tag."""
    try:
        added = env.registry.add_site(name, list(origins), list(allowed_params), consent, retention_months)
    except RegistryError as exc:
        raise click.ClickException(str(exc)) from None
    env.echo(f"Site '{added.name}' added (origins: {', '.join(added.origins)}).")
    env.echo("Paste this tag in the <head> of every page:")
    env.echo(embed_tag(_collector_url(env, collector_url), env.settings.script_path, added.name, added.consent))


@site.command("set")
@click.argument("name")
@click.option("--consent", type=click.Choice(["optional", "required"]), default=None,
              help="'required': the snippet sends nothing before consent.")
@click.option("--retention-months", type=int, default=None, help="Keep this site's events N months.")
@db_option
def site_set(env: Env, name: str, consent: str | None, retention_months: int | None) -> None:
    """Change a site's consent mode or retention period."""
    try:
        updated = env.registry.update_site(name, consent, retention_months)
    except RegistryError as exc:
        raise click.ClickException(str(exc)) from None
    months = updated.retention_months or env.settings.retention_months
    env.echo(f"Site '{name}': consent {updated.consent}, retention {months} months.")
    if consent:
        env.echo("Update the tag on the site's pages:")
        env.echo(embed_tag(env.settings.base_url, env.settings.script_path, name, updated.consent))


@site.command("list")
@db_option
def site_list(env: Env) -> None:
    """List the registered sites and their origins."""
    sites = env.registry.sites
    if not sites:
        env.echo("No site yet. Add one: webleads site add NAME --origin https://www.example.org")
    for s in sites.values():
        env.echo(f"{s.name}\t{' '.join(s.origins)}")


@cli.command()
@click.argument("name")
@click.option("--collector", "collector_url", default=None,
              help="The collector's public address, e.g. https://stats.example.org.")
@db_option
def snippet(env: Env, name: str, collector_url: str | None) -> None:
    """Print the embed tag of a registered site."""
    if env.registry.get(name) is None:
        known = ", ".join(env.registry.sites) or "none yet"
        raise click.ClickException(f"no site named {name!r} (registered: {known}); "
                                   f"add it with: webleads site add {name} --origin https://...")
    site_config = env.registry.get(name)
    env.echo(embed_tag(_collector_url(env, collector_url), env.settings.script_path, name,
                       site_config.consent if site_config else "optional"))


def _collector_url(env: Env, given: str | None) -> str:
    if given:
        if not given.startswith(("http://", "https://")):
            raise click.ClickException(f"--collector {given!r} must start with http:// or https://")
        return given.rstrip("/")
    return env.settings.base_url


@cli.group()
def token() -> None:
    """API tokens for the report API and the dashboard."""


@token.command("create")
@click.option("--name", default="default", show_default=True, help="A label to tell tokens apart.")
@db_option
def token_create(env: Env, name: str) -> None:
    """Print a new API token (shown once; only its hash is kept)."""
    env.echo(create_token(env.store, name))


def _register_extensions() -> None:
    from webleads.analytics import cli as analytics_cli
    from webleads.collector import cli_ops

    cli_ops.register(cli)
    analytics_cli.register(cli)


_register_extensions()


# --- running: here, or inside the collector ----------------------------------------------------
def run_in_collector(collector: Any, argv: list[str], tty: bool) -> tuple[int, str, str]:
    """Run a command inside the collector process (the local command channel)."""
    out, err = io.StringIO(), io.StringIO()
    env = Env(collector.store.path, out=out, err=err, tty=tty, collector=collector)
    try:
        result = cli.main(args=argv, prog_name="webleads", standalone_mode=False, obj=env)
        code = result if isinstance(result, int) else 0  # click returns Exit's code here
    except click.ClickException as exc:
        err.write(f"Error: {exc.format_message()}\n")
        code = exc.exit_code
    except click.exceptions.Exit as exc:
        code = exc.exit_code
    except click.Abort:
        err.write("Aborted.\n")
        code = 1
    except Exception as exc:  # noqa: BLE001 - reported to the caller, the collector keeps running
        logging.getLogger("webleads").exception("command %s failed in the collector", argv[:2])
        err.write(f"Error: {exc}\n")
        code = 1
    return code, out.getvalue(), err.getvalue()


def main(argv: list[str] | None = None) -> None:
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        result = cli.main(args=args, prog_name="webleads", standalone_mode=False)
        if isinstance(result, int) and result:  # click returns Exit's code when not standalone
            sys.exit(result)
    except RunRemotely as exc:
        sys.exit(_forward(exc.db, args))
    except NeedsMigration as exc:  # `serve` on a file of an earlier release: one line, no traceback
        click.echo(f"Error: {exc}", err=True)
        sys.exit(1)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(1)
    except KeyboardInterrupt:
        sys.exit(130)


def _forward(db: str, args: list[str]) -> int:
    info = read_serve_file(db)
    if info is None:
        click.echo(f"Error: {db} is locked by another process that is not a webleads collector "
                   "(or its .serve.json file is gone); stop that process and try again.", err=True)
        return 1
    absolute = _absolute_paths(args)
    try:
        answer = call_collector(info, absolute, sys.stdout.isatty())
    except OSError as exc:
        click.echo(f"Error: the collector holding {db} (pid {info.pid}) did not answer at {info.url}: "
                   f"{exc}", err=True)
        return 1
    sys.stdout.write(answer.get("stdout", ""))
    sys.stderr.write(answer.get("stderr", ""))
    return int(answer.get("exit_code", 1))


_PATH_OPTIONS = ("--out", "--data", "--db", "--geoip", "--config")
_FILE_COMMANDS = ("import", "backup", "restore")


def _absolute_paths(args: list[str]) -> list[str]:
    """Files named on the command line are resolved here: the collector's working folder differs."""
    out = []
    previous = ""
    for index, arg in enumerate(args):
        if previous in _PATH_OPTIONS or (
                index > 0 and args[0] in _FILE_COMMANDS and not arg.startswith("-") and os.path.exists(arg)):
            arg = os.path.abspath(arg)
        out.append(arg)
        previous = arg
    return out


if __name__ == "__main__":  # pragma: no cover
    main()
