"""The year report's first page: what the year amounts to, in sentences computed from the
figures, beside the same span of the year before (handlers.report.year composes it).

A council member reads this page first and perhaps only this page: what came in and from
whom, which fields of action grew or shrank, how fast the working groups answered, what was
implemented, and what still waits. Each sentence states figures only; the sections behind
it give the tables.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from handlers.report.document import Cell, Findings, Paragraph, Section, Table, Value
from handlers.report.followup import outcome_counts
from handlers.report.incoming import channel_name
from handlers.report.writer import SectionWriter, in_time, median_wait
from storage.models import ItemKind, ItemState
from storage.report import YearFigures

TOP_LANGUAGES = 4  # languages named on the first page; the others are summed up
MIN_ANSWERS = 5  # a working group with fewer answers is not called fastest or slowest


def findings(w: SectionWriter) -> Section:
    _ = w._
    f, p = w.f, w.p
    earlier = p if p is not None and p.total else None
    sentences: list[str] = []
    came_in = _("Rückmeldungen: {total}, davon Vorschläge: {suggestions}.").format(
        total=w.n(f.total), suggestions=w.n(f.by_kind.get(ItemKind.SUGGESTION, 0))
    )
    if earlier is not None:
        came_in += " " + _("Im gleichen Zeitraum des Vorjahres: {previous} ({change}).").format(
            previous=w.n(earlier.total), change=w.inline(w.change_text(f.total, earlier.total))
        )
    sentences.append(came_in)
    people = _("Personen, die geschrieben haben: {residents}.").format(residents=w.n(f.residents))
    if earlier is not None:
        people += " " + _("Vorjahr: {previous}.").format(previous=w.n(earlier.residents))
    sentences.append(people)
    if f.total:
        sentences.append(
            _("Kanäle: {channels}.").format(
                channels=_shares(w, f.by_platform, lambda k: channel_name(w, k))
            )
        )
        sentences.append(
            _("Sprachen der Absender: {languages}.").format(
                languages=_shares(w, f.by_language, w.language_name, TOP_LANGUAGES)
            )
        )
    if earlier is not None:
        sentences += _growth(w, f, earlier)
    if f.answered:
        answers = _(
            "Zeit bis zur ersten Antwort im Median: {median}; innerhalb der Frist: {share}."
        ).format(
            median=w.inline(w.duration(median_wait(f.answered) or 0)),
            share=w.inline(w.share(in_time(f.answered), len(f.answered))),
        )
        if earlier is not None and earlier.answered:
            answers += " " + _("Vorjahr: {median} und {share}.").format(
                median=w.inline(w.duration(median_wait(earlier.answered) or 0)),
                share=w.inline(w.share(in_time(earlier.answered), len(earlier.answered))),
            )
        sentences.append(answers)
        sentences += _fastest(w)
    outcomes = outcome_counts(f.recommendations)
    if f.recommendations:
        decided = _(
            "Vorschläge umgesetzt: {implemented}, abgelehnt: {declined}, noch nicht "
            "entschieden: {open}."
        ).format(
            implemented=w.n(outcomes[ItemState.IMPLEMENTED]),
            declined=w.n(outcomes[ItemState.DECLINED]),
            open=w.n(outcomes["open"] + outcomes[ItemState.ANSWERED]),
        )
        if earlier is not None:
            before = outcome_counts(earlier.recommendations)
            decided += " " + _("Vorjahr: umgesetzt {implemented}, abgelehnt {declined}.").format(
                implemented=w.n(before[ItemState.IMPLEMENTED]),
                declined=w.n(before[ItemState.DECLINED]),
            )
        sentences.append(decided)
    sentences.append(
        _("Ohne erste Antwort über der Frist, Stand {as_of}: {overdue}.").format(
            as_of=w.inline(w.s.day(f.as_of)), overdue=w.n(len(f.overdue))
        )
    )
    if f.events:
        sentences.append(
            _(
                "Veranstaltungen: {events}; Anmeldungen: {registered}, Warteliste: {waitlisted}."
            ).format(
                events=w.n(len(f.events)),
                registered=w.n(sum(e.registered for e in f.events)),
                waitlisted=w.n(sum(e.waitlisted for e in f.events)),
            )
        )
    blocks: list[Paragraph | Findings | Table] = [Findings(sentences)]
    if p is not None:
        blocks.insert(0, Paragraph(_basis(w, p)))
    blocks.append(_key_figures(w, earlier))
    return Section(_("Das Wichtigste in Kürze"), blocks, key="findings")


def _basis(w: SectionWriter, p: YearFigures) -> str:
    _ = w._
    if not p.total:
        return _("Für den gleichen Zeitraum des Vorjahres liegen keine Rückmeldungen vor.")
    last = p.end - timedelta(seconds=1)  # the span ends before `end`
    return _("Verglichen wird mit dem gleichen Zeitraum des Vorjahres: {start} bis {end}.").format(
        start=w.inline(w.s.day(p.start)), end=w.inline(w.s.day(last))
    )


def _shares(
    w: SectionWriter, counts: dict[str, int], label: Callable[[str], str], top: int = 0
) -> str:
    """Shares like "Telegram 66 %, Matrix 34 %": the largest first; beyond `top`, the rest
    together."""
    total = sum(counts.values())
    ordered = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    shown = ordered[:top] if top and len(ordered) > top + 1 else ordered
    parts = [f"{w.inline(label(k))} {w.inline(w.share(n, total))}" for k, n in shown]
    rest = total - sum(n for _k, n in shown)
    if rest:
        parts.append(w._("weitere {share}").format(share=w.inline(w.share(rest, total))))
    return w.join(parts)


def _growth(w: SectionWriter, f: YearFigures, p: YearFigures) -> list[str]:
    """The field of action that grew most and the one that shrank most, in items."""
    _ = w._
    now, before = f.by_field(), p.by_field()
    changes = sorted(
        ((now.get(k, 0) - before.get(k, 0), k) for k in set(now) | set(before)),
        key=lambda ck: (ck[0], w.field(ck[1])),
    )
    picked = []
    if changes and changes[-1][0] > 0:
        picked.append(
            (
                _("Am stärksten zugenommen hat {field}: {now} statt {before} ({change})."),
                changes[-1][1],
            )
        )
    if changes and changes[0][0] < 0:
        picked.append(
            (
                _("Am stärksten abgenommen hat {field}: {now} statt {before} ({change})."),
                changes[0][1],
            )
        )
    return [
        sentence.format(
            field=w.inline(w.field(key)),
            now=w.n(now.get(key, 0)),
            before=w.n(before.get(key, 0)),
            change=w.inline(w.change_text(now.get(key, 0), before.get(key, 0))),
        )
        for sentence, key in picked
    ]


def _fastest(w: SectionWriter) -> list[str]:
    per_group: dict[str, list[tuple[str, datetime, datetime, datetime | None]]] = {}
    for entry in w.f.answered:
        per_group.setdefault(entry[0], []).append(entry)
    medians = sorted(
        (median_wait(entries) or 0, w.group(g))
        for g, entries in per_group.items()
        if len(entries) >= MIN_ANSWERS
    )
    if len(medians) < 2 or medians[0][0] == medians[-1][0]:
        return []
    (fast, fast_name), (slow, slow_name) = medians[0], medians[-1]
    return [
        w._(
            "Am schnellsten antwortete {fast} (Median {fast_median}), am langsamsten {slow} "
            "({slow_median})."
        ).format(
            fast=w.inline(fast_name),
            fast_median=w.inline(w.duration(fast)),
            slow=w.inline(slow_name),
            slow_median=w.inline(w.duration(slow)),
        )
    ]


def _key_figures(w: SectionWriter, p: YearFigures | None) -> Table:
    """The findings' figures as a table: this year, the year before, the change."""
    _ = w._
    f = w.f
    this, before = w.years
    now_outcomes = outcome_counts(f.recommendations)
    then_outcomes = outcome_counts(p.recommendations) if p is not None else None

    def counted(label: str, now: int, then: int | None) -> tuple[Cell, ...]:
        row: tuple[Cell, ...] = (label, w.num(now))
        if p is not None:
            row += (w.num(then or 0), w.change(now, then or 0))
        return row

    rows = [
        counted(_("Rückmeldungen"), f.total, p.total if p else None),
        counted(
            _("Vorschläge"),
            f.by_kind.get(ItemKind.SUGGESTION, 0),
            p.by_kind.get(ItemKind.SUGGESTION, 0) if p else None,
        ),
        counted(_("Personen, die geschrieben haben"), f.residents, p.residents if p else None),
        counted(
            _("Vorschläge umgesetzt"),
            now_outcomes[ItemState.IMPLEMENTED],
            then_outcomes[ItemState.IMPLEMENTED] if then_outcomes is not None else None,
        ),
        counted(
            _("Vorschläge abgelehnt"),
            now_outcomes[ItemState.DECLINED],
            then_outcomes[ItemState.DECLINED] if then_outcomes is not None else None,
        ),
    ]
    median_now = median_wait(f.answered)
    median_then = median_wait(p.answered) if p is not None else None
    row: tuple[Cell, ...] = (_("Zeit bis zur ersten Antwort im Median"), w.days(median_now))
    if p is not None:
        row += (w.days(median_then), _change(w, median_now, median_then))
    rows.append(row)
    share_now = w.pct(in_time(f.answered), len(f.answered)) if f.answered else "–"
    row = (_("Antworten in der Frist"), share_now)
    if p is not None:
        share_then = w.pct(in_time(p.answered), len(p.answered)) if p.answered else "–"
        row += (share_then, "")
    rows.append(row)
    row = (_("Überfällig"), w.num(len(f.overdue)))
    if p is not None:
        row += ("–", "")
    rows.append(row)
    header: tuple[str, ...] = (_("Kennzahl"), this)
    if p is not None:
        header += (before, _("Veränderung"))
    caption = (
        _("Kennzahlen {year} im Vergleich zum Vorjahr").format(year=this)
        if p is not None
        else _("Kennzahlen {year}").format(year=this)
    )
    return Table(caption, header, rows)


def _change(w: SectionWriter, now: float | None, then: float | None) -> Value | str:
    if now is None or not then:
        return "–"
    return w.change(now, then)
