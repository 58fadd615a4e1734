"""/dashboard/privacy: for each site, the paragraph for its privacy policy, ready to copy.

The text is the one `webleads privacy-notice` prints (collector/privacy.py writes it, from the site's real
configuration), in the page's language; the page only shows it, with a copy button (dashboard.js) that
is a help, not a need: the text can be selected by hand.
"""

from __future__ import annotations

from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from webleads.analytics import reports
from webleads.collector.privacy import facts_for, notice

from .context import common, read_filters, site_names
from .render import language, page


def notices(collector: Any, names: list[str], lang: str) -> list[tuple[str, str, str]]:
    """(site, its opt-out page, its notice) for each site named."""
    found = []
    for name in names:
        facts = facts_for(collector.registry.sites[name], collector.settings, collector.geo, collector.store)
        found.append((name, facts.opt_out_url, notice(facts, lang)))
    return found


async def privacy(request: Request) -> Response:
    f = read_filters(request)
    names = site_names(request)
    asked = request.query_params.get("site")
    if asked and asked not in names:
        raise reports.ReportError("bad_site", f"no site named {asked[:64]!r}")
    shown = [asked] if asked else names
    found = await run_in_threadpool(notices, request.app.state.collector, shown, language(request))
    return page(request, "privacy.html", notices=found, **common(request, f, "privacy"))
