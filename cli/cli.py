"""The `webleads` command line: the root group and `main`. Each command lives in its own module and is
imported only when it runs (cli/lazy.py), so that `webleads --help` starts at once. A command works on an
Env (cli/env.py): directly on the database file, or inside the running collector when it holds the file
(cli/channel.py)."""

from __future__ import annotations

import os
import sys

import click

from .lazy import LazyGroup

# name: (module, attribute, short help). The short help is the command's own, repeated here so that
# --help need not import the command (tests/cli/test_startup.py compares them).
COMMANDS = {
    "serve": ("webleads.serve", "serve", "Run the collector, the report API and the dashboard."),
    "site": ("webleads.sites", "site", "Register and list the sites allowed to send events."),
    "snippet": ("webleads.sites", "snippet", "Print the embed tag of a registered site."),
    "token": ("webleads.sites", "token", "API tokens for the report API and the dashboard."),
    "report": ("webleads.reports", "report", "Reports: attribution of conversions, funnels, the list of leads."),
    "import": ("webleads.reports", "import_command",
               "Load historical events from a CSV or JSONL FILE (columns: ts, site, type, name, visitor_id, url, "
               "referrer; optional event_id, user_agent, props), with the validation and enrichment of live "
               "events."),
    "export": ("webleads.reports", "export",
               "Write the events as Hive-partitioned Parquet: DIR/site=NAME/date=YYYY-MM-DD/*.parquet (UTC days)."),
    "demo": ("webleads.reports", "demo",
             "Fill a site of its own with 90 days of realistic traffic for a small training centre (through the "
             "real ingest path: validation, enrichment, bot detection), to try the reports."),
    "purge": ("webleads.operations", "purge",
              "Remove events older than each site's retention period (default 25 months)."),
    "backup": ("webleads.operations", "backup",
               "Copy the database to a new file DEST, consistently, even while the collector runs."),
    "restore": ("webleads.operations", "restore",
                "Put BACKUP_FILE in place of the database (stop the collector first)."),
    "migrate": ("webleads.operations", "migrate",
                "Convert a database file of an earlier release, which this release's DuckDB cannot read."),
    "privacy-notice": ("webleads.operations", "privacy_notice",
                       "Print the paragraph for the site's privacy policy, from its real configuration."),
    "doctor": ("webleads.operations", "doctor",
               "Check the configuration, the database, GeoIP, the sites and the clock; say what is wrong."),
    "link": ("webleads.links", "link",
             "Short links and QR codes for what leaves no UTM by itself: posters, flyers, radio."),
    "lake": ("webleads.lake", "lake",
             "A DuckLake shared by many collectors: move a file into it, check it, compact it."),
    "cost": ("webleads.backoffice", "cost", "What campaigns cost (for `webleads report roi`)."),
    "outcome": ("webleads.backoffice", "outcome",
                "What became of leads: enrolled, funded, gave up (for reports by outcome)."),
}


def version_message() -> str:
    """`webleads --version`: the release, or the commit it was built from (setuptools-scm's +g<hash>)."""
    import importlib.metadata  # start-up time: only --version reads the installed metadata

    try:
        version = importlib.metadata.version("webleads-tracker")
    except importlib.metadata.PackageNotFoundError:
        return "%(prog)s, version unknown (not installed: pip install .)"
    if "+g" in version:
        commit = version.split("+g", 1)[1].split(".", 1)[0]
        return f"%(prog)s {version} (built from commit {commit}, not a release; see CHANGELOG.md)"
    return f"%(prog)s {version}"


class _Version(click.Option):
    """--version, its message computed only when asked (reading the installed metadata takes time)."""

    def __init__(self) -> None:
        super().__init__(["--version"], is_flag=True, expose_value=False, is_eager=True,
                         help="Show the version and exit.", callback=self._show)

    @staticmethod
    def _show(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
        if value and not ctx.resilient_parsing:
            click.echo(version_message() % {"prog": ctx.find_root().info_name})
            ctx.exit()


@click.group(cls=LazyGroup, lazy=COMMANDS, params=[_Version()],
             context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
def cli() -> None:
    """webleads: which campaigns bring leads, self-hosted.

    Start with `webleads serve`, then `webleads site add`, paste the tag it prints, and open
    the address `serve` printed.
    """


def main(argv: list[str] | None = None) -> None:
    # Every file webleads makes is its owner's only: the database, its log and journal hold the daily
    # salts and captured form fields, and DuckDB makes its log anew after each checkpoint.
    os.umask(os.umask(0o077) | 0o077)
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        result = cli.main(args=args, prog_name="webleads", standalone_mode=False)
        if isinstance(result, int) and result:  # click returns Exit's code when not standalone
            sys.exit(result)
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


if __name__ == "__main__":  # pragma: no cover
    main()
