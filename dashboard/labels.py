"""The names the reports use (GA4 channels, models, dimensions, step kinds, windows, placeholders such as
'(not set)') as people read them, in the page's language.

Each name is a literal gettext call here, so that `pybabel extract` finds it: a new channel or model
that is not listed shows in English, and a unit test names it. The reports, the CSV and the API keep
the English names (the contract); only what a page shows goes through here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from gettext import NullTranslations
from typing import Any, Protocol


class Words(Protocol):
    """What the names need from i18n.Text (which builds them: this module does not import it back)."""

    translations: NullTranslations

    def gettext(self, message: str, **values: Any) -> str: ...

    def ngettext(self, singular: str, plural: str, n: int, **values: Any) -> str: ...

    def pgettext(self, context: str, message: str, **values: Any) -> str: ...


NOT_SET, DIRECT, NONE = "(not set)", "(direct)", "(none)"


@dataclass(frozen=True)
class Dimension:
    name: str  # a column header: Channel
    plural: str  # a table's caption: Channels
    chart: str  # Credited conversions by channel
    touched: str  # Conversions this channel appears in
    heading: str  # Which channels bring conversions, under the “%(model)s” model.

    def intro(self, model: str) -> str:
        return self.heading % {"model": model}


class Labels:
    def __init__(self, t: Words) -> None:
        self.t = t
        gettext, pgettext = t.gettext, t.pgettext  # the names pybabel extract looks for
        tr = t.translations  # the headings keep their %(model)s, filled by Dimension.intro
        self.channels = {
            "Direct": pgettext("channel", "Direct"),
            "Offline": pgettext("channel", "Offline"),
            "Cross-network": pgettext("channel", "Cross-network"),
            "Paid Shopping": pgettext("channel", "Paid Shopping"),
            "Paid Search": pgettext("channel", "Paid Search"),
            "Paid Social": pgettext("channel", "Paid Social"),
            "Paid Video": pgettext("channel", "Paid Video"),
            "Display": pgettext("channel", "Display"),
            "Paid Other": pgettext("channel", "Paid Other"),
            "Organic Shopping": pgettext("channel", "Organic Shopping"),
            "Organic Social": pgettext("channel", "Organic Social"),
            "Organic Video": pgettext("channel", "Organic Video"),
            "Organic Search": pgettext("channel", "Organic Search"),
            "Referral": pgettext("channel", "Referral"),
            "Email": pgettext("channel", "Email"),
            "Affiliates": pgettext("channel", "Affiliates"),
            "Audio": pgettext("channel", "Audio"),
            "SMS": pgettext("channel", "SMS"),
            "Mobile Push Notifications": pgettext("channel", "Mobile Push Notifications"),
            "Unassigned": pgettext("channel", "Unassigned"),
        }
        self.models = {
            "first_touch": pgettext("model", "First touch"),
            "last_touch": pgettext("model", "Last touch"),
            "last_non_direct": pgettext("model", "Last non-direct touch"),
            "linear": pgettext("model", "Linear"),
            "position_based": pgettext("model", "Position-based (40/20/40)"),
            "time_decay": pgettext("model", "Time decay (7-day half-life)"),
            "markov": pgettext("model", "Markov (removal effect)"),
        }
        # Whole sentences per dimension: French agrees the words with each noun (« Quels canaux »,
        # « Quelles sources »), which a sentence with the noun filled in cannot do.
        self.dimensions = {
            "channel": Dimension(
                gettext("Channel"), gettext("Channels"), gettext("Credited conversions by channel"),
                gettext("Conversions this channel appears in"),
                tr.gettext("Which channels bring conversions, under the “%(model)s” model.")),
            "source": Dimension(
                gettext("Source"), gettext("Sources"), gettext("Credited conversions by source"),
                gettext("Conversions this source appears in"),
                tr.gettext("Which sources bring conversions, under the “%(model)s” model.")),
            "medium": Dimension(
                gettext("Medium"), gettext("Media"), gettext("Credited conversions by medium"),
                gettext("Conversions this medium appears in"),
                tr.gettext("Which media bring conversions, under the “%(model)s” model.")),
            "campaign": Dimension(
                gettext("Campaign"), gettext("Campaigns"), gettext("Credited conversions by campaign"),
                gettext("Conversions this campaign appears in"),
                tr.gettext("Which campaigns bring conversions, under the “%(model)s” model.")),
            "term": Dimension(
                gettext("Term"), gettext("Terms"), gettext("Credited conversions by term"),
                gettext("Conversions this term appears in"),
                tr.gettext("Which terms bring conversions, under the “%(model)s” model.")),
            "content": Dimension(
                gettext("Content"), gettext("Contents"), gettext("Credited conversions by content"),
                gettext("Conversions this content appears in"),
                tr.gettext("Which contents bring conversions, under the “%(model)s” model.")),
            "referrer_domain": Dimension(
                gettext("Referring site"), gettext("Referring sites"),
                gettext("Credited conversions by referring site"),
                gettext("Conversions this referring site appears in"),
                tr.gettext("Which referring sites bring conversions, under the “%(model)s” model.")),
            "landing_page": Dimension(
                gettext("Landing page"), gettext("Landing pages"), gettext("Credited conversions by landing page"),
                gettext("Conversions this landing page appears in"),
                tr.gettext("Which landing pages bring conversions, under the “%(model)s” model.")),
        }
        self.placeholders = {
            ("campaign", NOT_SET): gettext("No campaign"),
            ("source", DIRECT): gettext("(direct access)"),
            ("medium", NONE): gettext("(no medium)"),
            ("referrer_domain", NONE): gettext("(no referring site)"),
        }
        self.not_set = gettext("(not set)")
        # A conversion's status (Contact Form 7's words) and the reasons of the collector's own spam verdicts.
        self.statuses = {
            "submitted": pgettext("status", "submitted"),
            "sent": pgettext("status", "accepted"),
            "invalid": pgettext("status", "invalid fields"),
            "unaccepted": pgettext("status", "box not ticked"),
            "spam": pgettext("status", "spam"),
            "aborted": pgettext("status", "aborted"),
            "failed": pgettext("status", "mail failed"),
        }
        self.status_filters = {
            "accepted": gettext("Accepted by the site"),
            "rejected": gettext("Rejected"),
            "all": gettext("All"),
        }
        self.reasons = {
            "no pageview in the 30 minutes before": gettext("no pageview in the 30 minutes before"),
            "more than 5 conversions in 10 minutes": gettext("more than 5 conversions in 10 minutes"),
        }

    def value(self, dimension: str, value: object) -> str:
        text = "" if value is None else str(value)
        if dimension == "channel":
            return self.channels.get(text, text)
        found = self.placeholders.get((dimension, text))
        if found is not None:
            return found
        return self.not_set if text == NOT_SET else text

    def step(self, step: str) -> str:
        """A funnel step ('pageview:/formation*') as a phrase: Page /formation*, Form candidater."""
        kind, _, pattern = step.partition(":")
        if kind == "pageview":
            return self.t.gettext("Page %(pattern)s", pattern=pattern)
        if kind == "conversion":
            return self.t.gettext("Form %(name)s", name=pattern)
        if kind == "event":
            return self.t.gettext("Event %(name)s", name=pattern)
        if kind == "outcome":
            return self.t.gettext("Outcome %(name)s", name=pattern)
        return step

    def window(self, window: str) -> str:
        """A funnel window ('7d', '12h', '30m', '7') in words: 7 jours, 12 heures."""
        m = re.fullmatch(r"\s*(\d{1,6})\s*([dhm]?)\s*", window)
        if not m:
            return window
        n, unit = int(m.group(1)), m.group(2) or "d"
        if unit == "d":
            return self.t.ngettext("%(num)s day", "%(num)s days", n)
        if unit == "h":
            return self.t.ngettext("%(num)s hour", "%(num)s hours", n)
        return self.t.ngettext("%(num)s minute", "%(num)s minutes", n)
