"""The year report's sections on what followed: how fast the items were answered, which wait
past their due date, and what became of the recommendations.

Each section is written by a function of a `SectionWriter` (handlers.report.year composes
them). What the PDF quotes is bounded, so that a year of any size stays readable (about 60
pages): every decision with its reason while they fit, grouped by reason, and the newest
open recommendations; the appendix (`handlers.report.appendix`) lists them all.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime

from handlers.labels import kind_label, state_label
from handlers.public_text import public_text
from handlers.report.document import Block, Cell, Decision, Entry, Paragraph, Section, Table
from handlers.report.writer import SectionWriter, in_time, median_wait
from storage.items.recommendations import Recommendation
from storage.models import ItemKind, ItemState
from storage.report import EXPECTS_ANSWER

RECOMMENDATION_CHARS = 600  # the printed text of one recommendation; the appendix has it whole
QUOTES_PER_REASON = 3  # recommendations quoted under one reason; the others are counted
DECISIONS_QUOTED = 140  # decided recommendations quoted in the whole report, at most
OPEN_QUOTED = 3  # the newest undecided recommendations quoted per field of action
OVERDUE_LISTED = 15  # the longest overdue items listed by reference
DECIDED = (ItemState.IMPLEMENTED, ItemState.DECLINED)
OPEN = (ItemState.RECEIVED, ItemState.IN_PROGRESS)


def answer_times(w: SectionWriter) -> Section:
    _ = w._
    title = _("Zeit bis zur ersten Antwort")
    answered = w.f.answered
    if not answered:
        return Section(
            title, [Paragraph(_("Noch keine Rückmeldung wurde beantwortet."))], key="answers"
        )
    on_time = in_time(answered)
    text = _(
        "Bis zur ersten Antwort vergingen im Median {median}. {on_time} von {answered} "
        "Antworten kamen innerhalb der Frist der Arbeitsgruppe ({share})."
    ).format(
        median=w.duration(median_wait(answered) or 0),
        on_time=w.n(on_time),
        answered=w.n(len(answered)),
        share=w.share(on_time, len(answered)),
    )
    blocks: list[Block] = [Paragraph(text)]
    before = w.p.answered if w.p else []
    if before:
        blocks.append(
            Paragraph(
                _("Im Vorjahr: Median {median}, innerhalb der Frist {share}.").format(
                    median=w.duration(median_wait(before) or 0),
                    share=w.share(in_time(before), len(before)),
                )
            )
        )
    blocks.append(
        Paragraph(_("Gezählt sind Vorschläge, Kritik und Fragen; Lob erwartet keine Antwort."))
    )
    overdue = Counter(item.group_key for item in w.f.overdue)
    per_group: dict[str, list[tuple[str, datetime, datetime, datetime | None]]] = {}
    for entry in answered:
        per_group.setdefault(entry[0], []).append(entry)
    previous: dict[str, list[tuple[str, datetime, datetime, datetime | None]]] = {}
    for entry in before:
        previous.setdefault(entry[0], []).append(entry)
    received = Counter[str]()
    for (group, kind), n in w.f.by_group_kind.items():
        if kind in EXPECTS_ANSWER:
            received[group] += n
    if not w.f.by_group_kind:  # figures without kinds per group (a month on the web view)
        received.update(w.f.by_group)
    groups = sorted(set(received) | set(per_group), key=w.group)
    header: tuple[str, ...] = (
        _("Arbeitsgruppe"),
        _("Eingegangen"),
        _("Beantwortet"),
        _("Median"),
        _("In der Frist"),
        _("Überfällig"),
    )
    if before:
        header += (_("Median im Vorjahr"),)
    rows: list[tuple[Cell, ...]] = []
    for g in groups:
        mine = per_group.get(g, [])
        row: tuple[Cell, ...] = (
            w.group_cell(g),
            w.num(received.get(g, 0)),
            w.num(len(mine)),
            w.days(median_wait(mine)),
            w.pct(in_time(mine), len(mine)) if mine else "–",
            w.num(overdue.get(g, 0)),
        )
        if before:
            row += (w.days(median_wait(previous.get(g, []))),)
        rows.append(row)
    caption = _("Erste Antworten {year} je Arbeitsgruppe: Eingang, Dauer und Frist").format(
        year=w.years[0]
    )
    blocks.append(Table(caption, header, rows))
    return Section(title, blocks, key="answers")


def overdue(w: SectionWriter) -> Section:
    _ = w._
    title = _("Überfällige Rückmeldungen")
    if not w.f.overdue:
        return Section(
            title, [Paragraph(_("Keine Rückmeldung wartet über ihre Frist."))], key="overdue"
        )
    as_of = w.f.as_of
    day = w.inline(w.s.day(as_of))
    intro = _("Ohne erste Antwort und über die Frist der Arbeitsgruppe, Stand {as_of}.")
    blocks: list[Block] = [
        Paragraph(
            intro.format(as_of=day)
            + " "
            + _("Gezählt sind Vorschläge, Kritik und Fragen; Lob erwartet keine Antwort.")
        )
    ]
    kinds = [k.value for k in ItemKind if k in EXPECTS_ANSWER]
    counts = Counter((item.group_key, item.kind) for item in w.f.overdue)
    longest: dict[str, int] = {}
    for item in w.f.overdue:
        days = (as_of - item.answer_due_at).days
        longest[item.group_key] = max(longest.get(item.group_key, 0), days)
    summary = [
        (
            w.group_cell(g),
            *(w.num(counts[(g, k)]) for k in kinds),
            w.num(sum(counts[(g, k)] for k in kinds)),
            w.num(longest[g]),
        )
        for g in sorted(longest, key=w.group)
    ]
    blocks.append(
        Table(
            _("Überfällige Rückmeldungen je Arbeitsgruppe und Art, Stand {as_of}").format(
                as_of=day
            ),
            (
                _("Arbeitsgruppe"),
                *(kind_label(w.s, k) for k in kinds),
                _("Summe"),
                _("Höchstens Tage darüber"),
            ),
            summary,
        )
    )
    oldest = w.f.overdue[:OVERDUE_LISTED]  # the storage orders them by due date
    rows = [
        (
            w.inline(item.reference),
            kind_label(w.s, item.kind),
            w.field_cell(item.field_key),
            w.group_cell(item.group_key),
            w.day_value(item.answer_due_at),
            w.num((as_of - item.answer_due_at).days),
        )
        for item in oldest
    ]
    header = (
        _("Kennung"),
        _("Art"),
        _("Handlungsfeld"),
        _("Arbeitsgruppe"),
        _("Frist"),
        _("Tage darüber"),
    )
    caption = _("Die am längsten überfälligen Rückmeldungen: {shown} von {total}").format(
        shown=w.n(len(oldest)), total=w.n(len(w.f.overdue))
    )
    blocks.append(Table(caption, header, rows))
    if len(w.f.overdue) > len(oldest):
        blocks.append(
            Paragraph(
                _(
                    "Alle überfälligen Rückmeldungen stehen in der CSV-Datei und in der "
                    "Tabellenkalkulation des Berichts."
                )
            )
        )
    return Section(title, blocks, key="overdue")


def outcome_counts(items: list[Recommendation]) -> Counter[str]:
    """How many recommendations stand where: implemented, declined, answered, open, closed."""
    counts: Counter[str] = Counter()
    for r in items:
        counts["open" if r.state in OPEN else r.state] += 1
    return counts


def recommendations(w: SectionWriter, appendix: tuple[str, str] | None = None) -> Section:
    """`appendix`: the file names of the complete list (HTML, CSV) the section points to."""
    _ = w._
    title = _("Empfehlungen und was aus ihnen wurde")
    items = w.f.recommendations
    if not items:
        return Section(
            title,
            [Paragraph(_("Im Berichtsjahr gingen keine Vorschläge ein."))],
            key="recommendations",
        )
    by_field: dict[str, list[Recommendation]] = {}
    for item in items:
        by_field.setdefault(item.field_key, []).append(item)
    before: dict[str, list[Recommendation]] = {}
    for item in w.p.recommendations if w.p else []:
        before.setdefault(item.field_key, []).append(item)
    order = [k for k in (f.key for f in w.f.fields) if k in by_field]
    order += sorted(k for k in by_field if k not in order)
    columns = [ItemState.IMPLEMENTED, ItemState.DECLINED, ItemState.ANSWERED]
    this = w.years[0]
    header: tuple[str, ...] = (
        _("Handlungsfeld"),
        _("Vorschläge"),
        *(state_label(w.s, s) for s in columns),
        _("offen"),
        state_label(w.s, ItemState.CLOSED),
    )
    if w.p is not None:
        header += (
            _("Vorschläge im Vorjahr"),
            _("{state} im Vorjahr").format(state=state_label(w.s, ItemState.IMPLEMENTED)),
        )
    summary_rows: list[tuple[Cell, ...]] = []
    for key in order:
        counts = outcome_counts(by_field[key])
        row: tuple[Cell, ...] = (
            w.field_cell(key),
            w.num(len(by_field[key])),
            *(w.num(counts[s]) for s in columns),
            w.num(counts["open"]),
            w.num(counts[ItemState.CLOSED]),
        )
        if w.p is not None:
            earlier = outcome_counts(before.get(key, []))
            row += (w.num(len(before.get(key, []))), w.num(earlier[ItemState.IMPLEMENTED]))
        summary_rows.append(row)
    summary = Table(
        _("Vorschläge {year} je Handlungsfeld und was aus ihnen wurde").format(year=this),
        header,
        summary_rows,
    )
    blocks: list[Block] = [
        Paragraph(
            _(
                "Die Vorschläge des Jahres nach Handlungsfeld: jede Entscheidung der "
                "Arbeitsgruppe mit ihrer Begründung, gleiche Begründungen zusammengefasst, "
                "dazu die neuesten noch nicht entschiedenen Vorschläge mit der Antwort der "
                "Arbeitsgruppe."
            )
        ),
        summary,
    ]
    if appendix is not None:
        html, csv = (w.inline(name) for name in appendix)
        blocks.append(
            Paragraph(
                _(
                    "Alle {count} Vorschläge mit Stand, Antwort und Begründung stehen im "
                    "Anhang: {html} zum Lesen, {csv} zum Auswerten."
                ).format(count=w.n(len(items)), html=html, csv=csv)
            )
        )
    decided_fields = sum(1 for k in order if any(r.state in DECIDED for r in by_field[k]))
    budget = max(QUOTES_PER_REASON, DECISIONS_QUOTED // max(decided_fields, 1))
    subsections = [_field_section(w, key, by_field[key], budget) for key in order]
    return Section(title, blocks, subsections, key="recommendations")


def _field_section(
    w: SectionWriter, key: str, items: list[Recommendation], budget: int
) -> Section:
    """One field of action: its decisions grouped by reason, then the newest undecided."""
    _ = w._
    days: dict[object, str] = {}

    def day(moment: datetime) -> str:
        local = moment.astimezone(w.s.zone).date()
        if local not in days:
            days[local] = w.inline(w.s.day(moment))
        return days[local]

    def entry(r: Recommendation, note_label: str = "") -> Entry:
        heading = f"{w.inline(r.reference)} · {day(r.created_at)} · {state_label(w.s, r.state)}"
        if r.decided_at is not None:
            heading += " " + _("(am {day})").format(day=day(r.decided_at))
        text = w.quote(r.text, r.language, r.author_names, RECOMMENDATION_CHARS)
        answer = None
        if note_label and r.answer:
            answer = w.quote(r.answer, w.city_language, r.author_names)
        return Entry(heading, text, answer, note_label if answer else "")

    parts: list[Section] = []
    left = budget
    for state in DECIDED:
        decided = [r for r in items if r.state == state]
        if not decided:
            continue
        groups: dict[str, list[Recommendation]] = {}
        for r in decided:
            groups.setdefault(public_text(r.note or ""), []).append(r)
        ranked = sorted(
            groups.items(),
            key=lambda kv: (-len(kv[1]), -max(_at(r.decided_at) for r in kv[1])),
        )
        blocks: list[Block] = []
        unquoted = 0
        for reason, group in ranked:
            if left <= 0:
                unquoted += len(group)
                continue
            newest = sorted(group, key=lambda r: _at(r.decided_at), reverse=True)
            shown = newest[: min(QUOTES_PER_REASON, left)]
            left -= len(shown)
            rest = len(group) - len(shown)
            more = (
                _("Weitere Vorschläge mit dieser Begründung: {count} (im Anhang).").format(
                    count=w.n(rest)
                )
                if rest
                else ""
            )
            blocks.append(
                Decision(
                    _("Begründung der Arbeitsgruppe"),
                    w.quote(reason, w.city_language) if reason else None,
                    [entry(r) for r in shown],
                    more,
                )
            )
        if unquoted:
            blocks.append(
                Paragraph(
                    _(
                        "Weitere Entscheidungen mit anderen Begründungen: {count}; der "
                        "Anhang nennt sie alle."
                    ).format(count=w.n(unquoted))
                )
            )
        parts.append(Section(_capital(state_label(w.s, state)), blocks))
    undecided = [r for r in items if r.state in (*OPEN, ItemState.ANSWERED)]
    if undecided:
        answered = sum(1 for r in undecided if r.state == ItemState.ANSWERED)
        newest = sorted(undecided, key=lambda r: r.created_at, reverse=True)[:OPEN_QUOTED]
        intro = _(
            "Noch nicht entschieden: {count}, davon beantwortet: {answered}. Die neuesten:"
        ).format(count=w.n(len(undecided)), answered=w.n(answered))
        label = _("Antwort der Arbeitsgruppe")
        blocks = [Paragraph(intro), *(entry(r, label) for r in newest)]
        parts.append(Section(_("Noch nicht entschieden"), blocks))
    return Section(w.field(key), [], parts)


def _capital(label: str) -> str:
    """A state's name as a heading: "umgesetzt" → "Umgesetzt" (scripts without case stay)."""
    return label[:1].upper() + label[1:]


def _at(moment: datetime | None) -> float:
    return moment.timestamp() if moment is not None else 0.0
