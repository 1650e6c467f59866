"""The year report for the city council: what came in, where it went, what came of it.

It is the appendix to the yearly integration report, published as a barrier-free document:
items are counted, never named; recommendations are quoted with contact details masked.
This module composes the document; its sections are written in `handlers.report.findings`,
`incoming`, `followup`, `events` and `asking`, and the complete list of recommendations in
`handlers.report.appendix`.
"""

from __future__ import annotations

from datetime import datetime

from handlers.context import Deps, Voice, voice
from handlers.report.appendix import AppendixRow, appendix_document, appendix_rows
from handlers.report.asking import asking
from handlers.report.document import ReportDocument
from handlers.report.events import events
from handlers.report.findings import findings
from handlers.report.followup import answer_times, overdue, recommendations
from handlers.report.incoming import fields, months, overview
from handlers.report.writer import RIGHT_TO_LEFT, SectionWriter
from storage.report import YearFigures


def year_bounds(deps: Deps, year: int) -> tuple[datetime, datetime]:
    """The calendar year in the city's time zone."""
    start = datetime(year, 1, 1, tzinfo=deps.zone)
    return start, start.replace(year=year + 1)


def year_before(moment: datetime) -> datetime:
    """The same wall-clock moment a year earlier (28 February for a 29th)."""
    try:
        return moment.replace(year=moment.year - 1)
    except ValueError:
        return moment.replace(year=moment.year - 1, day=28)


async def year_report(
    deps: Deps,
    year: int,
    *,
    language: str | None = None,
    draft: bool | None = None,
    appendix: tuple[str, str] | None = None,
) -> tuple[ReportDocument, YearFigures]:
    """The report on `year` as of now, compared with the same span of the year before (up
    to the same day while the year is not over); a report on a year not yet over is a draft.
    `appendix` names the files (HTML, CSV) that list every recommendation (`appendix_of`)."""
    now = deps.clock.now()
    start, end = year_bounds(deps, year)
    figures = await deps.store.report.year_figures(start, end, now)
    span_end = year_before(min(end, max(now.astimezone(deps.zone), start)))
    previous = await deps.store.report.year_figures(
        year_before(start), span_end, now, details=False
    )
    speaker = voice(deps, language)
    is_draft = now < end if draft is None else draft
    document = compose(
        speaker, year, figures, draft=is_draft, previous=previous, appendix=appendix
    )
    return document, figures


def appendix_of(
    deps: Deps, year: int, figures: YearFigures, *, language: str | None, report: str
) -> tuple[list[AppendixRow], ReportDocument]:
    """Every recommendation of `figures`, as rows (CSV, spreadsheet) and as a document to
    read; `report` is the file name of the report it belongs to."""
    speaker = voice(deps, language)
    rows = appendix_rows(SectionWriter(speaker, figures))
    return rows, appendix_document(speaker, year, figures, rows, report)


def compose(
    speaker: Voice,
    year: int,
    figures: YearFigures,
    *,
    draft: bool,
    previous: YearFigures | None = None,
    appendix: tuple[str, str] | None = None,
) -> ReportDocument:
    _ = speaker._
    writer = SectionWriter(speaker, figures, previous)
    sections = [
        findings(writer),
        overview(writer),
        fields(writer),
        months(writer, year),
        answer_times(writer),
        overdue(writer),
        recommendations(writer, appendix),
        events(writer),
        asking(writer),
    ]
    return ReportDocument(
        title=_("Rückmeldungen aus der Bürgerschaft {year}").format(year=year),
        subtitle=_(
            "Anhang zum Integrationsbericht {year}: was über mitreden einging, wohin es ging "
            "und was daraus wurde. Stand: {as_of}."
        ).format(year=year, as_of=writer.inline(speaker.when(figures.as_of))),
        language=speaker.language,
        right_to_left=speaker.language in RIGHT_TO_LEFT,
        sections=sections,
        draft=draft,
        draft_notice=_("Entwurf: Das Jahr ist noch nicht abgeschlossen, die Zahlen ändern sich."),
    )
