"""`webleads cost import` and `webleads outcome import`: what campaigns cost and what became of leads
(collector/backoffice.py)."""

from __future__ import annotations

import os

import click

from webleads.collector.backoffice import (
    COST_COLUMNS,
    OUTCOME_COLUMNS,
    Checked,
    check_costs,
    check_outcomes,
    known_leads,
    read_csv,
    store_costs,
    store_outcomes,
)
from webleads.collector.validate import Rejected

from .env import Env, db_option


def _read(file: str, path: str, columns: tuple[str, ...], required: tuple[str, ...]) -> tuple[list, set[str]]:
    try:
        with open(path, encoding="utf-8") as fh:
            return read_csv(fh.read(), columns, required)
    except UnicodeDecodeError:
        raise click.ClickException(f"{file} is not UTF-8 text (save it as 'CSV UTF-8' in the spreadsheet)") from None
    except OSError as exc:
        raise click.ClickException(f"cannot read {file}: {exc.strerror}") from None
    except Rejected as exc:
        raise click.ClickException(f"{file}: {exc.reason}") from None


def _summary(env: Env, file: str, checked: Checked, what: str, unknown: set[str], columns: tuple[str, ...]) -> None:
    env.echo(f"{os.path.basename(file)}: {len(checked.rows)} {what}, {checked.rejected_total} rejected.")
    for code, count in sorted(checked.rejected.items(), key=lambda kv: -kv[1]):
        env.echo(f"  rejected {count} x {code}, e.g. {checked.examples[code]}")
    if unknown:
        env.echo(f"  unknown columns left out: {', '.join(sorted(unknown))} (columns: {', '.join(columns)})")


@click.group()
def cost() -> None:
    """What campaigns cost (for `webleads report roi`)."""


@cost.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--site", help="The site these costs belong to (default: every site).")
@db_option
def cost_import(env: Env, file: str, site: str | None) -> None:
    """Load campaign costs from a CSV FILE with the columns date,source,medium,campaign,cost (euros; a comma
    or a dot before the cents). A day and campaign imported again replaces the earlier cost."""
    if site is not None and env.registry.get(site) is None:
        raise click.ClickException(f"no site named {site!r} (registered: {', '.join(env.registry.sites) or 'none'})")
    records, unknown = _read(file, env.path(file), COST_COLUMNS, COST_COLUMNS)
    checked = check_costs(records, site or "")
    store_costs(env.store, checked.rows)
    _summary(env, file, checked, "cost line(s) stored", unknown, COST_COLUMNS)
    if checked.rejected_total and not checked.rows:
        raise click.exceptions.Exit(1)


@click.group()
def outcome() -> None:
    """What became of leads: enrolled, funded, gave up (for reports by outcome)."""


@outcome.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@db_option
def outcome_import(env: Env, file: str) -> None:
    """Record outcomes from a CSV FILE with the columns lead_id,outcome,value[,ts] (lead_id from
    `webleads report leads`; value in euros, optional; ts, optional, when it happened). Nothing stored
    changes: each lead's latest outcome (by ts) is the one reports use."""
    records, unknown = _read(file, env.path(file), OUTCOME_COLUMNS, ("lead_id", "outcome"))
    checked = check_outcomes(records, lambda ids: known_leads(env.store, ids))
    store_outcomes(env.store, checked.rows, "import")
    _summary(env, file, checked, "outcome(s) recorded", unknown, OUTCOME_COLUMNS)
    if checked.rejected_total and not checked.rows:
        raise click.exceptions.Exit(1)
