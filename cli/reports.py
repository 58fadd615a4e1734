"""Report, import, export and demo commands (registered on the `webleads` group).

Every command works on env.store / env.registry, so it runs the same on the database file and inside a
running collector (cli/channel.py forwards it there). Output goes through env.echo only; files named by
the caller are opened through env.path.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Any

import click

from webleads.analytics import demo as demo_traffic
from webleads.analytics import formats, headers, params, reports, sessions, transfer, xlsx
from webleads.analytics.declared import declared
from webleads.analytics.roi import ROI_DIMENSIONS, roi
from webleads.collector.registry import RegistryError

from .env import Env, db_option
from .lazy import LazyGroup
from .progress import Progress, count_lines

_REPORT_HELP = ("Days are local to --tz (default Europe/Paris); --to is included. Bots are left out unless "
                "--include-bots, and conversions the site rejected (a status other than submitted or sent: "
                "invalid, unaccepted, spam, aborted, failed) unless --include-rejected. --format defaults to "
                "table on a terminal, csv when piped.")


def _filter_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    options = [
        click.option("--from", "from_day", metavar="DAY", help="First day, YYYY-MM-DD."),
        click.option("--to", "to_day", metavar="DAY", help="Last day (included), YYYY-MM-DD."),
        click.option("--tz", default=reports.DEFAULT_TZ, show_default=True, help="Time zone of the days."),
        click.option("--site", help="Only this site."),
        click.option("--include-bots", is_flag=True, help="Count the visits flagged as bots too."),
        click.option("--include-rejected", is_flag=True,
                     help="Count the conversions the site rejected too (invalid, unaccepted, spam, aborted, failed)."),
        click.option("--format", "fmt", type=click.Choice((*formats.FORMATS, "xlsx")), default=None,
                     help="table, csv, json or xlsx (an Excel file: give --out) [table on a terminal, csv when "
                          "piped; xlsx when --out ends in .xlsx]."),
        click.option("--out", metavar="FILE", help="Write the report to FILE instead of the terminal."),
        click.option("--lang", type=click.Choice(headers.LANGS), default=headers.DEFAULT_LANG, show_default=True,
                     help="The words of an xlsx file: its headers and parameters sheet."),
        click.option("--data", "data_dir", metavar="DIR",
                     help="Read a Parquet export (webleads export) instead of the database."),
    ]
    for option in reversed(options):
        fn = option(fn)
    return fn


def _conversion_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    fn = click.option("--outcome", help="Only the leads whose latest outcome is this (webleads outcome import).")(fn)
    fn = click.option("--lookback", metavar="DAYS", default=str(reports.DEFAULT_LOOKBACK), show_default=True,
                      help="Days before a conversion whose visits count.")(fn)
    return click.option("--conversion", help="Only conversions of this name (a form).")(fn)


def _choices(names: tuple[str, ...]) -> str:
    """The metavar click.Choice would show: the values are checked by params.py, with the API's words."""
    return "[" + "|".join(names) + "]"


# The CLI's names of the parameters params.py reads under the API's names.
_API_NAMES = {"from_day": "from", "to_day": "to", "steps": "step"}


def _checked(report_name: str, **values: Any) -> dict[str, Any]:
    """The report's options read by params.py, as the API reads its query. A refused value is click's
    "Invalid value for '--option'" with the API's sentence, and the exit status the commands have always
    given (scripts rely on it): 2, a usage error, for a name outside the list of --model or --by, as
    click.Choice answered; 1, on one line, for any other value."""
    given = {_API_NAMES.get(k, k): v for k, v in values.items() if v is not None}
    try:
        return params.parse(report_name, given).options()
    except params.ReportError as exc:
        if exc.key is None:
            raise click.ClickException(exc.reason) from None
        hint = "'--model' / '-m'" if exc.key == "model" else f"'--{exc.key.replace('_', '-')}'"
        refusal = click.BadParameter(exc.reason, param_hint=hint)
        if exc.key in ("model", "by"):
            raise refusal from None
        raise click.ClickException(refusal.format_message()) from None


def _run(env: Env, data_dir: str | None, fmt: str | None, make: Callable[[Any], reports.Report],
         out: str | None = None, lang: str = headers.DEFAULT_LANG, name: str = "report",
         options: dict[str, Any] | None = None) -> None:
    """Run a report on the database or a Parquet export, print it (or write it to `out`) in the chosen
    format. An xlsx file needs --out: it is no text for a terminal."""
    fmt = output_format(fmt, out)
    try:
        if data_dir:
            try:
                conn = sessions.open_dataset(env.path(data_dir))
            except (ValueError, OSError) as exc:
                raise click.ClickException(str(exc)) from None
            try:
                result = make(conn)
            finally:
                conn.close()
        else:
            result = make(env.store)
    except reports.ReportError as exc:
        raise click.ClickException(exc.reason) from None
    emit(env, result, fmt, out, lang, name, options)


