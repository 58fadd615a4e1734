"""`webleads report board`: the board report of a month (dashboard/board.py) written to a file, an Excel
workbook (one sheet per section) or one HTML page to open or print. Listed in the `report` group
(cli/reports.py); the command line may use the dashboard's code, the analytics may not."""

from __future__ import annotations

from pathlib import Path

import click

from webleads.analytics import headers, reports
from webleads.dashboard import board

from .env import Env, db_option
from .reports import write_file


@click.command("board")
@click.option("--month", metavar="YYYY-MM", help="The month [the last full month, in --tz].")
@click.option("--out", required=True, metavar="FILE",
              help="FILE.xlsx (one sheet per section) or FILE.html (one page, ready to print on A4).")
@click.option("--model", "-m", type=click.Choice(reports.MODELS), default=board.DEFAULT_MODEL, show_default=True,
              help="The attribution model of the leads by channel and by campaign.")
@click.option("--outcome", default=board.DEFAULT_OUTCOME, show_default=True,
              help="The outcome counted as an enrolment (webleads outcome import).")
@click.option("--step", "steps", multiple=True, metavar="KIND:PATTERN",
              help="A funnel step, repeated in order [pageview:/, pageview:/formation*, conversion:candidater].")
@click.option("--site", help="Only this site.")
@click.option("--tz", default=reports.DEFAULT_TZ, show_default=True, help="Time zone of the month's days.")
@click.option("--lang", type=click.Choice(headers.LANGS), default=headers.DEFAULT_LANG, show_default=True)
@db_option
def report_board(env: Env, month: str | None, out: str, model: str, outcome: str, steps: tuple[str, ...],
                 site: str | None, tz: str, lang: str) -> None:
    """The month on one page for the board, beside the month before: visitors, leads (and rejected
    submissions), conversion rate, leads by channel and by campaign, landing pages, a funnel, the month's
    leads, enrolments and cost per lead."""
    suffix = Path(out).suffix.lower()
    if suffix not in (".xlsx", ".html"):
        raise click.ClickException(f"--out {out!r}: give a .xlsx or .html file name")
    if site is not None and env.registry.get(site) is None:
        raise click.ClickException(f"no site named {site!r} (registered: {', '.join(env.registry.sites) or 'none'})")
    try:
        first = board.parse_month(month, tz)
        found = board.gather(env.store, first, model=model, outcome=outcome, steps=steps, tz=tz, site=site)
    except reports.ReportError as exc:
        raise click.ClickException(exc.reason) from None
    write_file(env.path(out), board.workbook(found, lang) if suffix == ".xlsx" else board.html(found, lang).encode())
    env.echo(f"Board report for {first:%Y-%m} written to {out}")
