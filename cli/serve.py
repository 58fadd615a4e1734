"""`webleads serve`: the collector, the report API and the dashboard, and the command channel that runs
`webleads` commands inside it while it holds the database."""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from typing import IO, Any

import click
import uvicorn

from webleads.collector.enrich import Geo, GeoIPError
from webleads.collector.fileformat import NeedsMigration
from webleads.collector.front import FromFront, Fronts, ServerWithFronts, bind_public, quiet_uvicorn
from webleads.collector.guard import guarded_protocol
from webleads.collector.remote import (
    CHANNEL_NAME,
    CommandChannel,
    read_serve_file,
    remove_serve_file,
    write_serve_file,
)
from webleads.collector.settings import SettingsError, load_settings
from webleads.collector.store import DatabaseLocked, Store

from .app import create_app
from .channel import run_inside
from .cli import cli
from .env import Env, check_owner


@click.command()
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
    try:
        settings = load_settings({"db": db_path, "host": host, "port": port, "geoip": geoip,
                                  "trusted_proxies": trusted_proxies, "public_url": public_url,
                                  "workers": workers, "alert_command": alert_command,
                                  "alert_webhook": alert_webhook}, config_file=config_file)
    except SettingsError as exc:
        raise click.ClickException(str(exc)) from None
    logging.basicConfig(level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
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
    except NeedsMigration as exc:  # a file of an earlier release: one line, no traceback
        raise click.ClickException(str(exc)) from None
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

        def run(request: dict[str, Any], out: IO[str], err: IO[str]) -> int:
            return run_inside(cli, lambda r, o, e: Env(collector.store.path, out=o, err=e, tty=o.isatty(),
                                                       collector=collector, cwd=r.get("cwd")), request, out, err)

        channel = CommandChannel(channel_path, info.secret, run)
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
