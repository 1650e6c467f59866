"""The year report for the city council: what came in, where it went, what came of it.

It is the appendix to the yearly integration report, published as a barrier-free document:
items are counted, never named; recommendations are quoted with contact details masked.
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Callable
from datetime import datetime, timedelta

from babel import Locale
from babel.dates import format_timedelta, get_month_names
from babel.numbers import format_decimal, format_percent

from handlers.context import Deps, Voice, voice
from handlers.i18n import LANGUAGE_NAMES, PLAIN_GERMAN, SOURCE_LANGUAGE, babel_locale
from handlers.labels import kind_label, localized_name, state_label
from handlers.public_text import public_text
from handlers.report_document import Block, Chart, Entry, Paragraph, ReportDocument, Section, Table
from storage.models import ItemKind, ItemState
from storage.report import YearFigures

RIGHT_TO_LEFT = frozenset({"ar", "fa", "he"})
RECOMMENDATION_CHARS = 600  # the printed text of one recommendation; the CSV has it whole


def year_bounds(deps: Deps, year: int) -> tuple[datetime, datetime]:
    """The calendar year in the city's time zone."""
    start = datetime(year, 1, 1, tzinfo=deps.zone)
    return start, start.replace(year=year + 1)


async def year_report(
    deps: Deps, year: int, *, language: str | None = None, draft: bool | None = None
) -> tuple[ReportDocument, YearFigures]:
    """The report on `year` as of now; a report on a year not yet over is a draft."""
    now = deps.clock.now()
    start, end = year_bounds(deps, year)
    figures = await deps.store.report.year_figures(start, end, now)
    speaker = voice(deps, language)
    is_draft = now < end if draft is None else draft
    return compose(speaker, year, figures, draft=is_draft), figures


def compose(speaker: Voice, year: int, figures: YearFigures, *, draft: bool) -> ReportDocument:
    _ = speaker._
    writer = _Writer(speaker, figures)
    sections = [
        writer.overview(),
        writer.fields(),
        writer.months(year),
        writer.answer_times(),
        writer.overdue(),
        writer.recommendations(),
        writer.events(),
    ]
    return ReportDocument(
        title=_("Rückmeldungen aus der Bürgerschaft {year}").format(year=year),
        subtitle=_(
            "Anhang zum Integrationsbericht {year}: was über mitreden einging, wohin es ging "
            "und was daraus wurde. Stand: {as_of}."
        ).format(year=year, as_of=speaker.when(figures.as_of)),
        language=speaker.language,
        right_to_left=speaker.language in RIGHT_TO_LEFT,
        sections=sections,
        draft=draft,
        draft_notice=_("Entwurf: Das Jahr ist noch nicht abgeschlossen, die Zahlen ändern sich."),
    )


