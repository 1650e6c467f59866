"""A report as plain values: sections of paragraphs, tables, charts and entries.

`handlers.report.year` writes it in one language; the renderers in `bot/report/` turn the same
document into Markdown, HTML, PDF or CSV, so every format says the same thing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Paragraph:
    text: str


@dataclass(frozen=True, slots=True)
class Table:
    """`numeric` marks the columns that hold numbers (right-aligned)."""

    caption: str
    header: tuple[str, ...]
    rows: Sequence[tuple[str, ...]]
    numeric: tuple[bool, ...] = ()


@dataclass(frozen=True, slots=True)
class Chart:
    """A bar chart; `series` are stacked. `alt` says in words what the chart shows, for
    screen readers and for every format that cannot show a picture."""

    key: str
    title: str
    categories: list[str]
    series: list[tuple[str, list[int]]]
    alt: str
    horizontal: bool = False


@dataclass(frozen=True, slots=True)
class Entry:
    """One recommendation: a heading line, the text, and the working group's note."""

    heading: str
    text: str
    note: str = ""


Block = Paragraph | Table | Chart | Entry


@dataclass(frozen=True, slots=True)
class Section:
    title: str
    blocks: Sequence[Block] = field(default_factory=list)
    subsections: list[Section] = field(default_factory=list)


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
