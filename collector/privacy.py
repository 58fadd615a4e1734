"""The paragraph a site puts in its privacy policy, written from the site's real configuration."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .enrich import Geo


@dataclass(frozen=True)
class NoticeFacts:
    site: str
    origins: tuple[str, ...]
    consent_required: bool
    retention_months: int
    geo_precision: str  # "none" | "country" | "city"
    allowed_params: tuple[str, ...]
    opt_out_url: str
    outcomes_in_use: bool = False  # the back office records what became of this site's leads


def geo_precision(geo: Geo) -> str:
    if geo.reader is None:
        return "none"
    kind = str(getattr(geo.reader.metadata(), "database_type", "")).lower()
    return "city" if "city" in kind else "country"


def outcomes_in_use(store: Any, site: str) -> bool:
    """True when an outcome is recorded for one of the site's leads."""
    rows = store.query("SELECT 1 AS found FROM lead_outcomes o JOIN event_log e ON e.event_id = o.lead_id "
                       "AND e.type = 'conversion' WHERE e.site = $s LIMIT 1", {"s": site})
    return bool(rows)


def facts_for(site: Any, settings: Any, geo: Geo, store: Any) -> NoticeFacts:
    """The facts of one registered site, as `webleads privacy-notice` and the dashboard's page read them."""
    return NoticeFacts(site=site.name, origins=site.origins, consent_required=site.consent == "required",
                       retention_months=site.retention_months or settings.retention_months,
                       geo_precision=geo_precision(geo), allowed_params=site.allowed_params,
                       opt_out_url=f"{settings.base_url}/opt-out?site={site.name}",
                       outcomes_in_use=outcomes_in_use(store, site.name))


def notice(facts: NoticeFacts, lang: str = "fr") -> str:
    return _FR(facts) if lang == "fr" else _EN(facts)


def _FR(f: NoticeFacts) -> str:
    geo = {"none": "Aucune localisation n'est déduite de votre adresse IP.",
           "country": "Votre adresse IP sert à déduire votre pays, puis elle est effacée.",
           "city": "Votre adresse IP sert à déduire votre pays, votre région et votre ville (jamais plus "
                   "précis), puis elle est effacée."}[f.geo_precision]
    tier1 = ("Avant votre consentement, rien n'est envoyé ni enregistré : la mesure ne commence qu'une fois "
             "que vous l'avez acceptée dans le bandeau cookies." if f.consent_required else
             "Sans votre consentement, rien n'est déposé sur votre appareil (ni cookie, ni stockage local). "
             "Pour compter les visites d'une même journée, nous calculons une empreinte à partir du site, de "
             "votre adresse IP et de votre navigateur, avec une clé secrète renouvelée chaque jour et effacée "
             "au bout de deux jours : elle ne permet pas de vous reconnaître d'un jour à l'autre.")
    params = (f" ainsi que les paramètres {', '.join(f.allowed_params)}" if f.allowed_params else "")
    return f"""Mesure d'audience et des campagnes ({f.site})

Ce site ({', '.join(f.origins)}) mesure sa fréquentation et l'efficacité de ses campagnes (lettres \
d'information, réseaux sociaux, sites partenaires, annonces) avec webleads-tracker, un outil libre \
installé sur nos propres serveurs : aucune donnée n'est transmise à un tiers.

Ce qui est collecté : les pages consultées (adresse sans ses paramètres, sauf les paramètres de \
campagne utm_* et les identifiants de clic publicitaire{params}), le site d'où vous venez, le type de \
navigateur, de système et d'appareil, la date et l'heure, et l'envoi de nos formulaires (le nom du \
formulaire, jamais son contenu, sauf les champs que nous avons explicitement choisis). {geo}

{tier1}

Avec votre consentement, un identifiant aléatoire est enregistré dans votre navigateur pour relier vos \
visites de plusieurs jours (par exemple une lettre d'information lue la semaine dernière et une \
candidature envoyée aujourd'hui). Il expire 13 mois après sa création et n'est jamais prolongé ; retirer \
votre consentement l'efface.

Ce qui n'est jamais collecté : votre adresse IP (jamais enregistrée), le contenu des champs de mot de \
passe, des champs cachés et des champs de paiement, les adresses e-mail (masquées si elles apparaissent \
dans une adresse de page).

Si votre navigateur envoie le signal « Do Not Track » ou « Global Privacy Control », rien n'est collecté.

{_outcomes_fr(f)}Les données sont conservées {f.retention_months} mois, puis supprimées automatiquement.

Vous pouvez refuser la mesure à tout moment sur cette page : {f.opt_out_url}
"""


