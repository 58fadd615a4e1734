"""Which commands only read the database: they open it with collector/reader.py (no writer or mover
thread, no migration) rather than as a full store."""

from __future__ import annotations

import click

# Command paths under `webleads`; a group's name covers its subcommands.
READ_COMMANDS = ("report", "export", "snippet", "privacy-notice", "site list", "token list", "link list", "link qr")


def reads_only() -> bool:
    """Whether the command being run is one of READ_COMMANDS."""
    ctx = click.get_current_context(silent=True)
    names: list[str] = []
    while ctx is not None and ctx.parent is not None:
        names.append(ctx.info_name or "")
        ctx = ctx.parent
    command = " ".join(reversed(names))
    return any(command == name or command.startswith(name + " ") for name in READ_COMMANDS)
