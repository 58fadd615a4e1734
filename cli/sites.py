"""`webleads site`, `webleads snippet` and `webleads token`: the sites allowed to send events, their embed
tag, and the tokens of the report API and the dashboard."""

from __future__ import annotations

import click

from webleads.collector.registry import (
    RegistryError,
    create_token,
    delete_site_events,
    embed_tag,
    list_tokens,
    revoke_token,
)

from .env import Env, db_option


# --- sites, snippets, tokens ----------------------------------------------------------------------
@click.group()
def site() -> None:
    """Register and list the sites allowed to send events."""


@site.command("add")
@click.argument("name")
@click.option("--origin", "origins", multiple=True, required=True,
              help="An address the site's pages are served from, e.g. https://www.example.org; repeatable.")
@click.option("--allow-param", "allowed_params", multiple=True,
              help="A query parameter kept in stored URLs besides UTM and click ids; repeatable.")
@click.option("--consent", type=click.Choice(["optional", "required"]), default="optional", show_default=True,
              help="'required': the snippet sends nothing before consent (README: privacy tiers).")
@click.option("--retention-months", type=int, default=None, help="Keep this site's events N months [25].")
@click.option("--collector", "collector_url", default=None, help="The collector's public address for the tag.")
@db_option
def site_add(env: Env, name: str, origins: tuple[str, ...], allowed_params: tuple[str, ...], consent: str,
             retention_months: int | None, collector_url: str | None) -> None:
    """Register site NAME and print its embed tag."""
    try:
        added = env.registry.add_site(name, list(origins), list(allowed_params), consent, retention_months)
    except RegistryError as exc:
        raise click.ClickException(str(exc)) from None
    env.echo(f"Site '{added.name}' added (origins: {', '.join(added.origins)}).")
    env.echo("Paste this tag in the <head> of every page:")
    env.echo(embed_tag(_collector_url(env, collector_url), env.settings.script_path, added.name, added.consent))


@site.command("set")
@click.argument("name")
@click.option("--origin", "origins", multiple=True,
              help="Replace the site's origins with these (repeatable), e.g. https://www.example.org.")
@click.option("--add-origin", "add_origins", multiple=True, help="Add an origin; repeatable.")
@click.option("--remove-origin", "remove_origins", multiple=True, help="Remove an origin; repeatable.")
@click.option("--consent", type=click.Choice(["optional", "required"]), default=None,
              help="'required': the snippet sends nothing before consent.")
@click.option("--retention-months", type=int, default=None, help="Keep this site's events N months.")
@db_option
def site_set(env: Env, name: str, origins: tuple[str, ...], add_origins: tuple[str, ...],
             remove_origins: tuple[str, ...], consent: str | None, retention_months: int | None) -> None:
    """Change a site's origins, consent mode or retention period."""
    try:
        updated = env.registry.update_site(name, consent, retention_months, list(origins), list(add_origins),
                                           list(remove_origins))
    except RegistryError as exc:
        raise click.ClickException(str(exc)) from None
    months = updated.retention_months or env.settings.retention_months
    env.echo(f"Site '{name}': origins {', '.join(updated.origins)}; consent {updated.consent}, "
             f"retention {months} months.")
    if consent:
        env.echo("Update the tag on the site's pages:")
        env.echo(embed_tag(env.settings.base_url, env.settings.script_path, name, updated.consent))


@site.command("remove")
@click.argument("name")
@click.option("--purge-events", is_flag=True, help="Also delete every event of the site (cannot be undone).")
@click.option("--yes", is_flag=True, help="Confirm --purge-events.")
@db_option
def site_remove(env: Env, name: str, purge_events: bool, yes: bool) -> None:
    """Unregister site NAME: its beacons are refused from now on. Its events stay (and age out with the
    retention period) unless --purge-events --yes, which also deletes the events of a site removed before."""
    registered = env.registry.get(name) is not None
    count = env.store.query("SELECT count(*) AS n FROM event_log WHERE site = $s", {"s": name})[0]["n"]
    if not registered and not (purge_events and count):
        raise click.ClickException(f"no site named {name!r} (registered: {', '.join(env.registry.sites) or 'none'})")
    if purge_events and not yes:
        raise click.ClickException(f"this would delete the {count} event(s) of site {name!r} for good; "
                                   "run again with --yes to confirm (make a backup first: webleads backup FILE)")
    if registered:
        try:
            deleted = env.registry.remove_site(name, purge_events=purge_events)
        except RegistryError as exc:
            raise click.ClickException(str(exc)) from None
    else:
        deleted = delete_site_events(env.store, name)
    if purge_events:
        env.echo(f"Site '{name}' removed, with its {deleted} event(s).")
    else:
        env.echo(f"Site '{name}' removed. Its {count} event(s) stay until the retention period ends; to delete "
                 f"them now: webleads site remove {name} --purge-events --yes")


@site.command("list")
@db_option
def site_list(env: Env) -> None:
    """List the registered sites and their origins."""
    sites = env.registry.sites
    if not sites:
        env.echo("No site yet. Add one: webleads site add NAME --origin https://www.example.org")
    for s in sites.values():
        env.echo(f"{s.name}\t{' '.join(s.origins)}")


@click.command()
@click.argument("name")
@click.option("--collector", "collector_url", default=None,
              help="The collector's public address, e.g. https://stats.example.org.")
@db_option
def snippet(env: Env, name: str, collector_url: str | None) -> None:
    """Print the embed tag of a registered site."""
    if env.registry.get(name) is None:
        known = ", ".join(env.registry.sites) or "none yet"
        raise click.ClickException(f"no site named {name!r} (registered: {known}); "
                                   f"add it with: webleads site add {name} --origin https://...")
    site_config = env.registry.get(name)
    env.echo(embed_tag(_collector_url(env, collector_url), env.settings.script_path, name,
                       site_config.consent if site_config else "optional"))


def _collector_url(env: Env, given: str | None) -> str:
    if given:
        if not given.startswith(("http://", "https://")):
            raise click.ClickException(f"--collector {given!r} must start with http:// or https://")
        return given.rstrip("/")
    return env.settings.base_url


@click.group()
def token() -> None:
    """API tokens for the report API and the dashboard."""


@token.command("create")
@click.option("--name", default="default", show_default=True, help="A label to tell tokens apart.")
@db_option
def token_create(env: Env, name: str) -> None:
    """Print a new API token (shown once; only its hash is kept)."""
    env.echo(create_token(env.store, name))


@token.command("list")
@db_option
def token_list(env: Env) -> None:
    """List the tokens: id, name, creation and last use (never the token itself)."""
    tokens = list_tokens(env.store)
    if not tokens:
        env.echo("No token yet. Create one: webleads token create --name NAME")
        return
    env.echo("id        name                  created           last used")
    for t in tokens:
        used = f"{t.last_used_at:%Y-%m-%d %H:%M}" if t.last_used_at else "never"
        env.echo(f"{t.id}  {t.name[:20]:<20}  {t.created_at:%Y-%m-%d %H:%M}  {used}")
    env.echo("(times in UTC; the last use is recorded at most every 10 minutes)")


@token.command("revoke")
@click.argument("token_id")
@db_option
def token_revoke(env: Env, token_id: str) -> None:
    """Revoke a token by its id (from `webleads token list`) or its name: the API refuses it at once, and
    the dashboard signs its sessions out within a minute."""
    try:
        revoked = revoke_token(env.store, token_id)
    except RegistryError as exc:
        raise click.ClickException(str(exc)) from None
    for t in revoked:
        env.echo(f"Token {t.id} ({t.name}) revoked.")
