"""`mitreden report`: the year report in Markdown, HTML, PDF or CSV.

The figures are read in one transaction, the document is written by `handlers.report.year`, and
the charts and the PDF are drawn in a worker thread so that a running bot keeps answering.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field

from bot.report.charts import chart_png
from bot.report.csv_export import render_csv
from bot.report.html import render_html
from bot.report.markdown import render_markdown
from bot.report.pdf import PdfUnavailable, render_pdf
from handlers.context import Deps
from handlers.report.document import ReportDocument
from handlers.report.year import year_bounds, year_report

logger = logging.getLogger(__name__)
FORMATS = ("md", "html", "pdf", "csv")
MIME_TYPES = {
    "md": "text/markdown",
    "html": "text/html",
    "pdf": "application/pdf",
    "csv": "text/csv",
}

__all__ = ["FORMATS", "PdfUnavailable", "RenderedReport", "build_report"]


@dataclass(frozen=True, slots=True)
class RenderedReport:
    file_name: str
    mime_type: str
    data: bytes
    images: dict[str, bytes] = field(default_factory=dict)  # file name → PNG (Markdown)


async def build_report(
    deps: Deps,
    year: int,
    fmt: str,
    *,
    language: str | None = None,
    draft: bool | None = None,
    stem: str | None = None,
) -> RenderedReport:
    """Raises PdfUnavailable for "pdf" when WeasyPrint cannot run here."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown report format {fmt!r}")
    started = time.perf_counter()
    document, figures = await year_report(deps, year, language=language, draft=draft)
    name = stem or f"mitreden-report-{year}"
    if fmt == "csv":
        rows = await deps.store.report.item_rows(*year_bounds(deps, year))
        data = await asyncio.to_thread(render_csv, rows, figures.recommendations, deps.zone)
        report = RenderedReport(f"{name}.csv", MIME_TYPES[fmt], data)
    else:
        report = await asyncio.to_thread(_render, document, fmt, name)
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
    return report


def _render(document: ReportDocument, fmt: str, name: str) -> RenderedReport:
    charts = {chart.key: chart_png(chart) for chart in document.charts()}
    if fmt == "md":
        images = {key: f"{name}-{key}.png" for key in charts}
        text = render_markdown(document, images)
        return RenderedReport(
            f"{name}.md",
            MIME_TYPES[fmt],
            text.encode("utf-8"),
            {images[key]: png for key, png in charts.items()},
        )
    html = render_html(document, charts)
    if fmt == "html":
        return RenderedReport(f"{name}.html", MIME_TYPES[fmt], html.encode("utf-8"))
    return RenderedReport(f"{name}.pdf", MIME_TYPES[fmt], render_pdf(html))