def output_format(fmt: str | None, out: str | None) -> str | None:
    """The format asked for, xlsx when --out names a .xlsx file; refuses xlsx without a file (checked
    before the report runs)."""
    if fmt is None and out and out.lower().endswith(".xlsx"):
        fmt = "xlsx"
    if fmt == "xlsx" and not out:
        raise click.ClickException("--format xlsx writes a file: give its name with --out FILE.xlsx")
    return fmt


def emit(env: Env, result: reports.Report, fmt: str | None, out: str | None = None,
         lang: str = headers.DEFAULT_LANG, name: str = "report", options: dict[str, Any] | None = None,
         table_columns: tuple[str, ...] | None = None) -> None:
    """Print a report (or write it to `out`) in the chosen format; notes go under a table, else to stderr."""
    if out:
        fmt = fmt or "csv"
        if fmt == "xlsx":
            body = xlsx.to_xlsx([xlsx.Sheet(name, result, result.columns, headers.headers(lang), result.notes)],
                                xlsx.parameters(lang, **(options or {})), lang)
        elif fmt == "json":
            body = formats.to_json(result, notes=result.notes)
        else:
            body = (formats.to_table(result, result.columns) + "\n" if fmt == "table"
                    else formats.to_csv(result, result.columns)).encode()
        write_file(env.path(out), body)
        env.echo(f"{len(result)} row(s) written to {out}")
        for note in result.notes:
            _to_stderr(env, f"Note: {note}")
        return
    fmt = fmt or ("table" if env.tty else "csv")
    if fmt == "table":
        env.echo(formats.to_table(result, table_columns or result.columns))
        for note in result.notes:
            env.echo(f"Note: {note}")
    else:
        if fmt == "csv":
            env.echo(formats.to_csv(result, result.columns), nl=False)
        else:
            env.echo(formats.to_json(result, notes=result.notes).decode())
        for note in result.notes:
            _to_stderr(env, f"Note: {note}")


def write_file(path: str, body: bytes) -> None:
    """Write a report file; a folder that does not exist or a file that cannot be written is one line."""
    try:
        with open(path, "wb") as fh:
            fh.write(body)
    except OSError as exc:
        raise click.ClickException(f"cannot write {path}: {exc.strerror}") from None


def _to_stderr(env: Env, text: str) -> None:
    """Env.echo(err=True) writes to stdout when it is not capturing (env.err is None): notes would land
    inside the CSV. Run locally, stderr is the terminal's; inside the collector, the captured stream."""
    if env.err is None:
        click.echo(text, err=True)
    else:
        env.echo(text, err=True)


# The board report is written by the dashboard's code (cli/board.py), loaded only when it runs.
_BOARD = ("webleads.board", "report_board", "The month on one page for the board, beside the month before: visitors, "
          "leads (and rejected submissions), conversion rate, leads by channel and by campaign, landing pages, a "
          "funnel, the month's leads, enrolments and cost per lead.")


@click.group(cls=LazyGroup, lazy={"board": _BOARD})
def report() -> None:
    """Reports: attribution of conversions, funnels, the list of leads."""


@report.command("attribution", epilog=_REPORT_HELP)
@click.option("--model", "-m", required=True, metavar=_choices(reports.MODELS),
              help="first_touch, last_touch, last_non_direct, linear, position_based (40/20/40), "
                   "time_decay (7-day half-life) or markov (removal effect).")
@click.option("--by", default="channel", show_default=True, metavar=_choices(reports.DIMENSIONS),
              help="What to credit.")
@click.option("--value", is_flag=True, help="Credit the leads' outcome values (euros), not only their number.")
@_conversion_options
@_filter_options
@db_option
def report_attribution(env: Env, model: str, by: str, value: bool, fmt: str | None, data_dir: str | None,
                       out: str | None, lang: str, **options: Any) -> None:
    """Credited conversions per value of --by under --model."""
    checked = _checked("attribution", model=model, by=by, value=value, **options)
    _run(env, data_dir, fmt, lambda src: reports.attribution(src, **checked), out, lang, "attribution", checked)


