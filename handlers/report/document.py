"""A report as plain values: sections of paragraphs, findings, tables, charts and quotes.

`handlers.report.year` writes it in one language; the renderers in `bot/report/` turn the same
document into Markdown, HTML, PDF, CSV or a spreadsheet, so every format says the same thing.

Words that are not the report's own (a resident's text, a working group's reason, a name or a
title as it was written) are `Quote`s with their language; numbers, shares, durations and
dates are `Value`s that keep what they are for a spreadsheet. Values inside the report's own
sentences are wrapped in Unicode isolates (`isolate`, as the translators do with placeholders),
so that a date or a reference keeps its order in a right-to-left sentence; the HTML renderer
turns them into `<bdi>` elements, and `plain` removes them where no reader sees directions
(metadata, alternative texts, spreadsheet cells).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime

LRI, RLI, FSI, PDI = "\u2066", "\u2067", "\u2068", "\u2069"
_ISOLATES = {ord(c): None for c in (LRI, RLI, FSI, PDI)}


def isolate(text: str) -> str:
    """`text` as a run of its own inside a sentence: it keeps its own direction, and a
    neighbour's direction cannot pull its digits or punctuation away (Unicode FSI … PDI)."""
    return f"{FSI}{text}{PDI}" if text else text


def plain(text: str) -> str:
    """`text` without direction isolates: for document metadata, alternative texts and
    spreadsheet cells, where they would be read out or stored as invisible characters."""
    return text.translate(_ISOLATES)


def direction(text: str) -> str | None:
    """The direction of `text`, "rtl" or "ltr", by its first letter with a strong direction,
    as HTML's dir="auto" decides (isolated runs skipped); None if it has none (digits)."""
    depth = 0
    for char in text:
        if char in (LRI, RLI, FSI):
            depth += 1
        elif char == PDI:
            depth = max(0, depth - 1)
        elif depth == 0:
            kind = unicodedata.bidirectional(char)
            if kind == "L":
                return "ltr"
            if kind in ("R", "AL"):
                return "rtl"
    return None


@dataclass(frozen=True, slots=True)
class Quote:
    """Words as someone else wrote them: a resident's text, a working group's reason or
    answer, a name or a title. `language` is the language they are written in (for a
    resident's text the item's language). Renderers isolate a quote in its own direction
    and mark its language, so that a screen reader reads it in the right voice."""

    text: str
    language: str

    def __str__(self) -> str:
        return self.text


@dataclass(frozen=True, slots=True)
class Value:
    """A number, share, duration or date in a table: `text` as the report writes it in its
    language, `value` as a spreadsheet keeps it (a share as a fraction, a duration in days,
    a date as a date; None for an empty cell), `format` the spreadsheet's number format."""

    text: str
    value: int | float | date | datetime | None
    format: str = ""

    def __str__(self) -> str:
        return self.text

    @property
    def is_number(self) -> bool:
        return isinstance(self.value, int | float) or self.value is None


Cell = str | Value | Quote


@dataclass(frozen=True, slots=True)
class Paragraph:
    text: str


@dataclass(frozen=True, slots=True)
class Findings:
    """The key findings: one sentence each, shown as a list."""

    items: Sequence[str]


@dataclass(frozen=True, slots=True)
class Table:
    """`caption` says what the table shows; the first column names the rows. Columns whose
    cells are numbers are right-aligned (`numeric`)."""

    caption: str
    header: tuple[str, ...]
    rows: Sequence[tuple[Cell, ...]]

    @property
    def numeric(self) -> tuple[bool, ...]:
        """Per column: does it hold numbers (right-aligned in every format)?"""
        columns = []
        for index in range(len(self.header)):
            cells = [row[index] for row in self.rows if index < len(row)]
            values = [c for c in cells if not (isinstance(c, str) and c in ("", "–"))]
            columns.append(
                index > 0
                and bool(values)
                and all(isinstance(c, Value) and c.is_number for c in values)
            )
        return tuple(columns)


@dataclass(frozen=True, slots=True)
class Chart:
    """A bar chart; `series` are stacked. `alt` says in words what the chart shows, for
    screen readers and for every format that cannot show a picture. A right-to-left chart
    is drawn mirrored: categories on the right, time running from right to left."""

    key: str
    title: str
    categories: list[str]
    series: list[tuple[str, list[int]]]
    alt: str
    horizontal: bool = False
    language: str = ""
    right_to_left: bool = False


@dataclass(frozen=True, slots=True)
class Entry:
    """One recommendation as the report quotes it: a heading line (reference, date, stand),
    its text, and the working group's words on it (`note`, introduced by `note_label`)."""

    heading: str
    text: Quote
    note: Quote | None = None
    note_label: str = ""


@dataclass(frozen=True, slots=True)
class Decision:
    """Recommendations a working group decided on with one reason: the reason in full, then
    the recommendations it answers, and (`more`) how many others only the appendix lists."""

    label: str
    reason: Quote | None
    entries: Sequence[Entry]
    more: str = ""


Block = Paragraph | Findings | Table | Chart | Entry | Decision


@dataclass(frozen=True, slots=True)
class Section:
    title: str
    blocks: Sequence[Block] = field(default_factory=list)
    subsections: list[Section] = field(default_factory=list)
    key: str = ""  # a stable name (a spreadsheet's sheet, an anchor); the title if empty


@dataclass(frozen=True, slots=True)
class ReportDocument:
    title: str
    subtitle: str
    language: str
    right_to_left: bool
    sections: list[Section]
    draft: bool = False
    draft_notice: str = ""

    def charts(self) -> list[Chart]:
        found: list[Chart] = []

        def walk(section: Section) -> None:
            found.extend(b for b in section.blocks if isinstance(b, Chart))
            for sub in section.subsections:
                walk(sub)

        for section in self.sections:
            walk(section)
        return found
