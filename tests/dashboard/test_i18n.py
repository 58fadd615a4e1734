"""The dashboard's languages: the French catalog translates every word the code and templates use, the
`.pot` matches the sources, French typography and plural agreement, the names of channels, models and
dimensions, and numbers and dates written by Babel."""

from __future__ import annotations

import re
import tomllib
from datetime import date
from fnmatch import fnmatch
from pathlib import Path

import pytest
from babel.messages.catalog import Message
from babel.messages.frontend import CommandLineInterface
from babel.messages.pofile import read_po

from webleads.analytics import channels, reports
from webleads.dashboard import charts, i18n

ROOT = Path(__file__).resolve().parents[2]
LOCALE = ROOT / "dashboard" / "locale"
POT = LOCALE / "messages.pot"
FRENCH = LOCALE / "fr" / "LC_MESSAGES" / "messages.po"
PLACEHOLDER = re.compile(r"%\((\w+)\)s")


def ids(path: Path) -> set[tuple[str | None, str]]:
    """(context, msgid) of every message of a catalog (a plural's singular stands for it)."""
    with path.open("rb") as fh:
        catalog = read_po(fh)
    return {(m.context, m.id if isinstance(m.id, str) else m.id[0]) for m in catalog if m.id}


def strings(message: Message) -> list[str]:
    return [message.string] if isinstance(message.string, str) else list(message.string)


def test_the_pot_is_up_to_date_with_the_sources(tmp_path: Path) -> None:
    """A word added to a template or a module without `pybabel extract` fails here (docs/architecture.md)."""
    fresh = tmp_path / "messages.pot"
    CommandLineInterface().run(["pybabel", "-q", "extract", "-F", str(ROOT / "babel.cfg"), "-o", str(fresh),
                                "--no-wrap", str(ROOT / "dashboard")])
    extracted = ids(fresh)
    assert len(extracted) > 100
    committed = ids(POT)
    assert extracted - committed == set(), "new words: run pybabel extract and update (docs/architecture.md)"
    assert committed - extracted == set(), "words no longer used: run pybabel extract and update"


def test_every_word_has_a_french_translation() -> None:
    assert ids(FRENCH) == ids(POT), "run pybabel update -i dashboard/locale/messages.pot -d dashboard/locale"
    with FRENCH.open("rb") as fh:
        catalog = read_po(fh)
    empty = [m.id for m in catalog if m.id and not all(strings(m))]
    assert empty == [], "French msgstr missing"
    fuzzy = [m.id for m in catalog if m.id and m.fuzzy]
    assert fuzzy == [], "fuzzy entries are not shown: check them and remove the fuzzy flag"
    for message in catalog:
        if not message.id:
            continue
        sources = [message.id] if isinstance(message.id, str) else list(message.id)
        wanted = set().union(*(PLACEHOLDER.findall(s) for s in sources))
        for text in strings(message):
            assert set(PLACEHOLDER.findall(text)) <= wanted | {"num"}, message.id
    assert list(catalog.check()) == []  # Babel's own checks: python-format placeholders, plural forms


def test_french_typography() -> None:
    """Non-breaking space before : and inside « », narrow one before ; ? !, the typographic apostrophe."""
    with FRENCH.open("rb") as fh:
        catalog = read_po(fh)
    for message in catalog:
        if not message.id:
            continue
        for text in strings(message):
            assert "'" not in text, text
            assert not re.search(r" [:;?!»]| %(?!\()|« ", text), text
            assert not re.search(r"\w[;?!]", text), text
            assert "évènement" not in text.lower(), text


def test_french_words_agree() -> None:
    fr, en = i18n.Text("fr"), i18n.Text("en")
    assert fr.dim("channel").intro("Linéaire") == \
        "Quels canaux amènent les conversions, selon le modèle «\u00a0Linéaire\u00a0»\u202f?"
    assert fr.dim("source").intro("x").startswith("Quelles sources")
    assert fr.dim("medium").intro("x").startswith("Quels supports")
    assert fr.dim("term").intro("x").startswith("Quels mots-clés")
    assert fr.dim("content").intro("x").startswith("Quels contenus")
    assert fr.dim("referrer_domain").intro("x").startswith("Quels sites référents")
    assert fr.dim("campaign").intro("x").startswith("Quelles campagnes")
    assert en.dim("channel").intro("Linear") == "Which channels bring conversions, under the “Linear” model."
    assert fr.dim("channel").touched == "Conversions où ce canal apparaît"


