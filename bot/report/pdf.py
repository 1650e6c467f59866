"""The report as an accessible PDF: WeasyPrint writes PDF/UA-1, a tagged PDF whose structure
(headings, tables, figures with their alternative text, the document's language and title)
a screen reader can follow. WeasyPrint needs Pango from the system (see README)."""

from __future__ import annotations

import logging

logger = logging.getLogger(__name__)
PDF_VARIANT = "pdf/ua-1"


class PdfUnavailable(RuntimeError):
    """WeasyPrint or the system libraries it needs are missing."""


def render_pdf(html: str) -> bytes:
    try:
        # Imported here for weight, not to break an import cycle: WeasyPrint loads Pango and
        # its own stack (seconds and tens of MiB), needed only when a PDF is written.
        from weasyprint import HTML
    except (ImportError, OSError) as error:
        raise PdfUnavailable(str(error)) from error
    # WeasyPrint logs every CSS property it does not know at WARNING; only errors matter here.
    logging.getLogger("weasyprint").setLevel(logging.ERROR)
    pdf = HTML(string=html).write_pdf(pdf_variant=PDF_VARIANT)
    assert pdf is not None
    return pdf
