"""`webleads link`: short links and QR codes for posters, flyers and radio (collector/shortlinks.py)."""

from __future__ import annotations

from pathlib import Path

import click

from webleads.analytics import formats, headers, reports
from webleads.analytics.links import link_list
from webleads.collector.rows import utcnow
from webleads.collector.shortlinks import LinkError, ShortLink, add_link, check_link, find_link, qr_code

from .env import Env, db_option
from .reports import emit, output_format


@click.group()
def link() -> None:
    """Short links and QR codes for what leaves no UTM by itself: posters, flyers, radio."""


@link.command("add")
@click.argument("code")
@click.option("--to", "target", required=True, help="Where the link leads, on one of the site's origins.")
@click.option("--site", "site_name", help="The site (default: the only one registered).")
@click.option("--utm-source", required=True, help="Where it is shown, e.g. mairie, marche, radio-locale.")
@click.option("--utm-medium", required=True, help="The kind of support, e.g. affiche, flyer, qr, print, offline.")
@click.option("--utm-campaign", required=True, help="The campaign, e.g. portes-ouvertes-2027.")
@click.option("--utm-content", default=None, help="Tells apart the items of one campaign, e.g. a-4, a-3.")
@click.option("--any-target", is_flag=True, help="Allow an address outside the site's origins.")
@db_option
def link_add(env: Env, code: str, target: str, site_name: str | None, utm_source: str, utm_medium: str,
             utm_campaign: str, utm_content: str | None, any_target: bool) -> None:
    """Make <collector>/r/CODE, a short link that leads to --to with its UTM tags and counts scans."""
    sites = env.registry.sites
    if site_name is None:
        if len(sites) != 1:
            raise click.ClickException(f"give --site (registered: {', '.join(sites) or 'none yet'})")
        site_name = next(iter(sites))
    site = env.registry.get(site_name)
    if site is None:
        raise click.ClickException(f"no site named {site_name!r} (registered: {', '.join(sites) or 'none yet'})")
    utm = {"utm_source": utm_source.strip(), "utm_medium": utm_medium.strip(), "utm_campaign": utm_campaign.strip(),
           "utm_content": utm_content.strip() if utm_content else None}
    try:
        check_link(code, target, site.origins, utm, any_target)
        new = ShortLink(code=code, site=site.name, target=target, created_at=utcnow(), **utm)  # type: ignore[arg-type]
        add_link(env.store, new)
    except LinkError as exc:
        raise click.ClickException(str(exc)) from None
    env.echo(f"{env.settings.base_url}/r/{code}")
    env.echo(f"  leads to {new.destination()}")
    env.echo(f"  its QR code: webleads link qr {code} --out {code}.png (or .svg)")


@link.command("qr")
@click.argument("code")
@click.option("--out", required=True, metavar="FILE", help="FILE.png or FILE.svg (vector, for a printer).")
@click.option("--collector", "collector_url", default=None, help="The collector's public address in the code.")
@db_option
def link_qr(env: Env, code: str, out: str, collector_url: str | None) -> None:
    """Write the QR code of the short link CODE, ready to print on a poster or a flyer."""
    if find_link(env.store, code) is None:
        raise click.ClickException(f"no short link {code!r}; see: webleads link list")
    suffix = Path(out).suffix.lower()
    if suffix not in (".png", ".svg"):
        raise click.ClickException(f"--out {out!r}: give a .png or .svg file name")
    base = (collector_url or env.settings.base_url).rstrip("/")
    if not base.startswith(("http://", "https://")):
        raise click.ClickException(f"--collector {base!r} must start with http:// or https://")
    url = f"{base}/r/{code}"
    try:
        Path(env.path(out)).write_bytes(qr_code(url, suffix[1:]))
    except OSError as exc:
        raise click.ClickException(f"cannot write {out}: {exc.strerror}") from None
    env.echo(f"QR code of {url} written to {Path(env.path(out)).resolve()}")


@link.command("list")
@click.option("--from", "from_day", metavar="DAY", help="First day, YYYY-MM-DD.")
@click.option("--to", "to_day", metavar="DAY", help="Last day (included), YYYY-MM-DD.")
@click.option("--site", help="Only this site's links.")
@click.option("--include-bots", is_flag=True, help="Count the scans and visits of bots too.")
@click.option("--format", "fmt", type=click.Choice((*formats.FORMATS, "xlsx")), default=None,
              help="table, csv, json or xlsx (give --out) [table on a terminal, csv when piped].")
@click.option("--out", metavar="FILE", help="Write the list to FILE instead of the terminal.")
@click.option("--lang", type=click.Choice(headers.LANGS), default=headers.DEFAULT_LANG, show_default=True,
              help="The words of an xlsx file.")
@db_option
def link_list_command(env: Env, from_day: str | None, to_day: str | None, site: str | None, include_bots: bool,
                      fmt: str | None, out: str | None, lang: str) -> None:
    """Every short link: scans, visitors who landed through it, conversions it took part in."""
    fmt = output_format(fmt, out)
    if env.collector is not None:  # the scans of the last seconds, not yet written
        env.collector.scans.flush(env.store)
    try:
        report = link_list(env.store, env.settings.base_url, from_day=from_day, to_day=to_day, site=site,
                           include_bots=include_bots)
    except reports.ReportError as exc:
        raise click.ClickException(exc.reason) from None
    emit(env, report, fmt, out, lang, "links", {"from_day": from_day, "to_day": to_day, "site": site},
         table_columns=report.columns[:6])
