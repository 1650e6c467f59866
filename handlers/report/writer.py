"""What every section of the year report writes with: the speaker, the figures, and numbers,
shares, durations and names in the report's language.

The sections (`handlers.report.incoming`, `report_followup`, `report_events`) each take one,
so that a count, a share or the name of a field reads the same in every section.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from babel import Locale
from babel.dates import format_timedelta
from babel.numbers import format_decimal, format_percent

from handlers.context import Voice
from handlers.i18n import LANGUAGE_NAMES, PLAIN_GERMAN, SOURCE_LANGUAGE, babel_locale
from handlers.labels import localized_name
from handlers.report.document import Table
from storage.report import YearFigures


class SectionWriter:
    """One report's speaker (`s`) and figures (`f`), and how it writes numbers and names."""

    def __init__(self, speaker: Voice, figures: YearFigures) -> None:
        self.s = speaker
        self.f = figures
        self._ = speaker._
        self.locale = babel_locale(speaker.language)
        self.field_names = {f.key: localized_name(speaker, f, f.key) for f in figures.fields}
        self.group_names = {g.key: localized_name(speaker, g, g.key) for g in figures.groups}

    def n(self, number: float) -> str:
        return format_decimal(number, locale=self.locale)

    def share(self, part: int, whole: int) -> str:
        return format_percent(part / whole if whole else 0, "#,##0 %", locale=self.locale)

    def duration(self, seconds: float) -> str:
        return format_timedelta(timedelta(seconds=seconds), threshold=1.5, locale=self.locale)

    def field(self, key: str | None) -> str:
        return self.field_names.get(key or "", key or "–")

    def breakdown(
        self, caption: str, counts: dict[str, int], label: Callable[[str], str]
    ) -> Table:
        """A table of `counts` by label, the largest first, with each one's share."""
        total = sum(counts.values())
        ordered = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
        rows = [(label(k), self.n(v), self.share(v, total)) for k, v in ordered]
        return Table(
            caption, (caption, self._("Anzahl"), self._("Anteil")), rows, (False, True, True)
        )

    def language_name(self, code: str) -> str:
        if code == PLAIN_GERMAN:  # Babel formats it as German; the report tells them apart
            return f"{self.language_name(SOURCE_LANGUAGE)} ({LANGUAGE_NAMES[PLAIN_GERMAN]})"
        try:
            return Locale.parse(babel_locale(code)).get_display_name(self.locale) or code
        except (ValueError, LookupError):
            return code
