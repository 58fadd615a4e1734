"""Report, import, export and demo commands (registered on the `webleads` group)."""

from __future__ import annotations

import click


def register(group: click.Group) -> None:
    """Add the analytics commands to the `webleads` group."""
