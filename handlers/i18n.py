"""Every resident-facing text goes through these gettext catalogues (German is the source).

Handlers write `tr = self.i18n.get(lang)` and then `tr.gettext("...")`; texts defined at
module level are marked with `N_` so that `make i18n` extracts them and translated when used.
A text with a number before a noun is counted: `turn.ngettext(singular, plural, n)` (also on
`Voice`) picks the form each language needs for `n` (Russian and Ukrainian have three, Arabic
six); give each number its own counted sentence rather than two numbers in one text. A form
for one number only (Arabic's "one" and "two") leaves the count out when its word says it:
"يومين", not "2 يومين" (tests/unit/test_catalogues.py allows exactly that).

Dates and periods are written here as each language writes them: `format_day`,
`format_moment` (British English, plain German with the month spelled out) and `whole_years`.
"""

from __future__ import annotations

import gettext
import logging
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from babel import Locale
from babel.dates import format_skeleton, format_time

logger = logging.getLogger(__name__)

DOMAIN = "mitreden"
LOCALES_DIR = Path(__file__).parent / "locales"
SOURCE_LANGUAGE = "de"
# Plain German ("Leichte Sprache" style): a catalogue of its own, formatted like German.
PLAIN_GERMAN = "de_simple"

# The name of each language in that language, for the language menu.
LANGUAGE_NAMES: dict[str, str] = {
    "de": "Deutsch",
    PLAIN_GERMAN: "Einfache Sprache",
    "en": "English",
    "tr": "Türkçe",
    "ar": "العربية",
    "uk": "Українська",
    "ru": "Русский",
}

# The locale Babel formats with, where it is not the catalogue's code: plain German is a
# variant of German, not a locale Babel knows; the English catalogue is British ("anonymised"),
# so its dates are too ("5 Dec 2026, 07:07", not "Dec 5, 2026, 7:07 AM").
_BABEL_LOCALES: dict[str, str] = {PLAIN_GERMAN: SOURCE_LANGUAGE, "en": "en_GB"}
# How a day is written (a CLDR skeleton): the month abbreviated ("5. Dez. 2026"), except in
# plain German, which spells it out ("5. Dezember 2026") for readers who stumble over "Dez.".
_DAY_SKELETON = "yMMMd"
_DAY_SKELETONS: dict[str, str] = {PLAIN_GERMAN: "yMMMMd"}
# A period of whole years is named in years ("2 Jahre", not "730 Tage"): the unit people count
# such periods in. 365 days make a year here; the periods are settings counted in days.
DAYS_PER_YEAR = 365


def babel_locale(language: str) -> str:
    """The locale Babel formats dates, times, numbers and durations with for a shipped
    language."""
    return _BABEL_LOCALES.get(language, language)


def format_day(moment: datetime, zone: ZoneInfo, language: str) -> str:
    """A day as a reader of `language` writes it, in the city's zone: "5. Dez. 2026",
    "5 Dec 2026", "5 груд. 2026 р.", plain German "5. Dezember 2026"."""
    skeleton = _DAY_SKELETONS.get(language, _DAY_SKELETON)
    return format_skeleton(skeleton, moment, tzinfo=zone, locale=babel_locale(language))


def format_moment(moment: datetime, zone: ZoneInfo, language: str) -> str:
    """A day and a time, joined as CLDR joins them in the language ("5 Dec 2026, 07:07",
    Arabic with its own comma "،"); German keeps the form its residents have read from the
    start, and every German text and test quotes ("5. Dez. 2026 07:07")."""
    locale = babel_locale(language)
    day = format_day(moment, zone, language)
    time = format_time(moment, "short", tzinfo=zone, locale=locale)
    if locale == SOURCE_LANGUAGE:
        return f"{day} {time}"
    pattern = Locale.parse(locale).datetime_formats["medium"]
    return str(pattern).replace("{1}", day).replace("{0}", time)


def whole_years(days: int) -> int | None:
    """The years `days` make when they are whole years (730 → 2), else None (400 → None)."""
    years, rest = divmod(days, DAYS_PER_YEAR)
    return years if years and not rest else None


def N_(message: str) -> str:
    """Mark a text for extraction without translating it yet."""
    return message


@dataclass(frozen=True)
class Translator:
    language: str
    catalogue: gettext.NullTranslations

    def gettext(self, message: str) -> str:
        return self.catalogue.gettext(message)

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        return self.catalogue.ngettext(singular, plural, n)


class Catalogues:
    """The shipped catalogues, loaded once; unknown languages fall back to the default."""

    def __init__(self, languages: tuple[str, ...], default: str = SOURCE_LANGUAGE) -> None:
        self.languages = languages
        self.default = default if default in languages else languages[0]
        self._translators = {lang: Translator(lang, _load(lang)) for lang in languages}

    def get(self, language: str | None) -> Translator:
        return self._translators.get(language or "", self._translators[self.default])

    def match(self, language_code: str | None) -> str | None:
        """The shipped language for a platform's code like "en-GB"; None if none fits.

        A shipped code itself ("de_simple") matches exactly; otherwise the primary language
        counts, so "de-AT" gives "de" (plain German is only ever chosen, never guessed).
        """
        if not language_code:
            return None
        code = language_code.strip().replace("-", "_").lower()
        if code in self.languages:
            return code
        primary = code.split("_", 1)[0]
        return primary if primary in self.languages else None


def _load(language: str) -> gettext.NullTranslations:
    if language == SOURCE_LANGUAGE:
        return gettext.NullTranslations()
    try:
        return gettext.translation(DOMAIN, LOCALES_DIR, languages=[language])
    except FileNotFoundError:
        logger.error(
            "no compiled catalogue for %s in %s; run `make catalogs`", language, LOCALES_DIR
        )
        raise
