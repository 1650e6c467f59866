"""The year report's sections on what came in: the overview, by field of action, by month,
each beside the same span of the year before when there are figures for it.

Each section is written by a function of a `SectionWriter` (handlers.report.year composes them).
"""

from __future__ import annotations

from collections import Counter

from babel.dates import get_month_names

from handlers.labels import kind_label, name_list, state_label
from handlers.report.document import Block, Cell, Chart, Paragraph, Section, Table
from handlers.report.writer import SectionWriter
from storage.models import ItemKind, ItemState
from storage.report import YearFigures


def channel_name(w: SectionWriter, key: str) -> str:
    return {"telegram": "Telegram", "matrix": "Matrix", "console": w._("Konsole")}.get(key, key)


def overview(w: SectionWriter) -> Section:
    _ = w._
    f, p = w.f, w.p
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
    this, _before = w.years
    blocks: list[Block] = [
        Paragraph(paragraph),
        Paragraph(privacy),
        w.breakdown(
            _("Rückmeldungen {year} nach Art").format(year=this),
            _("Art"),
            f.by_kind,
            lambda k: kind_label(w.s, k),
            p.by_kind if p else None,
        ),
        w.breakdown(
            _("Rückmeldungen {year} nach ihrem heutigen Stand").format(year=this),
            _("Stand"),
            f.by_state(),
            lambda k: state_label(w.s, k),
            p.by_state() if p else None,
        ),
        w.breakdown(
            _("Rückmeldungen {year} nach Kanal").format(year=this),
            _("Kanal"),
            f.by_platform,
            lambda k: channel_name(w, k),
            p.by_platform if p else None,
        ),
        w.breakdown(
            _("Rückmeldungen {year} nach Sprache der Absender").format(year=this),
            _("Sprache"),
            f.by_language,
            w.language_name,
            p.by_language if p else None,
        ),
    ]
    return Section(_("Überblick"), blocks, key="overview")


def field_order(w: SectionWriter, *counts: dict[str, int]) -> list[str]:
    """The fields in their configured order, then any others, those with items only."""
    present = {k for c in counts for k, n in c.items() if n}
    keys = [f.key for f in w.f.fields if f.key in present]
    return keys + sorted(present - set(keys))


def fields(w: SectionWriter) -> Section:
    _ = w._
    by_field = w.f.by_field()
    before = w.p.by_field() if w.p else None
    keys = field_order(w, by_field)
    counts = [by_field[k] for k in keys]
    names = [w.field(k) for k in keys]
    alt = _("Balkendiagramm der Rückmeldungen je Handlungsfeld: {values}.").format(
        values=name_list(w.s, (f"{name} {w.n(c)}" for name, c in zip(names, counts, strict=True)))
    )
    states = [s.value for s in ItemState]
    this, previous = w.years
    header: tuple[str, ...] = (
        _("Handlungsfeld"),
        *(state_label(w.s, s) for s in states),
        _("Summe"),
    )
    if before is not None:
        header += (previous, _("Veränderung"))
    rows: list[tuple[Cell, ...]] = []
    for key, count in zip(keys, counts, strict=True):
        row: tuple[Cell, ...] = (
            w.field_cell(key),
            *(w.num(w.f.by_field_state.get((key, s), 0)) for s in states),
            w.num(count),
        )
        if before is not None:
            row += (w.num(before.get(key, 0)), w.change(count, before.get(key, 0)))
        rows.append(row)
    table = Table(
        _("Rückmeldungen {year} je Handlungsfeld nach heutigem Stand").format(year=this),
        header,
        rows,
    )
    chart = Chart(
        "by-field",
        _("Rückmeldungen je Handlungsfeld"),
        names,
        [(_("Rückmeldungen"), counts)],
        alt,
        horizontal=True,
        language=w.s.language,
        right_to_left=w.right_to_left,
    )
    return Section(_("Nach Handlungsfeld"), [chart, table], key="fields")


def _by_month(w: SectionWriter, figures: YearFigures) -> Counter[tuple[int, str]]:
    zone = w.s.zone
    return Counter((at.astimezone(zone).month, kind) for at, kind, _field in figures.created)


def months(w: SectionWriter, year: int) -> Section:
    _ = w._
    counts = _by_month(w, w.f)
    before = _by_month(w, w.p) if w.p else None
    month_names = get_month_names("abbreviated", locale=w.locale)
    months = [str(month_names[m]) for m in range(1, 13)]
    kinds = [k.value for k in ItemKind]
    series = [(kind_label(w.s, k), [counts[(m, k)] for m in range(1, 13)]) for k in kinds]
    totals = [sum(counts[(m, k)] for k in kinds) for m in range(1, 13)]
    alt = _("Gestapeltes Balkendiagramm der Rückmeldungen je Monat {year}: {values}.").format(
        year=year,
        values=name_list(w.s, (f"{m} {w.n(t)}" for m, t in zip(months, totals, strict=True))),
    )
    this, previous = w.years
    header: tuple[str, ...] = (_("Monat"), *(kind_label(w.s, k) for k in kinds), _("Summe"))
    if before is not None:
        header += (previous,)
    rows: list[tuple[Cell, ...]] = []
    for i, m in enumerate(months):
        row: tuple[Cell, ...] = (m, *(w.num(counts[(i + 1, k)]) for k in kinds), w.num(totals[i]))
        if before is not None:
            row += (w.num(sum(before[(i + 1, k)] for k in kinds)),)
        rows.append(row)
    table = Table(_("Rückmeldungen {year} je Monat nach Art").format(year=this), header, rows)
    chart = Chart(
        "by-month",
        _("Rückmeldungen je Monat"),
        months,
        series,
        alt,
        language=w.s.language,
        right_to_left=w.right_to_left,
    )
    return Section(_("Im Lauf des Jahres"), [chart, table], key="months")
