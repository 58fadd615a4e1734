"""The `webleads` command line (a click group). Commands are written once against an Env; they run
directly on the database file, or inside the running collector when it holds the file."""

from __future__ import annotations

import atexit
import functools
import importlib.metadata
import io
import logging
import os
import pwd
import shlex
import sys
from collections.abc import Callable
from typing import Any, TypeVar

import click

from webleads.collector.fileformat import NeedsMigration
from webleads.collector.reader import Reader
from webleads.collector.registry import (
    Registry,
    RegistryError,
    create_token,
    delete_site_events,
    embed_tag,
    list_tokens,
    revoke_token,
)
from webleads.collector.remote import ChannelRefused, call_collector, read_serve_file
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

from .lake import open_reader
from .reads import reads_only

F = TypeVar("F", bound=Callable[..., Any])


class RunRemotely(Exception):
    """The database is held by a running collector: send this command to it."""

    def __init__(self, db: str) -> None:
        super().__init__(db)
        self.db = db


class Env:
    """What a command works with: the store, the registry, the settings and where to print."""

    def __init__(self, db: str, out: Any = None, err: Any = None, tty: bool | None = None,
                 collector: Any = None, found_by: str = "--db") -> None:
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
        if self._store is None and self.lake:
            self._store = open_reader(*self.lake)
            atexit.register(self._store.close)
        if self._store is None:
            if self.found_by != "--db" and not os.path.exists(self.db):
                raise click.ClickException(no_database(self.db, self.found_by))
            check_owner(self.db)
            try:
                self._store = Reader(self.db) if reads_only() and os.path.exists(self.db) else Store(self.db)
            except DatabaseLocked:
                raise RunRemotely(self.db) from None
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
    """Adds --db (default: WEBLEADS_DB, the settings file's db, or ./webleads.duckdb) and passes an Env."""

    @click.option("--db", "db_path", default=None,
                  help=f"The DuckDB file [WEBLEADS_DB, else db in {SYSTEM_CONFIG}, else ./webleads.duckdb].")
    @click.option("--lake", "lake_catalog", envvar="WEBLEADS_LAKE", default=None,
                  help="Read a DuckLake instead: its catalog [WEBLEADS_LAKE].")
    @click.option("--lake-data", envvar="WEBLEADS_LAKE_DATA", default=None,
                  help="The lake's data path [WEBLEADS_LAKE_DATA].")
    @click.pass_context
    @functools.wraps(fn)
    def wrapper(ctx: click.Context, db_path: str | None, lake_catalog: str | None, lake_data: str | None,
                **kwargs: Any) -> Any:
        if isinstance(ctx.obj, Env) and ctx.obj.remote:
            return fn(ctx.obj, **kwargs)
        found_by = "--db"
        if db_path is None:
            db_path, found_by = database_path()
        env = ctx.obj if isinstance(ctx.obj, Env) else Env(db_path, found_by=found_by)
        env.db, env.found_by = db_path, found_by
        env.lake = (lake_catalog, lake_data) if lake_catalog else None
        return fn(env, **kwargs)

    return wrapper  # type: ignore[return-value]


def version_message() -> str:
    """`webleads --version`: the release, or the commit it was built from (setuptools-scm's +g<hash>)."""
    try:
        version = importlib.metadata.version("webleads-tracker")
    except importlib.metadata.PackageNotFoundError:
        return "%(prog)s, version unknown (not installed: pip install .)"
    if "+g" in version:
        commit = version.split("+g", 1)[1].split(".", 1)[0]
        return f"%(prog)s {version} (built from commit {commit}, not a release; see CHANGELOG.md)"
    return f"%(prog)s {version}"


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="webleads-tracker", message=version_message())
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
@click.option("--alert-command", default=None,
              help="A shell command run when a site goes quiet and when it comes back (README: the alarm).")
