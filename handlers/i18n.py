"""Every resident-facing text goes through these gettext catalogues (German is the source).

Handlers write `tr = self.i18n.get(lang)` and then `tr.gettext("...")`; texts defined at
module level are marked with `N_` so that `make i18n` extracts them and translated when used.
A text with a number before a noun is counted: `turn.ngettext(singular, plural, n)` (also on
`Voice`) picks the form each language needs for `n` (Russian and Ukrainian have three, Arabic
six); give each number its own counted sentence rather than two numbers in one text.
"""

from __future__ import annotations

import gettext
import logging
from dataclasses import dataclass
from pathlib import Path

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

# Catalogues that are a variant of another language, not a locale Babel knows.
_BABEL_LOCALES: dict[str, str] = {PLAIN_GERMAN: SOURCE_LANGUAGE}


def babel_locale(language: str) -> str:
    """The locale Babel formats dates, times and durations with for a shipped language."""
    return _BABEL_LOCALES.get(language, language)


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
