"""/opt-out: a page for the site's own staff (and anyone) that switches counting off in this browser,
then shows on the page that it worked.

The flag lives in the site's own storage (the snippet sets it when the site is opened at
`/#webleads_ignore`), which this page, on the collector's address, can neither write nor read. So it
checks the flag by its effect (collector/optcheck.py): it opens the site a second time at
`/?webleads_check=TOKEN`, through /opt-out/go (which notes when), and an excluded browser sends nothing
while a counted one sends that test visit, which ingest notes and never stores. With the page's script,
one button does it all in a small window that closes itself, then the page shows the verdict; without
it (or with pop-ups blocked) the same steps are three links. To be counted again, clear the site's data.
"""

from __future__ import annotations

from html import escape
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from .errors import error_response
from .optcheck import CHECK_PARAM, Check
from .validate import Rejected

OPT_OUT_FLAG = "webleads_ignore"
# Seconds after the test visit's link was followed before no news means "excluded": the site's page,
# then the snippet (loaded async), then its beacon, on a slow site and a slow phone.
SETTLE = 6.0
HEADERS = {"Cache-Control": "no-store", "Content-Security-Policy": (
    "default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'unsafe-inline'; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'none'")}


def verdict(check: Check, now: float) -> str:
    """not_opened, waiting, counted or excluded."""
    if check.seen is not None:
        return "counted"
    if check.opened is None:
        return "not_opened"
    return "waiting" if now - check.opened < SETTLE else "excluded"


VERDICTS = {
    "not_opened": ("info", "La vérification n'a pas encore été faite : ouvrez le lien de l'étape 2 dans ce "
                   "navigateur, puis revenez sur cette page.", ""),
    "waiting": ("info", "Vérification en cours : la page de vérification du site vient d'être ouverte, le "
                "résultat s'affiche dans quelques secondes.", ""),
    "counted": ("bad", "Ce navigateur est encore compté sur {site}.", "La page de vérification a envoyé une "
                "mesure. Refaites l'étape 1 puis la vérification, dans ce même navigateur. Si le résultat ne "
                "change pas, ce navigateur ne garde pas les données du site (navigation privée, effacement à "
                "la fermeture) : le réglage ne peut pas y tenir."),
    "excluded": ("ok", "C'est fait : ce navigateur n'est plus compté sur {site}.", "La page de vérification du "
                 "site, ouverte dans ce navigateur, n'a envoyé aucune mesure. Le réglage est enregistré sur le "
                 "site lui-même : il vaut pour ce navigateur seulement, et disparaît si vous effacez les "
                 "données du site."),
}


# A site that waits for consent sends nothing before it either: the check cannot tell the two apart.
CONSENT_CAVEAT = ("Sur ce site, la mesure attend aussi l'accord donné dans le bandeau cookies : si vous ne l'avez "
                  "pas donné dans ce navigateur, acceptez-le puis vérifiez de nouveau.")


def _result(check: Check | None, site: str, now: float, consent: bool = False) -> tuple[str, str]:
    """(HTML of the verdict box, a meta refresh or "")."""
    if check is None or check.site != site:
        return ('<p class="box bad" role="status">Cette vérification est inconnue ou a expiré : recommencez '
                'ci-dessous.</p>', "")
    said = verdict(check, now)
    kind, title, more = VERDICTS[said]
    more += (" " + CONSENT_CAVEAT) if consent and said == "excluded" else ""
    box = (f'<div class="box {kind}" role="status" data-verdict="{said}"><p><strong>'
           f'{escape(title.format(site=site))}</strong></p>{f"<p>{escape(more)}</p>" if more else ""}</div>')
    return box, '<meta http-equiv="refresh" content="2">' if said == "waiting" else ""