@click.option("--alert-webhook", default=None, help="A URL that gets a JSON POST at the same moments.")
@click.option("--config", "config_file", default=None, help="A TOML file of settings.")
def serve(db_path: str | None, host: str | None, port: int | None, geoip: str | None,
          trusted_proxies: tuple[str, ...], public_url: str | None, workers: int | None,
          alert_command: str | None, alert_webhook: str | None, config_file: str | None) -> None:
    """Run the collector, the report API and the dashboard."""
    import shutil
    import tempfile

    import uvicorn

    from webleads.collector.app import create_app
    from webleads.collector.front import FromFront, Fronts, ServerWithFronts, bind_public, quiet_uvicorn
    from webleads.collector.guard import guarded_protocol
    from webleads.collector.remote import CHANNEL_NAME, CommandChannel, remove_serve_file, write_serve_file

    try:
        settings = load_settings({"db": db_path, "host": host, "port": port, "geoip": geoip,
                                  "trusted_proxies": trusted_proxies, "public_url": public_url,
                                  "workers": workers, "alert_command": alert_command,
                                  "alert_webhook": alert_webhook}, config_file=config_file)
    except SettingsError as exc:
        raise click.ClickException(str(exc)) from None
    logging.basicConfig(level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    from webleads.collector.enrich import Geo, GeoIPError

    try:  # a file no lookup could read is refused now, not found out event by event
        Geo(settings.geoip or None).close()
    except GeoIPError as exc:
        raise click.ClickException(str(exc)) from None
    check_owner(settings.db)
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

    # The private run directory (mode 0700): the command channel's socket, and with front processes
    # their link to this one and this process's own socket.
    rundir = tempfile.mkdtemp(prefix="webleads-")
    channel_path = os.path.join(rundir, CHANNEL_NAME)

    def started(collector: Any) -> None:
        info = write_serve_file(settings.db, channel_path, local_url)
        channel = CommandChannel(channel_path, info.secret, lambda argv, tty: run_in_collector(collector, argv, tty))
        channel.start()
        app.state.serve_info, app.state.command_channel = info, channel
        click.echo(f"webleads is collecting into {settings.db}\n"
                   f"  open {settings.base_url}/ to see what to do next "
                   f"(dashboard: {settings.base_url}/dashboard)\n"
                   f"  {len(collector.registry.sites)} site(s) registered; Ctrl+C stops it")

    def stopping(collector: Any) -> None:
        remove_serve_file(settings.db, getattr(app.state, "serve_info", None))
        channel = getattr(app.state, "command_channel", None)
        if channel is not None:
            channel.close()  # running commands finish before the store closes

    app.state.on_started = started
    app.state.on_stopping = stopping
    # X-Forwarded-For is read by the collector, from --trusted-proxy only (proxy_headers off).
    common: dict[str, Any] = {"access_log": False, "loop": "auto", "http": "auto", "timeout_graceful_shutdown": 30,
                              "server_header": False, "proxy_headers": False}
    try:
        if settings.workers == 0:
            # The public port: uvicorn's protocol with deadlines and size caps (collector/guard.py).
            def refused(exc: Any) -> None:
                collector = getattr(app.state, "collector", None)
                if collector is not None:
                    collector.reject(exc)

            public = {**common, "http": guarded_protocol(refused), "ws": "none"}
            uvicorn.Server(uvicorn.Config(app, host=settings.host, port=settings.port,
                                          log_level=settings.log_level, **public)).run()
            return
        # Front processes answer the public port; this process keeps the database and answers the
        # rest over a unix socket in a private directory (collector/front.py).
        try:
            sock = bind_public(settings.host, settings.port)
        except OSError as exc:
            raise click.ClickException(str(exc.strerror)) from None
        fronts = Fronts(settings, sock, os.path.join(rundir, "link.sock"), os.path.join(rundir, "core.sock"))
        app.state.fronts = fronts
        server = ServerWithFronts(uvicorn.Config(FromFront(app), uds=fronts.core_path,
                                                 log_level=quiet_uvicorn(settings.log_level), **common), fronts)
        server.run()
        if not server.started:
            raise click.ClickException("the collector did not start; see the messages above")
    finally:
        store.close()
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
@click.option("--origin", "origins", multiple=True,
              help="Replace the site's origins with these (repeatable), e.g. https://www.example.org.")
@click.option("--add-origin", "add_origins", multiple=True, help="Add an origin; repeatable.")
@click.option("--remove-origin", "remove_origins", multiple=True, help="Remove an origin; repeatable.")
@click.option("--consent", type=click.Choice(["optional", "required"]), default=None,
              help="'required': the snippet sends nothing before consent.")
@click.option("--retention-months", type=int, default=None, help="Keep this site's events N months.")
@db_option
def site_set(env: Env, name: str, origins: tuple[str, ...], add_origins: tuple[str, ...],
             remove_origins: tuple[str, ...], consent: str | None, retention_months: int | None) -> None:
    """Change a site's origins, consent mode or retention period."""
    try:
        updated = env.registry.update_site(name, consent, retention_months, list(origins), list(add_origins),
                                           list(remove_origins))
    except RegistryError as exc:
        raise click.ClickException(str(exc)) from None
    months = updated.retention_months or env.settings.retention_months
    env.echo(f"Site '{name}': origins {', '.join(updated.origins)}; consent {updated.consent}, "
             f"retention {months} months.")
    if consent:
        env.echo("Update the tag on the site's pages:")
        env.echo(embed_tag(env.settings.base_url, env.settings.script_path, name, updated.consent))


@site.command("remove")
@click.argument("name")
@click.option("--purge-events", is_flag=True, help="Also delete every event of the site (cannot be undone).")
@click.option("--yes", is_flag=True, help="Confirm --purge-events.")
@db_option
def site_remove(env: Env, name: str, purge_events: bool, yes: bool) -> None:
    """Unregister site NAME: its beacons are refused from now on. Its events stay (and age out with the
    retention period) unless --purge-events --yes, which also deletes the events of a site removed before."""
    registered = env.registry.get(name) is not None
    count = env.store.query("SELECT count(*) AS n FROM event_log WHERE site = $s", {"s": name})[0]["n"]
    if not registered and not (purge_events and count):
        raise click.ClickException(f"no site named {name!r} (registered: {', '.join(env.registry.sites) or 'none'})")
    if purge_events and not yes:
        raise click.ClickException(f"this would delete the {count} event(s) of site {name!r} for good; "
                                   "run again with --yes to confirm (make a backup first: webleads backup FILE)")
    if registered:
        try:
            deleted = env.registry.remove_site(name, purge_events=purge_events)
        except RegistryError as exc:
            raise click.ClickException(str(exc)) from None
    else:
        deleted = delete_site_events(env.store, name)
    if purge_events:
        env.echo(f"Site '{name}' removed, with its {deleted} event(s).")
    else:
        env.echo(f"Site '{name}' removed. Its {count} event(s) stay until the retention period ends; to delete "
                 f"them now: webleads site remove {name} --purge-events --yes")


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


@token.command("list")
@db_option
def token_list(env: Env) -> None:
    """List the tokens: id, name, creation and last use (never the token itself)."""
    tokens = list_tokens(env.store)
    if not tokens:
        env.echo("No token yet. Create one: webleads token create --name NAME")
        return
    env.echo("id        name                  created           last used")
    for t in tokens:
        used = f"{t.last_used_at:%Y-%m-%d %H:%M}" if t.last_used_at else "never"
        env.echo(f"{t.id}  {t.name[:20]:<20}  {t.created_at:%Y-%m-%d %H:%M}  {used}")
    env.echo("(times in UTC; the last use is recorded at most every 10 minutes)")


@token.command("revoke")
@click.argument("token_id")
@db_option
def token_revoke(env: Env, token_id: str) -> None:
    """Revoke a token by its id (from `webleads token list`) or its name: the API refuses it at once, and
    the dashboard signs its sessions out within a minute."""
    try:
        revoked = revoke_token(env.store, token_id)
    except RegistryError as exc:
        raise click.ClickException(str(exc)) from None
    for t in revoked:
        env.echo(f"Token {t.id} ({t.name}) revoked.")


def _register_extensions() -> None:
    from webleads.analytics import cli as analytics_cli
    from webleads.collector import cli_ops

    from . import backoffice, board, lake, links

    cli_ops.register(cli)
    analytics_cli.register(cli)
    analytics_cli.report.add_command(board.report_board)
    cli.add_command(links.link)
    cli.add_command(backoffice.cost)
    cli.add_command(backoffice.outcome)
    cli.add_command(lake.lake)


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
    # Every file webleads makes is its owner's only: the database, its log and journal hold the daily
    # salts and captured form fields, and DuckDB makes its log anew after each checkpoint.
    os.umask(os.umask(0o077) | 0o077)
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
    except ChannelRefused as exc:
        click.echo(f"Error: {exc}", err=True)
        return 1
    except OSError as exc:
        click.echo(f"Error: the collector holding {db} (pid {info.pid}) did not answer on {info.socket}: "
                   f"{exc}", err=True)
        return 1
    sys.stdout.write(answer.get("stdout", ""))
    sys.stderr.write(answer.get("stderr", ""))
    return int(answer.get("exit_code", 1))


_PATH_OPTIONS = ("--out", "--data", "--db", "--geoip", "--config", "--into")
_FILE_COMMANDS = ("import", "backup", "restore")


def _absolute_paths(args: list[str]) -> list[str]:
    """Files named on the command line are resolved here: the collector's working folder differs."""
    out = []
    previous = ""
    for index, arg in enumerate(args):
        positional = index > 0 and args[0] in _FILE_COMMANDS and not arg.startswith("-")
        # a backup's DEST is a new file: resolved whether or not it exists (not an option's value)
        dest = positional and args[0] == "backup" and not previous.startswith("-")
        if previous in _PATH_OPTIONS or (positional and os.path.exists(arg)) or dest:
            arg = os.path.abspath(arg)
        out.append(arg)
        previous = arg
    return out


if __name__ == "__main__":  # pragma: no cover
    main()
