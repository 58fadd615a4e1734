"""A command sent to the running collector that holds the database (collector/remote.py): the caller's
side, which sends the command as click parsed it, and the collector's side, which runs it on its own
store and streams what it prints."""

from __future__ import annotations

import logging
import os
import socket
import sys
from collections.abc import Callable
from typing import IO, Any

import click

from webleads.collector.remote import ChannelRefused, ServeInfo, call_collector, open_channel, read_serve_file

log = logging.getLogger("webleads")


def serving(db: str) -> tuple[ServeInfo, socket.socket] | None:
    """The running collector that holds `db` and an open channel to it, or None when no collector does
    (no serve file, or one left by a collector that is gone)."""
    info = read_serve_file(db)
    if info is None:
        return None
    try:
        conn = open_channel(info)
    except ChannelRefused as exc:
        raise click.ClickException(str(exc)) from None
    except OSError as exc:
        raise click.ClickException(f"the collector holding {db} (pid {info.pid}) did not answer on "
                                   f"{info.socket}: {exc}") from None
    return None if conn is None else (info, conn)


def forward(channel: tuple[ServeInfo, socket.socket], ctx: click.Context, params: dict[str, Any]) -> int:
    """Run the command of `ctx` with `params` in the collector; its output is printed as it comes."""
    info, conn = channel
    names = []
    at: click.Context | None = ctx
    while at is not None and at.parent is not None:
        names.append(at.info_name or "")
        at = at.parent
    request = {"command": names[::-1], "params": params, "cwd": os.getcwd(), "tty": sys.stdout.isatty(),
               "tty_err": sys.stderr.isatty()}

    def output(key: str, text: str) -> None:
        stream = sys.stdout if key == "stdout" else sys.stderr
        stream.write(text)
        stream.flush()

    try:
        return call_collector(conn, info, request, output)
    except OSError as exc:
        click.echo(f"Error: the collector holding {ctx.params.get('db_path') or 'the database'} (pid {info.pid}) "
                   f"stopped answering on {info.socket}: {exc}", err=True)
        return 1


def run_inside(root: click.Group, make_env: Callable[[dict[str, Any], IO[str], IO[str]], Any],
               request: dict[str, Any], out: IO[str], err: IO[str]) -> int:
    """The collector's side: run the requested command of `root` on the Env `make_env` gives, printing
    to `out` and `err` (the caller's streams). Returns the exit code; never raises."""
    env = make_env(request, out, err)
    ctx = click.Context(root, info_name="webleads", obj=env)
    command: click.Command = root
    for name in request["command"]:
        sub = command.get_command(ctx, name) if isinstance(command, click.Group) else None
        if sub is None:
            err.write(f"Error: no command {' '.join(request['command'])!r} in this collector\n")
            return 2
        ctx = click.Context(sub, parent=ctx, info_name=name, obj=env)
        command = sub
    known = {p.name: p for p in command.params}
    params: dict[str, Any] = {"db_path": None}
    for key, value in request["params"].items():
        param = known.get(key)
        if param is None or key == "db_path":
            err.write(f"Error: {key!r} is not an option of this collector's {' '.join(request['command'])}\n")
            return 2
        params[key] = tuple(value) if isinstance(value, list) else value  # JSON arrays: click's tuples
    try:
        with ctx:
            result = ctx.invoke(command.callback, **params) if command.callback else None
        return result if isinstance(result, int) else 0
    except click.ClickException as exc:
        err.write(f"Error: {exc.format_message()}\n")
        return exc.exit_code
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except click.Abort:
        err.write("Aborted.\n")
        return 1
    except Exception as exc:  # noqa: BLE001 - reported to the caller, the collector keeps running
        log.exception("command %s failed in the collector", request["command"])
        err.write(f"Error: {exc}\n")
        return 1
