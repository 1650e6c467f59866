"""The year report for the city council: what came in, where it went, what came of it.

It is the appendix to the yearly integration report, published as a barrier-free document:
items are counted, never named; recommendations are quoted with contact details masked.
This module composes the document; its sections are written in `handlers.report.incoming`,
`handlers.report.followup` and `handlers.report.events`.
"""

from __future__ import annotations

from datetime import datetime

from handlers.context import Deps, Voice, voice
from handlers.report.document import ReportDocument
from handlers.report.events import events
from handlers.report.followup import answer_times, overdue, recommendations
from handlers.report.incoming import fields, months, overview
from handlers.report.writer import SectionWriter
from storage.report import YearFigures

RIGHT_TO_LEFT = frozenset({"ar", "fa", "he"})


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
    writer = SectionWriter(speaker, figures)
    sections = [
        overview(writer),
        fields(writer),
        months(writer, year),
        answer_times(writer),
        overdue(writer),
        recommendations(writer),
        events(writer),
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
