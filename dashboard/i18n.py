"""Every word the dashboard shows, in French (the default) and English, and number formatting.

t(lang, key, **values) looks a string up and fills its {placeholders}; a key missing from a language
falls back to French, and a test checks that both languages have the same keys. Numbers are formatted
here, never in SQL: French writes 1 234,5 and 12,5 %, English 1,234.5 and 12.5%.
"""

from __future__ import annotations

LANGS = ("fr", "en")
DEFAULT = "fr"

FR: dict[str, str] = {
    "skip": "Aller au contenu",
    "nav.overview": "Vue d'ensemble",
    "nav.attribution": "Attribution",
    "nav.funnel": "Entonnoirs",
    "nav.leads": "Contacts",
    "nav.links": "Liens de campagne",
    "nav.label": "Pages du tableau de bord",
    "lang.switch": "English",
    "signout": "Se déconnecter",
    # sign-in
    "signin.title": "Connexion",
    "signin.intro": "Collez un jeton d'accès pour voir les rapports.",
    "signin.token": "Jeton d'accès",
    "signin.help": "Un jeton se crée sur le serveur avec la commande",
    "signin.submit": "Se connecter",
    "signin.refused": "Ce jeton n'est pas reconnu. Vérifiez-le, ou créez-en un avec webleads token create.",
    "signin.expired": "Votre session a expiré ou n'existe pas : reconnectez-vous.",
    "signin.signed_out": "Vous êtes déconnecté.",
    # filters
    "filters": "Filtres",
    "f.from": "Du",
    "f.to": "Au",
    "f.site": "Site",
    "f.all_sites": "Tous les sites",
    "f.model": "Modèle",
    "f.by": "Regrouper par",
    "f.apply": "Afficher",
    "f.window": "Délai depuis la première étape",
    "f.conversion": "Conversion",
    "f.all_conversions": "Toutes",
    "f.channel": "Canal (premier ou dernier contact)",
    "f.all_channels": "Tous",
    "f.search": "Rechercher (source, campagne, parcours)",
    "f.status": "Statut",
    "f.status.accepted": "Acceptées par le site",
    "f.status.rejected": "Refusées",
    "f.status.all": "Toutes",
    "status.submitted": "envoyée",
    "status.sent": "acceptée",
    "status.invalid": "champs invalides",
    "status.unaccepted": "case non cochée",
    "status.spam": "spam",
    "status.aborted": "interrompue",
    "status.failed": "échec du mail",
    "reason.no pageview in the 30 minutes before": "aucune page vue dans les 30 minutes avant",
    "reason.more than 5 conversions in 10 minutes": "plus de 5 conversions en 10 minutes",
    "f.bad": "Filtre ignoré : {reason}",
    "range": "du {start} au {end}",
    "tz": "fuseau {tz}",
    "csv": "Télécharger en CSV",
    "csv.same": "le fichier contient exactement les lignes affichées",
    "table.data": "Données du graphique",
    "none": "Aucune donnée sur cette période.",
    # overview
    "ov.title": "Vue d'ensemble",
    "ov.visitors": "Visiteurs",
    "ov.pageviews": "Pages vues",
    "ov.conversions": "Conversions",
    "ov.rate": "Taux de conversion",
    "ov.rate.detail": "{converted} visiteurs sur {visitors} ont converti",
    "ov.live": "Visiteurs ces 30 dernières minutes",
    "ov.daily": "Jour par jour",
    "ov.daily.caption": "Visiteurs et conversions par jour",
    "ov.day": "Jour",
    "ov.top": "D'où viennent les visites",
    "ov.top.note": "Visites comptées à leur arrivée ; une conversion est rattachée à la visite où elle a lieu. "
                   "Pour répartir les conversions sur tout le parcours, voir Attribution.",
    "ov.sessions": "Visites",
    "ov.share": "part",
    "ov.top.channel": "Canaux",
    "ov.top.campaign": "Campagnes",
    "ov.top.source": "Sources",
    "ov.top.landing_page": "Pages d'arrivée",
    "ov.bots": "Robots exclus : {count} évènements sur la période.",
    "ov.rejected": "Envois refusés par le site, non comptés comme conversions : {count} :",
    # attribution
    "at.title": "Attribution",
    "at.intro": "Quelles {dimension} amènent les conversions, selon le modèle « {model} ».",
    "at.credit": "Conversions attribuées",
    "at.share": "Part",
    "at.touched": "Conversions où elle apparaît",
    "at.total": "{total} conversions attribuées sur la période.",
    "at.few": "Attention : {total} conversions seulement. Avec si peu de cas, quelques contacts de plus ou de "
              "moins changent l'ordre : lisez les nombres, pas seulement les pourcentages.",
    "at.chart": "Conversions attribuées par {dimension}",
    "at.compare.title": "Comparer les modèles",
    "at.compare.intro": "Chaque colonne répartit les mêmes conversions selon un modèle. L'écart montre où le "
                        "crédit se déplace : une valeur qui gagne en premier contact fait connaître, une valeur "
                        "qui gagne en dernier contact fait décider.",
    "at.compare.pick": "Modèles à comparer (deux ou plus)",
    "at.compare.shift": "Écart ({last} − {first})",
    "at.compare.chart": "Crédit de chaque valeur d'un modèle à l'autre",
    "at.compare.need": "Cochez au moins deux modèles pour les comparer.",
    "at.markov": "Le modèle de Markov estime des probabilités de passage d'un canal à l'autre : avec {total} "
                 "conversions, ses résultats sont instables. Comparez-le au modèle linéaire ou en U.",
    "at.none": "Aucune conversion sur cette période : rien à attribuer.",
    # funnel
    "fu.title": "Entonnoirs",
    "fu.intro": "Combien de visiteurs passent chaque étape, dans l'ordre, dans le délai choisi après la première.",
    "fu.steps": "Étapes",
    "fu.step": "Étape {n}",
    "fu.kind": "Type",
    "fu.pattern": "Page, conversion ou évènement",
    "fu.kind.pageview": "Page vue (motif, * = n'importe quoi)",
    "fu.kind.conversion": "Conversion (nom)",
    "fu.kind.event": "Évènement (nom)",
    "fu.add": "Ajouter une étape",
    "fu.remove": "Retirer",
    "fu.hint": "Laissez une ligne vide pour l'ignorer. Exemple : page /formation*, puis page /candidater, "
               "puis conversion candidater.",
    "fu.need": "Indiquez au moins deux étapes pour tracer un entonnoir.",
    "fu.visitors": "Visiteurs",
    "fu.rate": "Depuis l'étape 1",
    "fu.drop": "Perdus depuis l'étape précédente",
    "fu.chart": "Visiteurs à chaque étape",
    "fu.split": "Répartir par",
    "fu.nosplit": "— (ne pas répartir)",
    "fu.split.note": "Selon la visite où le visiteur a fait la première étape.",
    "fu.window.1d": "1 jour",
    "fu.window.7d": "7 jours",
    "fu.window.14d": "14 jours",
    "fu.window.30d": "30 jours",
    "fu.window.90d": "90 jours",
    # leads
    "le.title": "Contacts",
    "le.intro": "Une ligne par conversion : d'où venait la personne la première fois, et juste avant de "
                "convertir.",
    "le.count": "{shown} conversions affichées sur {total}.",
    "le.ts": "Date (UTC)",
    "le.conversion": "Conversion",
    "le.first": "Premier contact",
    "le.last": "Dernier contact",
    "le.path": "Parcours",
    "le.days": "Jours avant conversion",
    "le.touches": "Visites",
    "le.status": "Statut",
    # links
    "li.title": "Liens de campagne",
    "li.intro": "Un lien par support (newsletter, publication, affiche…). Les noms sont mis en minuscules, "
                "sans espaces ni accents, pour qu'une campagne ne soit pas comptée sous trois orthographes.",
    "li.url": "Adresse de la page",
    "li.source": "Source (utm_source)",
    "li.source.help": "Qui envoie le visiteur : newsletter, facebook, mairie, france-travail…",
    "li.medium": "Support (utm_medium)",
    "li.medium.help": "Le type de support : email, social, cpc (publicité payante), print (papier, QR code), "
                      "referral…",
    "li.campaign": "Campagne (utm_campaign)",
    "li.campaign.help": "Le nom de l'action : formation-dev-2025, portes-ouvertes…",
    "li.content": "Contenu (utm_content, facultatif)",
    "li.content.help": "Pour distinguer deux liens d'une même campagne : bouton-haut, affiche-mairie…",
    "li.make": "Créer le lien",
    "li.result": "Votre lien",
    "li.copy": "Copier le lien",
    "li.copied": "Lien copié.",
    "li.copy.fail": "Copie impossible : sélectionnez le lien et copiez-le (Ctrl+C).",
    "li.channel": "Ce lien sera compté dans le canal « {channel} ».",
    "li.changed": "« {raw} » devient « {clean} ».",
    "li.near": "« {value} » ressemble à « {seen} », déjà utilisé : est-ce la même chose ?",
    "li.need": "Indiquez l'adresse de la page, la source, le support et la campagne.",
    "li.bad_url": "L'adresse doit commencer par http:// ou https://.",
    "li.seen": "Déjà utilisés sur ce site",
    "li.seen.intro": "Les valeurs déjà reçues et le nombre d'évènements qui les portaient. Quand une valeur a été "
                     "reçue sous plusieurs orthographes, elles sont réunies sur une ligne : reprenez la forme "
                     "conseillée.",
    "li.seen.param": "Paramètre",
    "li.seen.value": "Forme conseillée",
    "li.seen.spellings": "Orthographes reçues",
    "li.seen.visits": "Évènements",
    # errors
    "err.title": "Erreur",
    "err.origin": "Requête refusée : elle ne vient pas de cette page (protection contre les requêtes "
                  "intersites).",
    # models and dimensions
    "model.first_touch": "Premier contact",
    "model.last_touch": "Dernier contact",
    "model.last_non_direct": "Dernier contact non direct",
    "model.linear": "Linéaire",
    "model.position_based": "En U (40/20/40)",
    "model.time_decay": "Dégressif dans le temps (demi-vie 7 jours)",
    "model.markov": "Markov (effet de retrait)",
    "dim.channel": "Canal",
    "dim.source": "Source",
    "dim.medium": "Support",
    "dim.campaign": "Campagne",
    "dim.term": "Mot-clé",
    "dim.content": "Contenu",
    "dim.referrer_domain": "Site référent",
    "dim.landing_page": "Page d'arrivée",
    "dims.channel": "canaux",
    "dims.source": "sources",
    "dims.medium": "supports",
    "dims.campaign": "campagnes",
    "dims.term": "mots-clés",
    "dims.content": "contenus",
    "dims.referrer_domain": "sites référents",
    "dims.landing_page": "pages d'arrivée",
}

