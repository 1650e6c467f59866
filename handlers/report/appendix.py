"""The report's appendix: every recommendation of the year with its stand, the working
group's answer and its reason, in full. The report itself quotes a bounded selection so that
it stays readable at any volume; it names the appendix files (HTML to read, CSV to analyse),
which `bot.report` writes from the same rows.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from handlers.context import Voice
from handlers.labels import kind_label, state_label
from handlers.report.document import Cell, Paragraph, Quote, ReportDocument, Section, Table
from handlers.report.incoming import channel_name
from handlers.report.writer import SectionWriter
from storage.report import EXPECTS_ANSWER, ItemRow, YearFigures


@dataclass(frozen=True, slots=True)
class AppendixRow:
    """One recommendation as published: texts masked, in the language they are written in."""

    reference: str
    created_at: datetime
    field_key: str
    state: str
    decided_at: datetime | None
    language: str
    text: Quote
    answer: Quote | None
    answered_at: datetime | None
    note: Quote | None


def appendix_rows(w: SectionWriter) -> list[AppendixRow]:
    """Every recommendation of the year, in the order they came in. A reason shared by many
    decisions is masked once."""
    notes: dict[str, Quote] = {}

    def note(text: str | None) -> Quote | None:
        if not text:
            return None
        if text not in notes:
            notes[text] = w.quote(text, w.city_language)
        return notes[text]

    return [
        AppendixRow(
            r.reference,
            r.created_at,
            r.field_key,
            r.state,
            r.decided_at,
            r.language,
            w.quote(r.text, r.language, r.author_names),
            w.quote(r.answer, w.city_language, r.author_names) if r.answer else None,
            r.answered_at,
            note(r.note) if r.decided_at is not None else None,
        )
        for r in w.f.recommendations
    ]


def appendix_document(
    speaker: Voice, year: int, figures: YearFigures, rows: list[AppendixRow], report: str
) -> ReportDocument:
    """The complete list as a document of its own, one table per field of action;
    `report` is the file name of the report it belongs to."""
    w = SectionWriter(speaker, figures)
    _ = speaker._
    by_field: dict[str, list[AppendixRow]] = {}
    for row in rows:
        by_field.setdefault(row.field_key, []).append(row)
    order = [f.key for f in figures.fields if f.key in by_field]
    order += sorted(k for k in by_field if k not in order)
    header = (
        _("Kennung"),
        _("Eingang"),
        _("Stand"),
        _("Entschieden am"),
        _("Vorschlag"),
        _("Antwort der Arbeitsgruppe"),
        _("Begründung der Arbeitsgruppe"),
    )
    days: dict[object, Cell] = {}
    states: dict[str, str] = {}

    def day(moment: datetime | None) -> Cell:
        if moment is None:
            return "–"
        key = moment.astimezone(speaker.zone).date()
        if key not in days:
            days[key] = w.day_value(moment)
        return days[key]

    def state(code: str) -> str:
        if code not in states:
            states[code] = state_label(speaker, code)
        return states[code]

    sections = []
    for key in order:
        mine = by_field[key]
        table_rows = [
            (
                w.inline(r.reference),
                day(r.created_at),
                state(r.state),
                day(r.decided_at),
                r.text,
                r.answer or "",
                r.note or "",
            )
            for r in mine
        ]
        caption = _("Alle Vorschläge {year} im Handlungsfeld {field}").format(
            year=year, field=w.inline(w.field(key))
        )
        sections.append(Section(w.field(key), [Table(caption, header, table_rows)], key=key))
    if not sections:
        sections.append(
            Section(
                _("Vorschläge"), [Paragraph(_("Im Berichtsjahr gingen keine Vorschläge ein."))]
            )
        )
    return ReportDocument(
        title=_("Vorschläge {year}: die vollständige Liste").format(year=year),
        subtitle=_(
            "Anhang zu {report}: jeder Vorschlag des Jahres mit Stand, Antwort und Begründung "
            "der Arbeitsgruppe, ungekürzt. Stand: {as_of}."
        ).format(report=w.inline(report), as_of=w.inline(speaker.when(figures.as_of))),
        language=speaker.language,
        right_to_left=w.right_to_left,
        sections=sections,
    )


@dataclass(frozen=True, slots=True)
class Listing:
    """A long list for a spreadsheet, beside a section's tables: column headers in the
    report's language and rows of typed values (text, numbers, the city's local dates and
    times without a zone, True/False, None for an empty cell)."""

    title: str
    header: tuple[str, ...]
    rows: Iterable[tuple[Any, ...]]


def _local(w: SectionWriter, moment: datetime | None) -> datetime | None:
    return moment.astimezone(w.s.zone).replace(tzinfo=None) if moment is not None else None


def recommendation_listing(w: SectionWriter, rows: list[AppendixRow]) -> Listing:
    """Every recommendation with its stand, answer and reason, in full."""
    _ = w._
    states = {code: state_label(w.s, code) for code in {r.state for r in rows}}
    languages = {code: w.language_name(code) for code in {r.language for r in rows}}
    header = (
        _("Kennung"),
        _("Eingang"),
        _("Handlungsfeld"),
        _("Stand"),
        _("Entschieden am"),
        _("Sprache"),
        _("Vorschlag"),
        _("Antwort der Arbeitsgruppe"),
        _("Begründung der Arbeitsgruppe"),
    )
    listed = (
        (
            r.reference,
            _local(w, r.created_at),
            w.field(r.field_key),
            states[r.state],
            _local(w, r.decided_at),
            languages[r.language],
            r.text.text,
            r.answer.text if r.answer else None,
            r.note.text if r.note else None,
        )
        for r in rows
    )
    return Listing(_("Alle Vorschläge {year}").format(year=w.year), header, listed)


def item_listing(w: SectionWriter, rows: list[ItemRow]) -> Listing:
    """Every item of the year, as the CSV has them, with labels instead of codes."""
    _ = w._
    header = (
        _("Kennung"),
        _("Eingang"),
        _("Art"),
        _("Handlungsfeld"),
        _("Arbeitsgruppe"),
        _("Kanal"),
        _("Sprache"),
        _("Stand"),
        _("Frist"),
        _("Erste Antwort"),
        _("Stunden bis zur ersten Antwort"),
        _("In der Frist beantwortet"),
    )
    labels: dict[tuple[str, str], str] = {}

    def label(kind: str, code: str) -> str:
        if (kind, code) not in labels:
            labels[(kind, code)] = {
                "kind": lambda: kind_label(w.s, code),
                "field": lambda: w.field(code),
                "group": lambda: w.group(code),
                "channel": lambda: channel_name(w, code),
                "language": lambda: w.language_name(code),
                "state": lambda: state_label(w.s, code),
            }[kind]()
        return labels[(kind, code)]

    def listed() -> Iterator[tuple[Any, ...]]:
        for row in rows:
            first, due = row.first_answered_at, row.answer_due_at
            expects = row.kind in EXPECTS_ANSWER
            yield (
                row.reference,
                _local(w, row.created_at),
                label("kind", row.kind),
                label("field", row.field_key),
                label("group", row.group_key),
                label("channel", row.platform),
                label("language", row.language),
                label("state", row.state),
                _local(w, due) if expects else None,
                _local(w, first),
                round((first - row.created_at).total_seconds() / 3600, 1) if first else None,
                (first <= due) if expects and first is not None and due is not None else None,
            )

    return Listing(_("Alle Rückmeldungen {year}").format(year=w.year), header, listed())
