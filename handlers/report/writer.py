"""What every section of the year report writes with: the speaker, the figures of the year
and of the same span of the year before, and numbers, shares, durations, names and quotes in
the report's language.

The sections (`handlers.report.findings`, `incoming`, `followup`, `events`) each take one, so
that a count, a share, a change against the year before or the name of a field reads the same
in every section.
"""

from __future__ import annotations

import statistics
import unicodedata
from collections.abc import Callable
from datetime import date, datetime, timedelta

from babel import Locale
from babel.dates import format_timedelta
from babel.lists import format_list
from babel.numbers import format_decimal, format_percent

from handlers.context import Voice
from handlers.i18n import LANGUAGE_NAMES, PLAIN_GERMAN, SOURCE_LANGUAGE, babel_locale
from handlers.labels import localized_name
from handlers.public_text import anonymous_text, public_text
from handlers.report.document import PDI, RLI, Cell, Quote, Table, Value, isolate
from storage.report import YearFigures

# The script each shipped language is written in (Latin unless named), to tell when a text
# is not in its item's language: an Arabic-speaking resident who writes in German.
_SCRIPTS = {"ar": "ARABIC", "ru": "CYRILLIC", "uk": "CYRILLIC"}
_BY_PREFERENCE = [code for code in LANGUAGE_NAMES if code != PLAIN_GERMAN]
RIGHT_TO_LEFT = frozenset({"ar", "fa", "he"})


def script_of(text: str) -> str | None:
    """The script of the first letter of `text` ("LATIN", "ARABIC", "CYRILLIC", ...)."""
    for char in text:
        if char.isalpha():
            return unicodedata.name(char, "").split(" ", 1)[0] or None
    return None


def quote_language(text: str, language: str) -> str:
    """The language a quoted `text` is written in: its item's `language`, unless the text is
    in another script than that language's, then the first shipped language (German first)
    written in the text's script."""
    script = script_of(text)
    if script is None or _SCRIPTS.get(babel_locale(language), "LATIN") == script:
        return language
    for code in _BY_PREFERENCE:
        if _SCRIPTS.get(code, "LATIN") == script:
            return code
    return language


def mask_names(text: str, names: tuple[str, ...]) -> str:
    """`text` with its author's names masked, as `handlers.public_text.anonymous_text` does;
    the regular expression is built only when a name occurs at all (seconds at 35,000
    recommendations otherwise)."""
    lowered = text.lower()
    words = {w.lower() for n in names for w in (n, *n.split()) if len(w) >= 2}
    if not any(w in lowered for w in words):
        return text
    return anonymous_text(text, names)


