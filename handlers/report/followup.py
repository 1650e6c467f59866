"""The year report's sections on what followed: how fast the items were answered, which wait
past their due date, and what became of every recommendation.

Each section is written by a function of a `SectionWriter` (handlers.report.year composes them).
"""

from __future__ import annotations

import statistics
from collections import Counter
from datetime import datetime

from handlers.labels import kind_label, state_label
from handlers.public_text import public_text
from handlers.report.document import Chart, Entry, Paragraph, Section, Table
from handlers.report.writer import SectionWriter
from storage.models import ItemState

RECOMMENDATION_CHARS = 600  # the printed text of one recommendation; the CSV has it whole


def answer_times(w: SectionWriter) -> Section:
    _ = w._
    answered = w.f.answered
    if not answered:
        return Section(
            _("Zeit bis zur ersten Antwort"),
            [Paragraph(_("Noch keine Rückmeldung wurde beantwortet."))],
        )
    waits = [(a - c).total_seconds() for _g, c, a, _d in answered]
    on_time = sum(1 for _g, _c, a, due in answered if due is None or a <= due)
    text = _(
        "Bis zur ersten Antwort vergingen im Median {median}. {on_time} von {answered} "
        "Antworten kamen innerhalb der Frist der Arbeitsgruppe ({share})."
    ).format(
        median=w.duration(statistics.median(waits)),
        on_time=w.n(on_time),
        answered=w.n(len(answered)),
        share=w.share(on_time, len(answered)),
    )
    overdue = Counter(item.group_key for item in w.f.overdue)
    per_group: dict[str, list[float]] = {}
    for group, created, first, _due in answered:
        per_group.setdefault(group, []).append((first - created).total_seconds())
    rows = [
        (
            w.group_names.get(g, g),
            w.n(w.f.by_group.get(g, 0)),
            w.n(len(per_group.get(g, []))),
            w.duration(statistics.median(per_group[g])) if per_group.get(g) else "–",
            w.n(overdue.get(g, 0)),
        )
        for g in sorted(set(w.f.by_group) | set(per_group), key=lambda g: w.group_names.get(g, g))
    ]
    header = (
        _("Arbeitsgruppe"),
        _("Eingegangen"),
        _("Beantwortet"),
        _("Median"),
        _("Überfällig"),
    )
    table = Table(
        _("Erste Antworten je Arbeitsgruppe"), header, rows, (False, True, True, True, True)
    )
    return Section(_("Zeit bis zur ersten Antwort"), [Paragraph(text), table])


def overdue(w: SectionWriter) -> Section:
    _ = w._
    title = _("Überfällige Rückmeldungen")
    if not w.f.overdue:
        return Section(title, [Paragraph(_("Keine Rückmeldung wartet über ihre Frist."))])
    as_of = w.f.as_of
    rows = [
        (
            item.reference,
            kind_label(w.s, item.kind),
            w.field(item.field_key),
            w.group_names.get(item.group_key, item.group_key),
            w.s.day(item.answer_due_at),
            w.n((as_of - item.answer_due_at).days),
        )
        for item in w.f.overdue
    ]
    header = (
        _("Kennung"),
        _("Art"),
        _("Handlungsfeld"),
        _("Arbeitsgruppe"),
        _("Frist"),
        _("Tage darüber"),
    )
    intro = _("Ohne erste Antwort und über die Frist der Arbeitsgruppe, Stand {as_of}.")
    table = Table(title, header, rows, (False, False, False, False, False, True))
    return Section(title, [Paragraph(intro.format(as_of=w.s.day(as_of))), table])


def recommendations(w: SectionWriter) -> Section:
    _ = w._
    title = _("Empfehlungen und was aus ihnen wurde")
    items = w.f.recommendations
    if not items:
        return Section(title, [Paragraph(_("Im Berichtsjahr gingen keine Vorschläge ein."))])
    by_field: dict[str, list[int]] = {}
    for index, item in enumerate(items):
        by_field.setdefault(item.field_key, []).append(index)
    order = [f.key for f in w.f.fields if f.key in by_field]
    order += sorted(k for k in by_field if k not in order)
    outcomes = [ItemState.IMPLEMENTED, ItemState.DECLINED, ItemState.ANSWERED]
    summary_rows = []
    subsections = []
    days: dict[object, str] = {}

    def day(moment: datetime) -> str:
        key = moment.date()
        if key not in days:
            days[key] = w.s.day(moment)
        return days[key]

    for key in order:
        mine = [items[i] for i in by_field[key]]
        states = Counter(r.state for r in mine)
        decided = sum(states[s] for s in outcomes)
        summary_rows.append(
            (
                w.field(key),
                w.n(len(mine)),
                *(w.n(states[s]) for s in outcomes),
                w.n(len(mine) - decided),
            )
        )
        entries: list[Entry | Paragraph | Table | Chart] = []
        for r in mine:
            heading = f"{r.reference} · {day(r.created_at)} · {state_label(w.s, r.state)}"
            if r.decided_at is not None:
                heading += " " + _("(am {day})").format(day=day(r.decided_at))
            note = public_text(r.note) if r.note else ""
            text = public_text(r.text, limit=RECOMMENDATION_CHARS)
            entries.append(Entry(heading, text, note))
        subsections.append(Section(w.field(key), entries))
    header = (
        _("Handlungsfeld"),
        _("Vorschläge"),
        *(state_label(w.s, s) for s in outcomes),
        _("offen"),
    )
    summary = Table(title, header, summary_rows, (False, True, True, True, True, True))
    intro = _(
        "Jeder Vorschlag des Jahres mit seinem Stand und der Begründung der Arbeitsgruppe, "
        "nach Handlungsfeld."
    )
    return Section(title, [Paragraph(intro), summary], subsections)
