"""`mitreden report`: the year report in Markdown, HTML, PDF, CSV or a spreadsheet (xlsx).

The figures are read in one transaction per year (the report's and the year before's), the
document is written by `handlers.report.year`, and the charts, the appendix and the formats
are made in a worker thread so that a running bot keeps answering. The reading formats (md,
html, pdf) come with the appendix: every recommendation in full, as HTML and CSV files named
in the report and written beside it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field

from bot.report.charts import chart_png
from bot.report.csv_export import render_appendix_csv, render_csv
from bot.report.html import render_html
from bot.report.markdown import render_markdown
from bot.report.pdf import PdfUnavailable, render_pdf
from bot.report.xlsx import render_xlsx
from handlers.context import Deps, voice
from handlers.report.appendix import appendix_rows, item_listing, recommendation_listing
from handlers.report.document import ReportDocument
from handlers.report.writer import SectionWriter
from handlers.report.year import appendix_of, year_bounds, year_report
from storage.report import ItemRow, YearFigures

logger = logging.getLogger(__name__)
FORMATS = ("md", "html", "pdf", "csv", "xlsx")
READING_FORMATS = ("md", "html", "pdf")  # these come with the appendix files
MIME_TYPES = {
    "md": "text/markdown",
    "html": "text/html",
    "pdf": "application/pdf",
    "csv": "text/csv",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}

__all__ = ["FORMATS", "PdfUnavailable", "RenderedReport", "build_report"]


@dataclass(frozen=True, slots=True)
class RenderedReport:
    file_name: str
    mime_type: str
    data: bytes
    images: dict[str, bytes] = field(default_factory=dict)  # file name → PNG (Markdown)
    # file name → the appendix (HTML and CSV) that the report names, to write beside it
    appendix: dict[str, bytes] = field(default_factory=dict)


def appendix_names(stem: str) -> tuple[str, str]:
    """The file names of a report's appendix: HTML to read, CSV to analyse."""
    return f"{stem}-appendix.html", f"{stem}-appendix.csv"


async def build_report(
    deps: Deps,
    year: int,
    fmt: str,
    *,
    language: str | None = None,
    draft: bool | None = None,
    stem: str | None = None,
    with_appendix: bool = True,
) -> RenderedReport:
    """`with_appendix`: the reading formats name the appendix files written beside them;
    False for a document sent alone (the draft in a report reminder), which then names no
    file it does not carry.

    Raises PdfUnavailable for "pdf" when WeasyPrint cannot run here."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown report format {fmt!r}")
    started = time.perf_counter()
    name = stem or f"mitreden-report-{year}"
    files = appendix_names(name) if fmt in READING_FORMATS and with_appendix else None
    if fmt == "csv":  # the items as they are: no document, no year to compare with
        bounds = year_bounds(deps, year)
        figures = await deps.store.report.year_figures(*bounds, deps.clock.now())
        rows = await deps.store.report.item_rows(*bounds)
        data = await asyncio.to_thread(render_csv, rows, figures.recommendations, deps.zone)
        report = RenderedReport(f"{name}.csv", MIME_TYPES[fmt], data)
        _logged(year, fmt, figures, report, started)
        return report
    document, figures = await year_report(
        deps, year, language=language, draft=draft, appendix=files
    )
    if fmt == "xlsx":
        rows = await deps.store.report.item_rows(*year_bounds(deps, year))
        data = await asyncio.to_thread(_spreadsheet, deps, year, document, figures, rows, language)
        report = RenderedReport(f"{name}.xlsx", MIME_TYPES[fmt], data)
    else:
        report = await asyncio.to_thread(
            _render, deps, year, document, figures, fmt, name, files, language
        )
    _logged(year, fmt, figures, report, started)
    return report


def _logged(
    year: int, fmt: str, figures: YearFigures, report: RenderedReport, started: float
) -> None:
    logger.info(
        "report %s built",
        year,
        extra={
            "format": fmt,
            "items": figures.total,
            "bytes": len(report.data),
            "seconds": round(time.perf_counter() - started, 2),
        },
    )


def _spreadsheet(
    deps: Deps,
    year: int,
    document: ReportDocument,
    figures: YearFigures,
    items: list[ItemRow],
    language: str | None,
) -> bytes:
    writer = SectionWriter(voice(deps, language), figures)
    rows = appendix_rows(writer)
    listings = {
        "recommendations": [recommendation_listing(writer, rows)],
        "items": [item_listing(writer, items)],
    }
    return render_xlsx(document, listings)


def _render(
    deps: Deps,
    year: int,
    document: ReportDocument,
    figures: YearFigures,
    fmt: str,
    name: str,
    files: tuple[str, str] | None,
    language: str | None,
) -> RenderedReport:
    appendix: dict[str, bytes] = {}
    if files is not None:
        rows, listing = appendix_of(deps, year, figures, language=language, report=f"{name}.{fmt}")
        appendix = {
            files[0]: render_html(listing, {}).encode("utf-8"),
            files[1]: render_appendix_csv(rows, deps.zone),
        }
    charts = {chart.key: chart_png(chart) for chart in document.charts()}
    if fmt == "md":
        images = {key: f"{name}-{key}.png" for key in charts}
        text = render_markdown(document, images)
        return RenderedReport(
            f"{name}.md",
            MIME_TYPES[fmt],
            text.encode("utf-8"),
            {images[key]: png for key, png in charts.items()},
            appendix,
        )
    html = render_html(document, charts)
    if fmt == "html":
        return RenderedReport(f"{name}.html", MIME_TYPES[fmt], html.encode("utf-8"), {}, appendix)
    return RenderedReport(f"{name}.pdf", MIME_TYPES[fmt], render_pdf(html), {}, appendix)