EN: dict[str, str] = {
    "skip": "Skip to content",
    "nav.overview": "Overview",
    "nav.attribution": "Attribution",
    "nav.funnel": "Funnels",
    "nav.leads": "Leads",
    "nav.links": "Campaign links",
    "nav.label": "Dashboard pages",
    "lang.switch": "Français",
    "signout": "Sign out",
    "signin.title": "Sign in",
    "signin.intro": "Paste an access token to see the reports.",
    "signin.token": "Access token",
    "signin.help": "Create a token on the server with the command",
    "signin.submit": "Sign in",
    "signin.refused": "This token is not recognised. Check it, or create one with webleads token create.",
    "signin.expired": "Your session has expired or does not exist: sign in again.",
    "signin.signed_out": "You are signed out.",
    "filters": "Filters",
    "f.from": "From",
    "f.to": "To",
    "f.site": "Site",
    "f.all_sites": "All sites",
    "f.model": "Model",
    "f.by": "Group by",
    "f.apply": "Show",
    "f.window": "Time allowed after the first step",
    "f.conversion": "Conversion",
    "f.all_conversions": "All",
    "f.channel": "Channel (first or last touch)",
    "f.all_channels": "All",
    "f.search": "Search (source, campaign, path)",
    "f.status": "Status",
    "f.status.accepted": "Accepted by the site",
    "f.status.rejected": "Rejected",
    "f.status.all": "All",
    "status.submitted": "submitted",
    "status.sent": "accepted",
    "status.invalid": "invalid fields",
    "status.unaccepted": "box not ticked",
    "status.spam": "spam",
    "status.aborted": "aborted",
    "status.failed": "mail failed",
    "reason.no pageview in the 30 minutes before": "no pageview in the 30 minutes before",
    "reason.more than 5 conversions in 10 minutes": "more than 5 conversions in 10 minutes",
    "f.bad": "Filter ignored: {reason}",
    "range": "from {start} to {end}",
    "tz": "time zone {tz}",
    "csv": "Download as CSV",
    "csv.same": "the file holds exactly the rows shown",
    "table.data": "Chart data",
    "none": "No data in this period.",
    "ov.title": "Overview",
    "ov.visitors": "Visitors",
    "ov.pageviews": "Pageviews",
    "ov.conversions": "Conversions",
    "ov.rate": "Conversion rate",
    "ov.rate.detail": "{converted} of {visitors} visitors converted",
    "ov.live": "Visitors in the last 30 minutes",
    "ov.daily": "Day by day",
    "ov.daily.caption": "Visitors and conversions per day",
    "ov.day": "Day",
    "ov.top": "Where visits come from",
    "ov.top.note": "Visits are counted at their landing; a conversion belongs to the visit it happens in. "
                   "To share conversions over the whole journey, see Attribution.",
    "ov.sessions": "Visits",
    "ov.share": "share",
    "ov.top.channel": "Channels",
    "ov.top.campaign": "Campaigns",
    "ov.top.source": "Sources",
    "ov.top.landing_page": "Landing pages",
    "ov.bots": "Bots left out: {count} events in the period.",
    "ov.rejected": "Submissions the site rejected, not counted as conversions: {count}:",
    "at.title": "Attribution",
    "at.intro": "Which {dimension} bring conversions, under the “{model}” model.",
    "at.credit": "Credited conversions",
    "at.share": "Share",
    "at.touched": "Conversions it appears in",
    "at.total": "{total} conversions attributed in the period.",
    "at.few": "Caution: only {total} conversions. With so few, a handful of leads more or less changes the "
              "order: read the counts, not only the percentages.",
    "at.chart": "Credited conversions by {dimension}",
    "at.compare.title": "Compare models",
    "at.compare.intro": "Each column shares the same conversions out under one model. The difference shows where "
                        "credit moves: a value that gains under first touch makes people discover you, a value "
                        "that gains under last touch makes them decide.",
    "at.compare.pick": "Models to compare (two or more)",
    "at.compare.shift": "Change ({last} − {first})",
    "at.compare.chart": "Each value's credit from one model to the next",
    "at.compare.need": "Tick at least two models to compare them.",
    "at.markov": "The Markov model estimates the chances of moving from one channel to another: with {total} "
                 "conversions its results are unstable. Compare it with the linear or position-based model.",
    "at.none": "No conversion in this period: nothing to attribute.",
    "fu.title": "Funnels",
    "fu.intro": "How many visitors pass each step, in order, within the chosen time after the first one.",
    "fu.steps": "Steps",
    "fu.step": "Step {n}",
    "fu.kind": "Kind",
    "fu.pattern": "Page, conversion or event",
    "fu.kind.pageview": "Pageview (pattern, * = anything)",
    "fu.kind.conversion": "Conversion (name)",
    "fu.kind.event": "Event (name)",
    "fu.add": "Add a step",
    "fu.remove": "Remove",
    "fu.hint": "Leave a row empty to skip it. Example: page /formation*, then page /candidater, then conversion "
               "candidater.",
    "fu.need": "Give at least two steps to draw a funnel.",
    "fu.visitors": "Visitors",
    "fu.rate": "From step 1",
    "fu.drop": "Lost since the previous step",
    "fu.chart": "Visitors at each step",
    "fu.split": "Split by",
    "fu.nosplit": "— (no split)",
    "fu.split.note": "By the visit in which the visitor did the first step.",
    "fu.window.1d": "1 day",
    "fu.window.7d": "7 days",
    "fu.window.14d": "14 days",
    "fu.window.30d": "30 days",
    "fu.window.90d": "90 days",
    "le.title": "Leads",
    "le.intro": "One row per conversion: where the person came from the first time, and just before converting.",
    "le.count": "{shown} conversions shown of {total}.",
    "le.ts": "Date (UTC)",
    "le.conversion": "Conversion",
    "le.first": "First touch",
    "le.last": "Last touch",
    "le.path": "Path",
    "le.days": "Days to convert",
    "le.touches": "Visits",
    "le.status": "Status",
    "li.title": "Campaign links",
    "li.intro": "One link per medium (newsletter, post, poster…). Names are lower-cased, without spaces or "
                "accents, so that one campaign is not counted under three spellings.",
    "li.url": "Page address",
    "li.source": "Source (utm_source)",
    "li.source.help": "Who sends the visitor: newsletter, facebook, townhall, partner…",
    "li.medium": "Medium (utm_medium)",
    "li.medium.help": "The kind of medium: email, social, cpc (paid ads), print (paper, QR code), referral…",
    "li.campaign": "Campaign (utm_campaign)",
    "li.campaign.help": "The action's name: dev-training-2025, open-day…",
    "li.content": "Content (utm_content, optional)",
    "li.content.help": "To tell two links of one campaign apart: top-button, townhall-poster…",
    "li.make": "Make the link",
    "li.result": "Your link",
    "li.copy": "Copy the link",
    "li.copied": "Link copied.",
    "li.copy.fail": "Could not copy: select the link and copy it (Ctrl+C).",
    "li.channel": "This link will count in the “{channel}” channel.",
    "li.changed": "“{raw}” becomes “{clean}”.",
    "li.near": "“{value}” looks like “{seen}”, already in use: is it the same thing?",
    "li.need": "Give the page address, the source, the medium and the campaign.",
    "li.bad_url": "The address must start with http:// or https://.",
    "li.seen": "Already used on this site",
    "li.seen.intro": "Values already received and how many events carried them. When a value came under several "
                     "spellings, they share one row: use the suggested form.",
    "li.seen.param": "Parameter",
    "li.seen.value": "Suggested form",
    "li.seen.spellings": "Spellings received",
    "li.seen.visits": "Events",
    "err.title": "Error",
    "err.origin": "Request refused: it does not come from this page (cross-site request protection).",
    "model.first_touch": "First touch",
    "model.last_touch": "Last touch",
    "model.last_non_direct": "Last non-direct touch",
    "model.linear": "Linear",
    "model.position_based": "Position-based (40/20/40)",
    "model.time_decay": "Time decay (7-day half-life)",
    "model.markov": "Markov (removal effect)",
    "dim.channel": "Channel",
    "dim.source": "Source",
    "dim.medium": "Medium",
    "dim.campaign": "Campaign",
    "dim.term": "Term",
    "dim.content": "Content",
    "dim.referrer_domain": "Referring site",
    "dim.landing_page": "Landing page",
    "dims.channel": "channels",
    "dims.source": "sources",
    "dims.medium": "media",
    "dims.campaign": "campaigns",
    "dims.term": "terms",
    "dims.content": "contents",
    "dims.referrer_domain": "referring sites",
    "dims.landing_page": "landing pages",
}