@report.command("roi", epilog=_REPORT_HELP)
@click.option("--model", "-m", required=True, metavar=_choices(reports.MODELS), help="The attribution model.")
@click.option("--by", default="channel", show_default=True, metavar=_choices(ROI_DIMENSIONS),
              help="What the costs and credits are summed by.")
@_conversion_options
@_filter_options
@db_option
def report_roi(env: Env, model: str, by: str, fmt: str | None, data_dir: str | None, out: str | None, lang: str,
               **options: Any) -> None:
    """Cost, credited conversions, cost per conversion, credited outcome value and its return on the cost."""
    checked = _checked("roi", model=model, by=by, **options)
    _run(env, data_dir, fmt, lambda src: roi(src, **checked), out, lang, "roi", checked)


@report.command("funnel", epilog=_REPORT_HELP)
@click.option("--step", "steps", multiple=True, required=True, metavar="KIND:PATTERN",
              help="pageview:GLOB (on the path, * is a wildcard), conversion:NAME, event:NAME or outcome:NAME "
                   "(a lead whose latest outcome is NAME); repeat in order.")
@click.option("--window", default="7d", show_default=True, help="Time allowed after step 1: 7d, 12h, 30m.")
@click.option("--by", default=None, metavar=_choices(reports.DIMENSIONS),
              help="Split by the visit (touch) of the first step.")
@_filter_options
@db_option
def report_funnel(env: Env, steps: tuple[str, ...], window: str, by: str | None, fmt: str | None,
                  data_dir: str | None, out: str | None, lang: str, **options: Any) -> None:
    """Visitors at each step of an ordered funnel, drop-off and median time between steps."""
    checked = _checked("funnel", steps=list(steps), window=window, by=by, **options)
    _run(env, data_dir, fmt, lambda src: reports.funnel(src, **checked), out, lang, "funnel", checked)


@report.command("leads", epilog=_REPORT_HELP)
@_conversion_options
@_filter_options
@db_option
def report_leads(env: Env, fmt: str | None, data_dir: str | None, out: str | None, lang: str, **options: Any) -> None:
    """One row per conversion: first and last visit, path of channels, days to convert, form fields."""
    checked = _checked("leads", **options)
    _run(env, data_dir, fmt, lambda src: reports.leads(src, **checked), out, lang, "leads", checked)


@report.command("declared", epilog=_REPORT_HELP)
@click.option("--field", required=True, help="The form field that asks how the lead heard of you.")
@_conversion_options
@_filter_options
@db_option
def report_declared(env: Env, field: str, fmt: str | None, data_dir: str | None, out: str | None, lang: str,
                    **options: Any) -> None:
    """Leads by declared source (a form field) against the tracked channel (last touch not Direct)."""
    checked = _checked("declared", field=field, **options)
    _run(env, data_dir, fmt, lambda src: declared(src, **checked), out, lang, "declared", checked)


@click.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--site", help="Site of the events whose line names none.")
@click.option("--format", "fmt", type=click.Choice(["csv", "jsonl"]), default=None,
              help="Read the file as CSV or JSONL [from its name, else its first character].")
@db_option
def import_command(env: Env, file: str, site: str | None, fmt: str | None) -> None:
    """Load historical events from a CSV or JSONL FILE (columns: ts, site, type, name, visitor_id, url,
    referrer; optional event_id, user_agent, props), with the validation and enrichment of live events.
    An event_id already stored is not stored again."""
    from webleads.collector.batch import ingest_records  # start-up time: the user-agent parser, for ingest only

    if site is not None and env.registry.get(site) is None:
        raise click.ClickException(f"no site named {site!r}; add it first: webleads site add {site} --origin https://...")
    started = time.perf_counter()
    path = env.path(file)
    reading, records = transfer.read_events(path, site=site, fmt=fmt)
    progress = Progress(env.err_stream, count_lines(path), f"importing {os.path.basename(file)}")
    try:
        result = ingest_records(env.store, env.registry, progress.track(records), origin="import",
                                retention_months=env.settings.retention_months)
    except UnicodeDecodeError:
        raise click.ClickException(f"{file} is not UTF-8 text") from None
    finally:
        progress.finish()
    for code, count in reading.rejected.items():
        result.rejected[code] += count
        result.examples.setdefault(code, reading.examples[code])
    sessions.prepare(env.store)
    env.echo(f"{os.path.basename(file)}: {result.accepted} accepted, {result.duplicates} already stored, "
             f"{result.rejected_total} rejected ({time.perf_counter() - started:.1f}s).")
    for code, count in sorted(result.rejected.items(), key=lambda kv: -kv[1]):
        env.echo(f"  rejected {count} x {code}, e.g. {result.examples[code]}")
    if reading.unknown_columns:
        env.echo(f"  unknown columns left out: {', '.join(sorted(reading.unknown_columns))} "
                 f"(import columns: {', '.join(transfer.IMPORT_COLUMNS)})")


