"""`webleads` starts at once: --help imports no command, and none of the heavy libraries that only some
commands need (the user-agent parser, DuckDB, the web server, Arrow, the templates). The commands' short
help written in cli/cli.py for that (so that --help need not import them) is each command's own."""

from __future__ import annotations

import subprocess
import sys

import click
import pytest

from webleads.cli import cli

HEAVY = ("user_agents", "ua_parser", "is_bot", "regex", "duckdb", "pyarrow", "starlette", "uvicorn", "jinja2",
         "xlsxwriter", "webleads.collector", "webleads.analytics", "webleads.dashboard")


def modules_after(code: str) -> set[str]:
    found = subprocess.run([sys.executable, "-c", code + "\nimport sys\nprint(' '.join(sys.modules))"],
                           capture_output=True, text=True, timeout=60, check=True)
    return set(found.stdout.split())


def heavy(modules: set[str]) -> list[str]:
    return sorted(m for m in modules if m.split(".")[0] in HEAVY or m.startswith(HEAVY))


def test_importing_the_cli_loads_no_command_nor_heavy_library() -> None:
    loaded = modules_after("import webleads.cli")
    assert heavy(loaded) == []
    assert "webleads.env" not in loaded and "webleads.reports" not in loaded


@pytest.mark.parametrize("args", [["--help"], ["--version"]])
def test_help_loads_no_heavy_library(args: list[str]) -> None:
    code = ("import contextlib, io\nfrom webleads.cli import main\n"
            f"with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit):\n    main({args!r})")
    assert heavy(modules_after(code)) == []


def test_a_heavy_import_is_seen() -> None:
    # the check above can fail: a command that is loaded brings its libraries
    assert "duckdb" in heavy(modules_after("import webleads.sites"))


@pytest.mark.parametrize("group_path", [[], ["report"]])
def test_the_short_help_listed_is_each_commands_own(group_path: list[str]) -> None:
    group: click.Group = cli
    ctx = click.Context(cli, info_name="webleads")
    for name in group_path:
        group = group.get_command(ctx, name)  # type: ignore[assignment]
        ctx = click.Context(group, parent=ctx, info_name=name)

    def listing(format_commands: object) -> str:
        formatter = ctx.make_formatter()
        format_commands(ctx, formatter)  # type: ignore[operator]
        return formatter.getvalue()

    lazy = listing(group.format_commands)  # before any command is loaded
    eager = listing(lambda c, f: click.Group.format_commands(group, c, f))  # loads every command
    assert lazy == eager
    assert lazy.count("\n") > 3
