"""The column headers of the Excel files, in French (the default) and English.

The CSV and JSON keep the contract's column names (DESIGN.md); an `.xlsx` is for people, so its header
row reads as words. The table lives here, not in the dashboard's gettext catalog, because the API and the
CLI (this package) write Excel files too and analytics does not import the dashboard; the dashboard adds
its own words on top (model names for the comparison, the dimension's name). A column missing here keeps
its contract name, which a unit test catches.
"""

from __future__ import annotations

LANGS = ("fr", "en")
DEFAULT_LANG = "fr"

_FR = {
    "channel": "Canal", "source": "Source", "medium": "Support", "campaign": "Campagne", "term": "Mot-clé",
    "content": "Contenu", "referrer_domain": "Site référent", "landing_page": "Page d’arrivée",
    "conversions": "Conversions", "share": "Part", "touched_conversions": "Conversions où il apparaît",
    "value": "Valeur (€)", "step": "Étape", "name": "Page, formulaire ou événement", "visitors": "Visiteurs",
    "conversion_rate": "Depuis l’étape 1", "drop_off": "Perdus depuis l’étape précédente",
    "median_seconds_from_previous": "Durée médiane depuis l’étape précédente (s)",
    "ts": "Date", "site": "Site", "visitor_id": "Visiteur", "conversion": "Formulaire",
    "first_source": "Première source", "first_medium": "Premier support", "first_campaign": "Première campagne",
    "last_source": "Dernière source", "last_medium": "Dernier support", "last_campaign": "Dernière campagne",
    "lead_id": "Identifiant du contact", "status": "Statut", "outcome": "Devenir",
    "first_channel": "Premier canal", "last_channel": "Dernier canal", "path": "Parcours",
    "touches": "Visites", "days_to_convert": "Jours avant conversion", "fields": "Champs du formulaire",
    "status_reason": "Raison du statut", "cost": "Coût (€)", "cost_per_conversion": "Coût par conversion (€)",
    "roas": "Valeur / coût", "declared": "Réponse déclarée", "leads": "Contacts", "day": "Jour",
    "pageviews": "Pages vues", "sessions": "Visites", "code": "Code", "url": "Adresse", "scans": "Scans",
    "short_url": "Lien court", "utm_source": "utm_source", "utm_medium": "utm_medium",
    "utm_campaign": "utm_campaign", "utm_content": "utm_content", "scanners": "Personnes ayant scanné",
    "created_at": "Créé le",
}
_EN = {
    "channel": "Channel", "source": "Source", "medium": "Medium", "campaign": "Campaign", "term": "Term",
    "content": "Content", "referrer_domain": "Referring site", "landing_page": "Landing page",
    "conversions": "Conversions", "share": "Share", "touched_conversions": "Conversions it appears in",
    "value": "Value (€)", "step": "Step", "name": "Page, form or event", "visitors": "Visitors",
    "conversion_rate": "From step 1", "drop_off": "Lost since the previous step",
    "median_seconds_from_previous": "Median time from the previous step (s)",
    "ts": "Date", "site": "Site", "visitor_id": "Visitor", "conversion": "Form",
    "first_source": "First source", "first_medium": "First medium", "first_campaign": "First campaign",
    "last_source": "Last source", "last_medium": "Last medium", "last_campaign": "Last campaign",
    "lead_id": "Lead id", "status": "Status", "outcome": "Outcome",
    "first_channel": "First channel", "last_channel": "Last channel", "path": "Path",
    "touches": "Visits", "days_to_convert": "Days to convert", "fields": "Form fields",
    "status_reason": "Status reason", "cost": "Cost (€)", "cost_per_conversion": "Cost per conversion (€)",
    "roas": "Value / cost", "declared": "Declared answer", "leads": "Leads", "day": "Day",
    "pageviews": "Pageviews", "sessions": "Visits", "code": "Code", "url": "Address", "scans": "Scans",
    "short_url": "Short link", "utm_source": "utm_source", "utm_medium": "utm_medium",
    "utm_campaign": "utm_campaign", "utm_content": "utm_content", "scanners": "People who scanned",
    "created_at": "Created at",
}
HEADERS = {"fr": _FR, "en": _EN}

# The words of the parameters sheet.
_PARAMS = {
    "fr": {"sheet": "Paramètres", "period": "Période", "model": "Modèle", "site": "Site",
           "tz": "Fuseau horaire", "generated": "Généré le", "all_sites": "tous les sites",
           "by": "Regroupé par", "steps": "Étapes", "window": "Délai après l’étape 1", "month": "Mois",
           "parameter": "Paramètre", "setting": "Valeur", "to": "au", "from": "du",
           "all_days": "tous les jours enregistrés"},
    "en": {"sheet": "Parameters", "period": "Period", "model": "Model", "site": "Site",
           "tz": "Time zone", "generated": "Generated at", "all_sites": "all sites",
           "by": "Grouped by", "steps": "Steps", "window": "Time allowed after step 1", "month": "Month",
           "parameter": "Parameter", "setting": "Value", "to": "to", "from": "from",
           "all_days": "every day recorded"},
}


def check_lang(lang: str | None) -> str:
    """The language of an Excel file's words: fr (the default) or en."""
    return lang if lang in LANGS else DEFAULT_LANG  # type: ignore[return-value]


def headers(lang: str) -> dict[str, str]:
    return HEADERS[check_lang(lang)]


def words(lang: str) -> dict[str, str]:
    return _PARAMS[check_lang(lang)]