@pytest.mark.parametrize(("lang", "converted", "visitors", "text"), [
    ("fr", 0, 1, "0 visiteur sur 1 a converti"),
    ("fr", 1, 1, "1 visiteur sur 1 a converti"),
    ("fr", 2, 10, "2 visiteurs sur 10 ont converti"),
    ("fr", 1500, 2000, "1\u202f500 visiteurs sur 2\u202f000 ont converti"),
    ("en", 0, 1, "0 visitors out of 1 converted"),
    ("en", 1, 1, "1 visitor out of 1 converted"),
])
def test_plural_agreement(lang: str, converted: int, visitors: int, text: str) -> None:
    t = i18n.Text(lang)
    assert t.ngettext("%(num)s visitor out of %(visitors)s converted", "%(num)s visitors out of %(visitors)s converted",
                      converted, visitors=t.int(visitors)) == text


def test_every_channel_model_and_dimension_has_a_name_in_both_languages() -> None:
    fr, en = i18n.Text("fr"), i18n.Text("en")
    assert set(fr._labels.channels) == set(channels.CHANNELS)  # a new GA4 channel needs a French name here
    for name in channels.CHANNELS:
        assert en.channel(name) == name  # English shows GA4's own names
    assert [fr.channel(c) for c in ("Organic Search", "Paid Search", "Organic Social", "Referral", "Unassigned",
                                    "Email")] == ["Recherche naturelle", "Recherche payante", "Réseaux sociaux",
                                                  "Sites référents", "Non attribué", "E-mail"]
    assert all(fr.model(m) != m for m in reports.MODELS)
    assert set(fr._labels.dimensions) == set(reports.DIMENSIONS)
    assert fr.channel("Something New") == "Something New"


@pytest.mark.parametrize(("dimension", "value", "fr", "en"), [
    ("campaign", "(not set)", "Sans campagne", "No campaign"),
    ("source", "(direct)", "(accès direct)", "(direct access)"),
    ("medium", "(none)", "(aucun support)", "(no medium)"),
    ("term", "(not set)", "(non renseigné)", "(not set)"),
    ("channel", "Organic Search", "Recherche naturelle", "Organic Search"),
    ("campaign", "portes-ouvertes", "portes-ouvertes", "portes-ouvertes"),
])
def test_values_as_people_read_them(dimension: str, value: str, fr: str, en: str) -> None:
    assert i18n.Text("fr").value(dimension, value) == fr
    assert i18n.Text("en").value(dimension, value) == en


def test_funnel_steps_and_windows_in_words() -> None:
    fr, en = i18n.Text("fr"), i18n.Text("en")
    assert [fr.step(s) for s in ("pageview:/formation*", "conversion:candidater", "event:video")] == \
        ["Page /formation*", "Formulaire candidater", "Événement video"]
    assert [fr.window(w) for w in ("7d", "1d", "12h", "30m")] == ["7 jours", "1 jour", "12 heures", "30 minutes"]
    assert en.window("7d") == "7 days" and en.step("conversion:candidater") == "Form candidater"


def test_dates_in_each_language() -> None:
    fr, en = i18n.Text("fr"), i18n.Text("en")
    assert fr.date(date(2025, 11, 12)) == "12 nov. 2025" and en.date(date(2025, 11, 12)) == "Nov 12, 2025"
    assert fr.day(date(2025, 11, 12)) == "12 nov." and en.day(date(2025, 11, 12)) == "Nov 12"
    # a lead's time is shown in the report's time zone, as the reports give it
    assert fr.datetime("2025-11-12T14:03:09+01:00") == "12 nov. 2025, 14:03"
    assert en.datetime("2025-11-12T14:03:09+01:00").endswith("2:03\u202fPM")


def test_the_catalogs_ship_with_the_package() -> None:
    """pip install . copies the catalogs: the package-data patterns of pyproject.toml cover them."""
    patterns = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]
    files = [p.relative_to(ROOT / "dashboard").as_posix() for p in LOCALE.rglob("*.po*")]
    assert len(files) == 2
    assert all(any(fnmatch(f, pattern) for pattern in patterns["webleads.dashboard"]) for f in files), files
    assert i18n.catalog_path("fr").is_file()


def test_chart_tooltips_follow_the_language() -> None:
    fr = i18n.Text("fr")
    svg = str(charts.dumbbell(["Email"], [(fr.model("linear"), [1.5])], "t", lambda v: fr.dec(v, 1), pair=fr.pair))
    assert "<title>Linéaire\u00a0: 1,5</title>" in svg
    assert i18n.Text("en").pair("Linear", "1.5") == "Linear: 1.5"
