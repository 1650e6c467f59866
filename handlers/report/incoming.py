"""The year report's sections on what came in: the overview, by field of action, by month.

Each section is written by a function of a `SectionWriter` (handlers.report.year composes them).
"""

from __future__ import annotations

from collections import Counter

from babel.dates import get_month_names

from handlers.labels import kind_label, state_label
from handlers.report.document import Block, Chart, Paragraph, Section, Table
from handlers.report.writer import SectionWriter
from storage.models import ItemKind, ItemState


def overview(w: SectionWriter) -> Section:
    _ = w._
    f = w.f
    answered = len(f.answered)
    recommendations = len(f.recommendations)
    paragraph = _(
        "Rückmeldungen im Berichtsjahr: {total}, davon Vorschläge: {recommendations}. "
        "Mit erster Antwort: {answered} ({share}). Ohne erste Antwort über die Frist: "
        "{overdue}."
    ).format(
        total=w.n(f.total),
        recommendations=w.n(recommendations),
        answered=w.n(answered),
        share=w.share(answered, f.total),
        overdue=w.n(len(f.overdue)),
    )
    privacy = _(
        "Rückmeldungen erscheinen hier ohne Namen. Vorschläge werden mit ihrem Wortlaut "
        "wiedergegeben; E-Mail-Adressen, Telefonnummern und Kontonamen sind unkenntlich "
        "gemacht."
    )
    channel_names = {"telegram": "Telegram", "matrix": "Matrix", "console": _("Konsole")}
    blocks: list[Block] = [
        Paragraph(paragraph),
        Paragraph(privacy),
        w.breakdown(_("Art"), f.by_kind, lambda k: kind_label(w.s, k)),
        w.breakdown(_("Stand"), f.by_state(), lambda k: state_label(w.s, k)),
        w.breakdown(_("Kanal"), f.by_platform, lambda k: channel_names.get(k, k)),
        w.breakdown(_("Sprache"), f.by_language, w.language_name),
    ]
    return Section(_("Überblick"), blocks)


def fields(w: SectionWriter) -> Section:
    _ = w._
    by_field = w.f.by_field()
    keys = [f.key for f in w.f.fields if by_field.get(f.key)]
    keys += sorted(k for k in by_field if k not in keys)
    counts = [by_field[k] for k in keys]
    names = [w.field(k) for k in keys]
    alt = _("Balkendiagramm der Rückmeldungen je Handlungsfeld: {values}.").format(
        values=", ".join(f"{name} {w.n(c)}" for name, c in zip(names, counts, strict=True))
    )
    states = [s.value for s in ItemState]
    rows = [
        (name, *(w.n(w.f.by_field_state.get((k, s), 0)) for s in states), w.n(c))
        for k, name, c in zip(keys, names, counts, strict=True)
    ]
    header = (_("Handlungsfeld"), *(state_label(w.s, s) for s in states), _("Summe"))
    table = Table(
        _("Rückmeldungen nach Handlungsfeld und Stand"),
        header,
        rows,
        (False, *([True] * (len(states) + 1))),
    )
    chart = Chart(
        "by-field",
        _("Rückmeldungen je Handlungsfeld"),
        names,
        [(_("Rückmeldungen"), counts)],
        alt,
        horizontal=True,
    )
    return Section(_("Nach Handlungsfeld"), [chart, table])


def months(w: SectionWriter, year: int) -> Section:
    _ = w._
    zone = w.s.zone
    counts: Counter[tuple[int, str]] = Counter(
        (at.astimezone(zone).month, kind) for at, kind, _field in w.f.created
    )
    month_names = get_month_names("abbreviated", locale=w.locale)
    months = [str(month_names[m]) for m in range(1, 13)]
    kinds = [k.value for k in ItemKind]
    series = [(kind_label(w.s, k), [counts[(m, k)] for m in range(1, 13)]) for k in kinds]
    totals = [sum(counts[(m, k)] for k in kinds) for m in range(1, 13)]
    alt = _("Gestapeltes Balkendiagramm der Rückmeldungen je Monat {year}: {values}.").format(
        year=year,
        values=", ".join(f"{m} {w.n(t)}" for m, t in zip(months, totals, strict=True)),
    )
    rows = [
        (m, *(w.n(counts[(i + 1, k)]) for k in kinds), w.n(totals[i]))
        for i, m in enumerate(months)
    ]
    header = (_("Monat"), *(kind_label(w.s, k) for k in kinds), _("Summe"))
    table = Table(
        _("Rückmeldungen je Monat und Art"),
        header,
        rows,
        (False, *([True] * (len(kinds) + 1))),
    )
    chart = Chart("by-month", _("Rückmeldungen je Monat"), months, series, alt)
    return Section(_("Im Lauf des Jahres"), [chart, table])