STRINGS = {"fr": FR, "en": EN}
MONTHS_FR = ("janv.", "févr.", "mars", "avr.", "mai", "juin", "juil.", "août", "sept.", "oct.", "nov.", "déc.")
MONTHS_EN = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def pick(requested: str | None, cookie: str | None) -> str:
    """The language of a request: ?lang= first, then the cookie, then French."""
    for lang in (requested, cookie):
        if lang in LANGS:
            return lang  # type: ignore[return-value]
    return DEFAULT


class Text:
    """The strings and number formats of one language, handed to templates as `t` and `n`."""

    def __init__(self, lang: str) -> None:
        self.lang = lang if lang in LANGS else DEFAULT
        self.strings = STRINGS[self.lang]

    def __call__(self, key: str, **values: object) -> str:
        text = self.strings.get(key) or FR.get(key) or key
        return text.format(**values) if values else text

    # --- numbers ---------------------------------------------------------------------------------
    def int(self, value: float | int | None) -> str:
        return self._group(f"{round(value or 0):,}")

    def dec(self, value: float | None, digits: int = 1) -> str:
        """A decimal with at most `digits` places: 3, 2.5, 0.33 (trailing zeros dropped)."""
        v = round(float(value or 0), digits)
        text = f"{v:,.{digits}f}".rstrip("0").rstrip(".") if digits else f"{v:,.0f}"
        if text in ("-0", ""):
            text = "0"
        return self._group(text)

    def pct(self, part: float | None, whole: float | None, digits: int = 1) -> str:
        if not whole:
            return "–"
        text = self.dec(100.0 * float(part or 0) / float(whole), digits)
        return f"{text}\u202f%" if self.lang == "fr" else f"{text}%"

    def day(self, value: object) -> str:
        """A short day for chart axes: 12 nov. / Nov 12."""
        d = value if hasattr(value, "month") else None
        if d is None:
            return str(value)
        if self.lang == "fr":
            return f"{d.day} {MONTHS_FR[d.month - 1]}"  # type: ignore[attr-defined]
        return f"{MONTHS_EN[d.month - 1]} {d.day}"  # type: ignore[attr-defined]

    def date(self, value: object) -> str:
        """A full day: 12 nov. 2025 / Nov 12, 2025."""
        if not hasattr(value, "year"):
            return str(value)
        return f"{self.day(value)} {value.year}" if self.lang == "fr" else f"{self.day(value)}, {value.year}"  # type: ignore[attr-defined]

    def _group(self, text: str) -> str:
        if self.lang != "fr":
            return text
        # 1,234.5 -> 1 234,5 (narrow no-break space, as French typography has it)
        return text.replace(",", "\u202f").replace(".", ",")