@click.command()
@click.option("--format", "fmt", type=click.Choice(["parquet"]), default="parquet", show_default=True)
@click.option("--out", required=True, metavar="DIR", help="An empty folder (created if missing).")
@click.option("--site", help="Only this site.")
@click.option("--from", "from_day", metavar="DAY", help="First day, YYYY-MM-DD.")
@click.option("--to", "to_day", metavar="DAY", help="Last day (included), YYYY-MM-DD.")
@click.option("--tz", default=reports.DEFAULT_TZ, show_default=True, help="Time zone of the days.")
@click.option("--overwrite", is_flag=True, help="Replace what the folder holds.")
@db_option
def export(env: Env, fmt: str, out: str, site: str | None, from_day: str | None, to_day: str | None, tz: str,
           overwrite: bool) -> None:
    """Write the events as Hive-partitioned Parquet: DIR/site=NAME/date=YYYY-MM-DD/*.parquet (UTC days)."""
    try:
        f = reports.filters(from_day=from_day, to_day=to_day, tz=tz, site=site)
        count = transfer.export_parquet(env.store, env.path(out), site=f.site, start=f.start, end=f.end,
                                        overwrite=overwrite)
    except reports.ReportError as exc:
        raise click.ClickException(exc.reason) from None
    except (ValueError, OSError) as exc:
        raise click.ClickException(str(exc)) from None
    env.echo(f"{count} events written to {out} (read them back with: webleads report ... --data {out})")


@click.command()
@click.option("--visitors", type=click.IntRange(1, 2_000_000), default=2000, show_default=True)
@click.option("--seed", type=int, default=1, show_default=True, help="Same seed, same day: same events.")
@click.option("--site", default=demo_traffic.SITE, show_default=True,
              help="The demo's own site, created if missing (never a site registered with `site add`).")
@click.option("--remove", is_flag=True, help="Delete the demo site and all its events.")
@db_option
def demo(env: Env, visitors: int, seed: int, site: str, remove: bool) -> None:
    """Fill a site of its own with 90 days of realistic traffic for a small training centre (through the
    real ingest path: validation, enrichment, bot detection), to try the reports. Real sites are never
    touched; `webleads demo --remove` takes it all away."""
    from webleads.collector.batch import ingest_records  # start-up time: the user-agent parser, for ingest only

    registry = env.registry
    exists = registry.get(site) is not None
    if exists and not registry.is_demo(site):
        raise click.ClickException(f"site {site!r} is a real site (registered with `webleads site add`): the demo "
                                   f"never writes into one; leave out --site to use the demo's own site "
                                   f"{demo_traffic.SITE!r}")
    if remove:
        if not exists:
            raise click.ClickException(f"there is no demo site {site!r}: nothing to remove")
        demo_traffic.remove_closed_loop(env.store, site)
        deleted = registry.remove_site(site, purge_events=True)
        sessions.prepare(env.store)
        env.echo(f"Demo site '{site}' removed with its {deleted} event(s).")
        return
    if not exists:
        try:
            registry.add_site(site, [demo_traffic.ORIGIN])
        except RegistryError as exc:
            raise click.ClickException(str(exc)) from None
        registry.mark_demo(site)
    env.echo(f"Demo traffic goes to the site '{site}', made for it (your own sites are not touched); "
             f"remove it with: webleads demo --remove")
    started = time.perf_counter()
    extras = demo_traffic.Extras()
    records = ((i, {**r, "site": site}) for i, r in enumerate(demo_traffic.generate(visitors, seed, extras=extras),
                                                                 start=1))
    result = ingest_records(env.store, env.registry, records, origin="import",
                            retention_months=env.settings.retention_months)
    loop = demo_traffic.write_closed_loop(env.store, site, extras)
    sessions.prepare(env.store)
    env.echo(f"Demo traffic for {visitors} visitors: {result.accepted} events stored, {result.duplicates} "
             f"already there, {result.rejected_total} rejected ({time.perf_counter() - started:.1f}s).")
    env.echo(f"  with {loop['links']} short links and {loop['scans']} scans, the campaigns' costs, and "
             f"{loop['outcomes']} new lead outcome(s); answers to the form field 'connu' "
             f"(webleads report declared --field connu)")
    env.echo(f"Try: webleads report attribution --model position_based --site {site}")