def _EN(f: NoticeFacts) -> str:
    geo = {"none": "No location is derived from your IP address.",
           "country": "Your IP address is used to find your country, then discarded.",
           "city": "Your IP address is used to find your country, region and city (never finer), then "
                   "discarded."}[f.geo_precision]
    tier1 = ("Before you consent, nothing is sent or stored: measurement starts only once you accept it in "
             "the cookie banner." if f.consent_required else
             "Without your consent, nothing is stored on your device (no cookie, no local storage). To count "
             "the visits of one day, we compute a fingerprint of the site, your IP address and your browser "
             "with a secret key that changes every day and is deleted after two days: it cannot recognise "
             "you from one day to the next.")
    params = (f" and the parameters {', '.join(f.allowed_params)}" if f.allowed_params else "")
    return f"""Audience and campaign measurement ({f.site})

This site ({', '.join(f.origins)}) measures its audience and the effect of its campaigns (newsletters, \
social networks, partner sites, ads) with webleads-tracker, free software running on our own servers: \
no data is passed to third parties.

What is collected: the pages you view (their address without parameters, except utm_* campaign \
parameters and ad click identifiers{params}), the site you came from, your kind of browser, system and \
device, the date and time, and the sending of our forms (the form's name, never its content, except the \
fields we explicitly chose). {geo}

{tier1}

With your consent, a random identifier is stored in your browser to link your visits over several days \
(for example a newsletter read last week and an application sent today). It expires 13 months after it \
was created and is never extended; withdrawing your consent deletes it.

What is never collected: your IP address (never stored), the content of password, hidden and payment \
fields, e-mail addresses (masked if they appear in a page address).

If your browser sends "Do Not Track" or "Global Privacy Control", nothing is collected.

{_outcomes_en(f)}Data is kept for {f.retention_months} months, then deleted automatically.

You can opt out at any time on this page: {f.opt_out_url}
"""


# When the back office records what became of leads (webleads outcome import, POST /api/v1/outcomes, the
# dashboard), the anonymous journey of a person who applied is tied to an application the site knows:
# personal data, handled under the site's legal basis for applications. Said plainly, as the CNIL asks.
def _outcomes_fr(f: NoticeFacts) -> str:
    if not f.outcomes_in_use:
        return ""
    return ("Lorsque vous nous envoyez une candidature ou une demande par un formulaire, nous pouvons "
            "enregistrer ce qu'elle est devenue (par exemple inscription, financement, abandon) et, le cas "
            "échéant, son montant, pour savoir quelles campagnes amènent des personnes qui s'inscrivent. Le "
            "parcours de visite lié à votre demande devient alors une donnée personnelle, traitée sur la même "
            "base légale que votre candidature. L'outil ne conserve que l'identifiant de la demande, ce "
            "qu'elle est devenue, son montant et sa date : ni votre nom, ni vos coordonnées.\n\n")


def _outcomes_en(f: NoticeFacts) -> str:
    if not f.outcomes_in_use:
        return ""
    return ("When you send us an application or a request through a form, we may record what became of it "
            "(for example enrolled, funded, withdrawn) and, where relevant, its amount, to learn which "
            "campaigns bring people who enrol. The visit journey linked to your request then becomes personal "
            "data, handled on the same legal basis as your application. The tool keeps only the request's "
            "identifier, what became of it, its amount and its date: not your name or contact details.\n\n")