async def opt_out(request: Request) -> Response:
    c = request.app.state.collector
    site = c.registry.get(request.query_params.get("site", ""))
    asked = request.query_params.get("check")
    result = refresh = ""
    status = 200
    if site is not None and asked is not None:
        check = c.checks.get(asked[:64])
        result, refresh = _result(check, site.name, c.checks.now(), site.consent == "required")
        status = 404 if check is None or check.site != site.name else 200
    # Only the site named in the link: this page is public, and the list of sites is not.
    items = ""
    if site is not None:
        token = c.checks.issue(site.name)
        result_url = "/opt-out?" + urlencode({"site": site.name, "check": token})
        for k, origin in enumerate(site.origins):
            go = "/opt-out/go?" + urlencode({"site": site.name, "check": token, "origin": k})
            o = escape(origin)
            asking = escape("/opt-out/check?check=" + token)
            items += f"""<li data-origin="{o}" data-go="{escape(go)}" data-state="{asking}"
 data-result="{escape(result_url)}"
 data-blocked="Votre navigateur a bloqué la petite fenêtre : suivez les étapes ci-dessous."
 data-working="Le site s'ouvre dans une petite fenêtre, qui se fermera toute seule…">
<button type="button" class="go" hidden>Ne plus compter ce navigateur sur {o}, et vérifier</button>
<p class="status" role="status"></p>
<p>Pas à pas :</p><ol>
<li><a href="{o}/#{OPT_OUT_FLAG}" target="_blank" rel="noopener">ne plus compter ce navigateur sur {o}</a>
(le site s'ouvre : le réglage est enregistré) ;</li>
<li>quelques secondes après, <a href="{escape(go)}" target="_blank" rel="noopener">ouvrir la page de
vérification</a> ;</li>
<li>puis <a href="{escape(result_url)}">voir le résultat</a>.</li></ol></li>"""
    body = (f"<h2>{escape(site.name)}</h2><ul class='origins'>{items}</ul>" if site is not None else
            "<p><strong>Ouvrez le lien de cette page donné par votre site</strong> (son adresse se termine par "
            "<code>?site=</code> et le nom du site).</p><p lang='en'><small>Open the link to this page that "
            "your site gives (it ends with <code>?site=</code> and the site's name).</small></p>")
    html = f"""<!doctype html><html lang="fr"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1">{refresh}<title>Ne pas être compté</title>
<style>body{{font:16px/1.5 system-ui,sans-serif;max-width:42rem;margin:2rem auto;padding:0 1rem}}
.box{{border-radius:6px;padding:.2rem 1rem;margin:1rem 0;border:2px solid}}
.ok{{border-color:#1a7f37;background:#e6f4ea}}.bad{{border-color:#a40e26;background:#fde8e8}}.info{{border-color:#1f5fbf;background:#e8f1fd}}
ul.origins{{list-style:none;padding:0}}button.go{{font:inherit;padding:.5rem 1rem;cursor:pointer}}</style>
<script src="/opt-out.js" defer></script></head>
<body><h1>Ne pas être compté dans les statistiques</h1>
{result}
<p>Pour l'équipe et pour toute personne qui le souhaite : vos visites ne seront plus mesurées dans <em>ce</em>
navigateur (un réglage est enregistré sur le site lui-même ; à refaire sur chaque navigateur). Pour être
compté à nouveau, effacez les données du site dans votre navigateur.</p>
{body}
<p lang="en"><small>Opt out: press the button (or follow the three links) in this browser; visits from it are
no longer counted, and this page says whether it worked.</small></p></body></html>"""
    return HTMLResponse(html, status_code=status, headers=HEADERS)


def _ask(request: Request) -> tuple[Check, str]:
    c = request.app.state.collector
    check = c.checks.get(request.query_params.get("check", "")[:64])
    if check is None:
        raise Rejected(404, "unknown_check", "this check is unknown or expired; open the opt-out page again")
    return check, check.site


async def go(request: Request) -> Response:
    """The test visit's link: notes when it was followed, then opens the site at /?webleads_check=TOKEN."""
    c = request.app.state.collector
    try:
        check, name = _ask(request)
        site = c.registry.get(name)
        k = request.query_params.get("origin", "0")
        if site is None or not k.isdigit() or int(k) >= len(site.origins):
            raise Rejected(400, "bad_origin", "origin must be the number of one of the site's origins")
    except Rejected as exc:
        return error_response(exc)
    c.checks.opened(request.query_params["check"][:64])
    target = f"{site.origins[int(k)]}/?" + urlencode({CHECK_PARAM: request.query_params["check"][:64]})
    return RedirectResponse(target, status_code=303, headers={"Cache-Control": "no-store"})


async def state(request: Request) -> Response:
    """The verdict so far, for the page's script: {"verdict": not_opened | waiting | counted | excluded}."""
    try:
        check, _ = _ask(request)
    except Rejected as exc:
        return error_response(exc)
    return JSONResponse({"verdict": verdict(check, request.app.state.collector.checks.now())},
                        headers={"Cache-Control": "no-store"})


# The button: the site at /#webleads_ignore in a small window, then the test visit in the same window,
# then wait for the verdict, close the window and show the result page. Pop-ups blocked: the links stay.
SCRIPT = b"""(function () {
  'use strict';
  var FLAG_WAIT = 3000, POLL = 500;
  Array.prototype.forEach.call(document.querySelectorAll('li[data-go]'), function (item) {
    var button = item.querySelector('button.go'), say = item.querySelector('.status');
    button.hidden = false;
    button.addEventListener('click', function () {
      var win = window.open(item.getAttribute('data-origin') + '/#webleads_ignore', 'webleads_optout',
                            'popup,width=520,height=640');
      if (!win) { say.textContent = item.getAttribute('data-blocked'); return; }
      button.disabled = true;
      say.textContent = item.getAttribute('data-working');
      var done = function () {
        try { win.close(); } catch (e) { /* already closed */ }
        location.assign(item.getAttribute('data-result'));
      };
      var ask = function () {
        fetch(item.getAttribute('data-state'), {cache: 'no-store'}).then(function (r) { return r.json(); })
          .then(function (s) { if (s.verdict === 'waiting') { setTimeout(ask, POLL); } else { done(); } }, done);
      };
      setTimeout(function () {
        win.location.replace(new URL(item.getAttribute('data-go'), location.href).href);
        setTimeout(ask, POLL);
      }, FLAG_WAIT);
    });
  });
})();
"""


async def script(request: Request) -> Response:
    return Response(SCRIPT, media_type="text/javascript; charset=utf-8",
                    headers={"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"})


def routes() -> list[BaseRoute]:
    return [Route("/opt-out", opt_out, methods=["GET"]), Route("/opt-out/go", go, methods=["GET"]),
            Route("/opt-out/check", state, methods=["GET"]), Route("/opt-out.js", script, methods=["GET"])]