class _Writer:
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

    def _breakdown(
        self, caption: str, counts: dict[str, int], label: Callable[[str], str]
    ) -> Table:
        total = sum(counts.values())
        ordered = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
        rows = [(label(k), self.n(v), self.share(v, total)) for k, v in ordered]
        return Table(
            caption, (caption, self._("Anzahl"), self._("Anteil")), rows, (False, True, True)
        )

    def overview(self) -> Section:
        _ = self._
        f = self.f
        answered = len(f.answered)
        recommendations = len(f.recommendations)
        paragraph = _(
            "Rückmeldungen im Berichtsjahr: {total}, davon Vorschläge: {recommendations}. "
            "Mit erster Antwort: {answered} ({share}). Ohne erste Antwort über die Frist: "
            "{overdue}."
        ).format(
            total=self.n(f.total),
            recommendations=self.n(recommendations),
            answered=self.n(answered),
            share=self.share(answered, f.total),
            overdue=self.n(len(f.overdue)),
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
            self._breakdown(_("Art"), f.by_kind, lambda k: kind_label(self.s, k)),
            self._breakdown(_("Stand"), f.by_state(), lambda k: state_label(self.s, k)),
            self._breakdown(_("Kanal"), f.by_platform, lambda k: channel_names.get(k, k)),
            self._breakdown(_("Sprache"), f.by_language, self._language_name),
        ]
        return Section(_("Überblick"), blocks)

    def _language_name(self, code: str) -> str:
        if code == PLAIN_GERMAN:  # Babel formats it as German; the report tells them apart
            return f"{self._language_name(SOURCE_LANGUAGE)} ({LANGUAGE_NAMES[PLAIN_GERMAN]})"
        try:
            return Locale.parse(babel_locale(code)).get_display_name(self.locale) or code
        except (ValueError, LookupError):
            return code

    def fields(self) -> Section:
        _ = self._
        by_field = self.f.by_field()
        keys = [f.key for f in self.f.fields if by_field.get(f.key)]
        keys += sorted(k for k in by_field if k not in keys)
        counts = [by_field[k] for k in keys]
        names = [self.field(k) for k in keys]
        alt = _("Balkendiagramm der Rückmeldungen je Handlungsfeld: {values}.").format(
            values=", ".join(f"{name} {self.n(c)}" for name, c in zip(names, counts, strict=True))
        )
        states = [s.value for s in ItemState]
        rows = [
            (name, *(self.n(self.f.by_field_state.get((k, s), 0)) for s in states), self.n(c))
            for k, name, c in zip(keys, names, counts, strict=True)
        ]
        header = (_("Handlungsfeld"), *(state_label(self.s, s) for s in states), _("Summe"))
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

    def months(self, year: int) -> Section:
        _ = self._
        zone = self.s.zone
        counts: Counter[tuple[int, str]] = Counter(
            (at.astimezone(zone).month, kind) for at, kind, _field in self.f.created
        )
        month_names = get_month_names("abbreviated", locale=self.locale)
        months = [str(month_names[m]) for m in range(1, 13)]
        kinds = [k.value for k in ItemKind]
        series = [(kind_label(self.s, k), [counts[(m, k)] for m in range(1, 13)]) for k in kinds]
        totals = [sum(counts[(m, k)] for k in kinds) for m in range(1, 13)]
        alt = _("Gestapeltes Balkendiagramm der Rückmeldungen je Monat {year}: {values}.").format(
            year=year,
            values=", ".join(f"{m} {self.n(t)}" for m, t in zip(months, totals, strict=True)),
        )
        rows = [
            (m, *(self.n(counts[(i + 1, k)]) for k in kinds), self.n(totals[i]))
            for i, m in enumerate(months)
        ]
        header = (_("Monat"), *(kind_label(self.s, k) for k in kinds), _("Summe"))
        table = Table(
            _("Rückmeldungen je Monat und Art"),
            header,
            rows,
            (False, *([True] * (len(kinds) + 1))),
        )
        chart = Chart("by-month", _("Rückmeldungen je Monat"), months, series, alt)
        return Section(_("Im Lauf des Jahres"), [chart, table])

    def answer_times(self) -> Section:
        _ = self._
        answered = self.f.answered
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
            median=self.duration(statistics.median(waits)),
            on_time=self.n(on_time),
            answered=self.n(len(answered)),
            share=self.share(on_time, len(answered)),
        )
        overdue = Counter(item.group_key for item in self.f.overdue)
        per_group: dict[str, list[float]] = {}
        for group, created, first, _due in answered:
            per_group.setdefault(group, []).append((first - created).total_seconds())
        rows = [
            (
                self.group_names.get(g, g),
                self.n(self.f.by_group.get(g, 0)),
                self.n(len(per_group.get(g, []))),
                self.duration(statistics.median(per_group[g])) if per_group.get(g) else "–",
                self.n(overdue.get(g, 0)),
            )
            for g in sorted(
                set(self.f.by_group) | set(per_group), key=lambda g: self.group_names.get(g, g)
            )
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

    def overdue(self) -> Section:
        _ = self._
        title = _("Überfällige Rückmeldungen")
        if not self.f.overdue:
            return Section(title, [Paragraph(_("Keine Rückmeldung wartet über ihre Frist."))])
        as_of = self.f.as_of
        rows = [
            (
                item.reference,
                kind_label(self.s, item.kind),
                self.field(item.field_key),
                self.group_names.get(item.group_key, item.group_key),
                self.s.day(item.answer_due_at),
                self.n((as_of - item.answer_due_at).days),
            )
            for item in self.f.overdue
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
        return Section(title, [Paragraph(intro.format(as_of=self.s.day(as_of))), table])

    def recommendations(self) -> Section:
        _ = self._
        title = _("Empfehlungen und was aus ihnen wurde")
        items = self.f.recommendations
        if not items:
            return Section(title, [Paragraph(_("Im Berichtsjahr gingen keine Vorschläge ein."))])
        by_field: dict[str, list[int]] = {}
        for index, item in enumerate(items):
            by_field.setdefault(item.field_key, []).append(index)
        order = [f.key for f in self.f.fields if f.key in by_field]
        order += sorted(k for k in by_field if k not in order)
        outcomes = [ItemState.IMPLEMENTED, ItemState.DECLINED, ItemState.ANSWERED]
        summary_rows = []
        subsections = []
        days: dict[object, str] = {}

        def day(moment: datetime) -> str:
            key = moment.date()
            if key not in days:
                days[key] = self.s.day(moment)
            return days[key]

        for key in order:
            mine = [items[i] for i in by_field[key]]
            states = Counter(r.state for r in mine)
            decided = sum(states[s] for s in outcomes)
            summary_rows.append(
                (
                    self.field(key),
                    self.n(len(mine)),
                    *(self.n(states[s]) for s in outcomes),
                    self.n(len(mine) - decided),
                )
            )
            entries: list[Entry | Paragraph | Table | Chart] = []
            for r in mine:
                heading = f"{r.reference} · {day(r.created_at)} · {state_label(self.s, r.state)}"
                if r.decided_at is not None:
                    heading += " " + _("(am {day})").format(day=day(r.decided_at))
                note = public_text(r.note) if r.note else ""
                text = public_text(r.text, limit=RECOMMENDATION_CHARS)
                entries.append(Entry(heading, text, note))
            subsections.append(Section(self.field(key), entries))
        header = (
            _("Handlungsfeld"),
            _("Vorschläge"),
            *(state_label(self.s, s) for s in outcomes),
            _("offen"),
        )
        summary = Table(title, header, summary_rows, (False, True, True, True, True, True))
        intro = _(
            "Jeder Vorschlag des Jahres mit seinem Stand und der Begründung der Arbeitsgruppe, "
            "nach Handlungsfeld."
        )
        return Section(title, [Paragraph(intro), summary], subsections)

    def events(self) -> Section:
        _ = self._
        title = _("Veranstaltungen")
        if not self.f.events:
            return Section(
                title, [Paragraph(_("Im Berichtsjahr fanden keine Veranstaltungen statt."))]
            )
        subsections = []
        header = (
            _("Workshop"),
            _("Handlungsfeld"),
            _("Plätze"),
            _("Angemeldet"),
            _("Warteliste"),
            _("Abgemeldet"),
        )
        for event in self.f.events:
            text = _(
                "{when}, {place}. Angemeldet: {registered}, Warteliste: {waitlisted}, "
                "abgemeldet: {cancelled}."
            ).format(
                when=self.s.when(event.starts_at),
                place=event.place or "–",
                registered=self.n(event.registered),
                waitlisted=self.n(event.waitlisted),
                cancelled=self.n(event.cancelled),
            )
            blocks: list[Paragraph | Table | Chart | Entry] = [Paragraph(text)]
            if event.workshops:
                rows = [
                    (
                        w.title,
                        self.field(w.field_key),
                        self.n(w.capacity) if w.capacity else "–",
                        self.n(w.registered),
                        self.n(w.waitlisted),
                        self.n(w.cancelled),
                    )
                    for w in event.workshops
                ]
                caption = _("Anmeldungen je Workshop: {title}").format(title=event.title)
                blocks.append(Table(caption, header, rows, (False, False, True, True, True, True)))
            subsections.append(Section(event.title, blocks))
        return Section(title, [], subsections)
