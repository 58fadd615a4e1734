"""The root page: what this is and what to do next, in French first."""

from __future__ import annotations

from html import escape

from .settings import Settings

_STYLE = """
body{font:16px/1.5 system-ui,sans-serif;max-width:46rem;margin:2rem auto;padding:0 1rem;color:#1d2330}
h1{font-size:1.5rem}code,pre{background:#f1f3f6;border-radius:4px;padding:.1rem .3rem}
pre{padding:.7rem;overflow-x:auto;white-space:pre-wrap;word-break:break-all}
ol li{margin:.8rem 0}.ok{color:#1a7f37}.todo{color:#9a6700}small{color:#57606a}
"""


def home(settings: Settings, site_count: int, tag: str) -> str:
    status = (f'<p class="ok">Le collecteur fonctionne : {site_count} site(s) enregistré(s).</p>'
              if site_count else
              '<p class="todo">Le collecteur fonctionne, mais aucun site n\'est encore enregistré.</p>')
    dashboard = f"{settings.base_url}/dashboard"
    return f"""<!doctype html>
<html lang="fr"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>webleads-tracker</title><style>{_STYLE}</style></head>
<body>
<h1>webleads-tracker</h1>
<p>Mesure d'audience et attribution des contacts, hébergée chez vous : quelles campagnes amènent
des candidatures et des demandes de contact.</p>
{status}
<h2>Prochaines étapes</h2>
<ol>
<li><strong>Enregistrer votre site</strong> (dans un terminal, sur ce serveur) :
<pre>webleads site add mon-site --origin https://www.example.org</pre></li>
<li><strong>Coller la balise</strong> dans l'en-tête (<code>&lt;head&gt;</code>) de toutes les pages,
par exemple dans le thème WordPress ou une extension d'insertion de scripts :
<pre>{escape(tag)}</pre></li>
<li><strong>Créer un jeton d'accès</strong> pour les rapports : <pre>webleads token create</pre></li>
<li><strong>Ouvrir le tableau de bord</strong> : <a href="/dashboard">{escape(dashboard)}</a></li>
</ol>
<p>Pour que l'équipe ne se compte pas elle-même : <a href="/opt-out">/opt-out</a>. Le texte pour votre
politique de confidentialité : <code>webleads privacy-notice --site mon-site</code>.</p>
<p><small>Santé du service : <a href="/healthz">/healthz</a> ·
English: register a site with <code>webleads site add</code>, paste the tag it prints into every
page's &lt;head&gt;, create a token with <code>webleads token create</code>, then open
<a href="/dashboard">/dashboard</a>.</small></p>
</body></html>"""