class SectionWriter:
    """One report's speaker (`s`), figures (`f`), the figures of the same span of the year
    before (`p`, if there are any), and how it writes numbers and names."""

    def __init__(
        self, speaker: Voice, figures: YearFigures, previous: YearFigures | None = None
    ) -> None:
        self.s = speaker
        self.f = figures
        self.p = previous
        self._ = speaker._
        self.locale = babel_locale(speaker.language)
        self.fields_by_key = {f.key: f for f in figures.fields}
        self.field_names = {f.key: localized_name(speaker, f, f.key) for f in figures.fields}
        self.group_names = {g.key: localized_name(speaker, g, g.key) for g in figures.groups}
        self.year = figures.start.astimezone(speaker.zone).year
        self.right_to_left = speaker.language in RIGHT_TO_LEFT
        # Working groups and the office write in the city's language (German names in the
        # configuration); `quote` corrects it where a text is in another script.
        self.city_language = SOURCE_LANGUAGE

    # -- numbers as text (the report's sentences) ------------------------------------------

    def n(self, number: float) -> str:
        return format_decimal(number, locale=self.locale)

    def share(self, part: int, whole: int) -> str:
        return format_percent(part / whole if whole else 0, "#,##0 %", locale=self.locale)

    def duration(self, seconds: float) -> str:
        return format_timedelta(timedelta(seconds=seconds), threshold=1.5, locale=self.locale)

    def change_text(self, now: float, before: float) -> str:
        """The change from `before` to `now` as a signed percentage ("+12 %", "−5 %")."""
        if not before:
            return "–"
        return format_percent(
            (now - before) / before, "+#,##0 %;−#,##0 %", locale=self.locale
        ).replace("+0 %", "±0 %")

    # -- table cells that keep their value (spreadsheets) ----------------------------------

    def num(self, number: float) -> Value:
        return Value(self.n(number), number, "#,##0")

    def pct(self, part: int, whole: int) -> Value:
        return Value(self.share(part, whole), part / whole if whole else 0.0, "0%")

    def days(self, seconds: float | None) -> Value | str:
        """A duration, kept in days for a spreadsheet."""
        if seconds is None:
            return "–"
        return Value(self.duration(seconds), round(seconds / 86400, 2), "0.0")

    def day_value(self, moment: datetime | None) -> Value | str:
        """A date in the report's language, kept as the city's calendar date."""
        if moment is None:
            return "–"
        local = moment.astimezone(self.s.zone)
        return Value(self.s.day(moment), date(local.year, local.month, local.day), "yyyy-mm-dd")

    def change(self, now: float, before: float) -> Value | str:
        if not before:
            return "–"
        return Value(self.change_text(now, before), (now - before) / before, "+0%;-0%;0%")

    @property
    def years(self) -> tuple[str, str]:
        """The column headers of a year-over-year comparison: this year, the year before."""
        return str(self.year), str(self.year - 1)

    # -- names and quotes ------------------------------------------------------------------

    def field(self, key: str | None) -> str:
        return self.field_names.get(key or "", key or "–")

    def group(self, key: str) -> str:
        return self.group_names.get(key, key)

    def name_cell(self, name: str, configured_here: bool) -> Cell:
        """A configured name as a table cell: a Quote in the city's language when it was
        not configured in the report's language (it keeps its direction and its voice)."""
        if configured_here or babel_locale(self.s.language) == SOURCE_LANGUAGE:
            return name
        return Quote(name, SOURCE_LANGUAGE)

    def field_cell(self, key: str | None) -> Cell:
        found = self.fields_by_key.get(key or "")
        here = found is not None and self.s.language in found.names
        return self.name_cell(self.field(key), here)

    def group_cell(self, key: str) -> Cell:
        found = next((g for g in self.f.groups if g.key == key), None)
        here = found is not None and self.s.language in found.names
        return self.name_cell(self.group(key), here)

    def written(self, text: str) -> Cell:
        """A title or place as the office wrote it (in the city's language)."""
        return self.name_cell(text, False)

    def quote(
        self, text: str, language: str, names: tuple[str, ...] = (), limit: int | None = None
    ) -> Quote:
        """A resident's or a working group's words as published: contact details and the
        author's names masked, in the language they are written in."""
        published = public_text(mask_names(text, names), limit=limit)
        return Quote(published, quote_language(published, language))

    def join(self, items: list[str]) -> str:
        """A list in the report's language ("A, B und C"); in a right-to-left report a run
        of its own in that direction, so that its first item stands on the right even when
        the items are in Latin letters."""
        text = format_list(items, locale=self.locale) if items else ""
        return f"{RLI}{text}{PDI}" if self.right_to_left and text else text

    def inline(self, value: str) -> str:
        """A value inside one of the report's sentences, isolated in its own direction: in
        a right-to-left report always (a date, a reference, a German title), in a
        left-to-right one when it holds right-to-left letters."""
        if self.right_to_left or any(unicodedata.bidirectional(c) in ("R", "AL") for c in value):
            return isolate(value)
        return value

    def breakdown(
        self,
        caption: str,
        label_header: str,
        counts: dict[str, int],
        label: Callable[[str], Cell],
        previous: dict[str, int] | None = None,
    ) -> Table:
        """A table of `counts` by label, the largest first, with each one's share, and, when
        there are figures of the year before, theirs and the change."""
        total = sum(counts.values())
        keys = sorted(counts, key=lambda k: (-counts[k], k))
        this, before = self.years
        header: tuple[str, ...] = (label_header, this, self._("Anteil"))
        if previous is not None:
            keys += sorted(k for k in previous if k not in counts)
            header += (before, self._("Veränderung"))
        rows: list[tuple[Cell, ...]] = []
        for key in keys:
            row: tuple[Cell, ...] = (
                label(key),
                self.num(counts.get(key, 0)),
                self.pct(counts.get(key, 0), total),
            )
            if previous is not None:
                row += (
                    self.num(previous.get(key, 0)),
                    self.change(counts.get(key, 0), previous.get(key, 0)),
                )
            rows.append(row)
        return Table(caption, header, rows)

    def language_name(self, code: str) -> str:
        if code == PLAIN_GERMAN:  # Babel formats it as German; the report tells them apart
            return f"{self.language_name(SOURCE_LANGUAGE)} ({LANGUAGE_NAMES[PLAIN_GERMAN]})"
        try:
            # the language, not the locale Babel formats it with ("Englisch", not "Englisch
            # (Vereinigtes Königreich)" for en_GB)
            return Locale.parse(babel_locale(code)).get_language_name(self.locale) or code
        except (ValueError, LookupError):
            return code


def median_wait(answered: list[tuple[str, datetime, datetime, datetime | None]]) -> float | None:
    """The median time to the first answer, in seconds; None when nothing was answered."""
    waits = [(a - c).total_seconds() for _g, c, a, _d in answered]
    return statistics.median(waits) if waits else None


def in_time(answered: list[tuple[str, datetime, datetime, datetime | None]]) -> int:
    """How many of the answers came within the working group's deadline."""
    return sum(1 for _g, _c, a, due in answered if due is None or a <= due)
