"""The dashboard's languages: gettext catalogs for the words, Babel for numbers and dates.

English is the source language: every msgid is the English text, written where it is used (`_()`,
`ngettext()`, `pgettext()` and `{% trans %}` in the templates, `t.gettext()`... in Python), and
dashboard/locale/fr/LC_MESSAGES/messages.po holds the French. `pybabel extract -F babel.cfg` collects
the msgids into dashboard/locale/messages.pot; the README says how to add a word.

The `.po` file is read at the first request of a language (babel.messages.pofile) and compiled in memory,
then kept for the life of the process. Why not a committed `.mo`: a binary copy of the `.po` in the
repository can silently lag behind it (one more step to forget after every change of wording), while
reading the small `.po` once costs milliseconds. Fuzzy entries are left out, as msgfmt does.

Text(lang) formats with the same placeholders as Jinja2's newstyle gettext (`%(name)s`), so that a
message reads the same in a template and in Python. Numbers and dates go through babel.numbers and
babel.dates for `fr_FR` and `en`: French writes 1 234,5 and 12,5 %, English 1,234.5 and 12.5%.
"""

from __future__ import annotations

import gettext as gettext_module
from datetime import date, datetime
from functools import cache, cached_property
from importlib import resources
from io import BytesIO
from typing import Any

from babel import Locale, support
from babel.dates import format_date, format_skeleton, format_time, get_datetime_format
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_decimal, format_percent, parse_pattern

from . import labels

LANGS = ("fr", "en")
DEFAULT = "fr"
LOCALES = {"fr": "fr_FR", "en": "en"}
DOMAIN = "messages"


def catalog_path(lang: str) -> Any:
    """The `.po` file of a language, inside the installed package (package-data in pyproject.toml)."""
    return resources.files("webleads.dashboard").joinpath("locale", lang, "LC_MESSAGES", f"{DOMAIN}.po")


@cache
def translations(lang: str) -> gettext_module.NullTranslations:
    """The gettext translations of a language: its `.po` compiled in memory, or none for English."""
    if lang not in LANGS or lang == "en":
        return support.NullTranslations()  # the msgids are the English text
    with catalog_path(lang).open("rb") as fh:
        catalog = read_po(fh, locale=LOCALES[lang], domain=DOMAIN)
    compiled = BytesIO()
    write_mo(compiled, catalog)  # without fuzzy entries: an unchecked guess shows as English
    compiled.seek(0)
    return support.Translations(compiled, domain=DOMAIN)


def pick(requested: str | None, cookie: str | None) -> str:
    """The language of a request: ?lang= first, then the cookie, then French."""
    for lang in (requested, cookie):
        if lang in LANGS:
            return lang  # type: ignore[return-value]
    return DEFAULT


class Text:
    """Words, numbers and dates in one language; handed to templates as `t` (the templates' own words
    go through Jinja2's i18n extension, installed with the same translations)."""

    def __init__(self, lang: str) -> None:
        self.lang = lang if lang in LANGS else DEFAULT
        self.locale = Locale.parse(LOCALES[self.lang])
        self.translations = translations(self.lang)

    # --- words ---------------------------------------------------------------------------------
    def gettext(self, message: str, **values: Any) -> str:
        return self.translations.gettext(message) % values

    def ngettext(self, singular: str, plural: str, n: int, **values: Any) -> str:
        """A message whose form follows a count; %(num)s is the count written in this language."""
        values.setdefault("num", self.int(n))
        return self.translations.ngettext(singular, plural, n) % values

    def pgettext(self, context: str, message: str, **values: Any) -> str:
        return self.translations.pgettext(context, message) % values

    def pair(self, name: str, value: str) -> str:
        """"name: value", with French's space before the colon."""
        return self.gettext("%(field)s: %(value)s", field=name, value=value)

    @cached_property
    def _labels(self) -> labels.Labels:
        return labels.Labels(self)

    def channel(self, name: object) -> str:
        """A GA4 channel's name in this language (the CSV and the API keep GA4's English name)."""
        return self._labels.channels.get(str(name), str(name))

    def value(self, dimension: str, value: object) -> str:
        """A value of a report dimension as people read it: a channel's name in this language, and the
        placeholders of the analytics ('(not set)', '(direct)', '(none)') in words."""
        return self._labels.value(dimension, value)

    def path(self, path: object) -> str:
        """A path of channels ('Email > Organic Search') with each channel in this language."""
        return " › ".join(self.channel(p) for p in str(path or "").split(" > ") if p)

    def model(self, name: str) -> str:
        return self._labels.models.get(name, name)

    def status(self, name: object) -> str:
        """A conversion's status (submitted, sent, invalid...) in this language."""
        return self._labels.statuses.get(str(name), str(name))

    def status_filter(self, name: str) -> str:
        return self._labels.status_filters.get(name, name)

    def reason(self, text: object) -> str:
        return self._labels.reasons.get(str(text), str(text))

    def dim(self, name: str) -> labels.Dimension:
        return self._labels.dimensions[name]

    def step(self, step: str) -> str:
        return self._labels.step(step)

    def window(self, window: str) -> str:
        return self._labels.window(window)

    # --- numbers and dates ------------------------------------------------------------------------
    def int(self, value: float | int | None) -> str:
        return format_decimal(round(value or 0), locale=self.locale)

    def dec(self, value: float | None, digits: int = 1) -> str:
        """A decimal with at most `digits` places: 3, 2.5, 0.33 (trailing zeros dropped)."""
        v = round(float(value or 0), digits) + 0.0  # + 0.0 turns -0.0 into 0.0
        return format_decimal(v, format="#,##0." + "#" * digits if digits else "#,##0", locale=self.locale)

    def pct(self, part: float | None, whole: float | None, digits: int = 1) -> str:
        """part / whole as a percentage in this language's pattern (with its space before % in French)."""
        if not whole:
            return "–"
        pattern = parse_pattern(self.locale.percent_formats[None].pattern)
        pattern.frac_prec = (0, digits)
        share = round(float(part or 0) / float(whole), digits + 2) + 0.0
        if part and share == 0:  # one visit in thousands is not "0 %": say it is below the smallest step
            return "<\u00a0" + format_percent(10.0 ** -(digits + 2), format=pattern, locale=self.locale)
        return format_percent(share, format=pattern, locale=self.locale, decimal_quantization=True)

    def day(self, value: object) -> str:
        """A short day for chart axes: 12 nov. / Nov 12."""
        if not isinstance(value, date):
            return str(value)
        return format_skeleton("MMMd", value, locale=self.locale)

    def date(self, value: object) -> str:
        """A full day: 12 nov. 2025 / Nov 12, 2025."""
        if not isinstance(value, date):
            return str(value)
        return format_date(value, "medium", locale=self.locale)

    def datetime(self, value: object) -> str:
        """An ISO time with its offset (as the reports give it, in the report's time zone), shown in that
        same time zone: 12 nov. 2025, 14:03 / Nov 12, 2025, 2:03 PM."""
        try:
            moment = datetime.fromisoformat(str(value))
        except ValueError:
            return str(value)
        # The locale's way of joining a medium date and a short time ("{1}, {0}" in English), as
        # babel.dates.format_datetime does; without seconds, which nobody reads in a list of leads.
        joined = get_datetime_format("medium", locale=self.locale).replace("'", "")
        return (joined.replace("{1}", format_date(moment, "medium", locale=self.locale))
                .replace("{0}", format_time(moment, "short", tzinfo=moment.tzinfo, locale=self.locale)))
