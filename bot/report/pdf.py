"""The report as an accessible PDF: WeasyPrint writes PDF/UA-1, a tagged PDF whose structure
(headings, tables, figures with their alternative text, the document's language and title)
a screen reader can follow. WeasyPrint needs Pango from the system (see README).

WeasyPrint gives the document its language (/Lang in the catalogue) but not the elements
within it, so an Arabic quote in a German report would be read with a German voice. Each
quote is an element of its own in the HTML (`bot.report.html`) with an id that names its
language; a finisher (WeasyPrint's public hook, run before the PDF is written) finds each
quote's structure element and gives it its /Lang.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

from bot.report.html import LANG_ID_PREFIX

logger = logging.getLogger(__name__)
PDF_VARIANT = "pdf/ua-1"
# The structure types a quote's element becomes: <blockquote> and <span> (the renderer uses
# <span> for nothing else; WeasyPrint's own /Span elements of text runs hold content ids).
QUOTE_TAGS = ("/BlockQuote", "/Span")


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
    pdf = HTML(string=html).write_pdf(pdf_variant=PDF_VARIANT, finisher=mark_languages)
    assert pdf is not None
    return pdf


def mark_languages(document: Any, pdf: Any) -> None:
    """Give each quote's structure element the /Lang its HTML element has.

    Per page, the quotes' elements in the structure tree (depth first, which is the
    document's order) are matched with the page's anchors named `lang-<language>-<n>` (in
    the document's order too: WeasyPrint gathers them walking the page's boxes). A quote's
    element is never split (blocks avoid breaks inside, spans are inline blocks), so each
    has one element and one anchor on its page.
    """
    import pydyf  # WeasyPrint's own PDF writer: present wherever WeasyPrint is

    def resolve(reference: object) -> Any:
        if isinstance(reference, bytes) and reference.endswith(b" R"):
            return pdf.objects[int(reference.split()[0])]
        return None

    pages = {reference: index for index, reference in enumerate(pdf.page_references)}
    found: dict[int, list[Any]] = {}
    root = resolve(pdf.catalog.get("StructTreeRoot"))
    if root is None:
        return
    for element in _elements(root, resolve):
        kids = element.get("K") or []
        if str(element.get("S")) in QUOTE_TAGS and any(isinstance(k, bytes) for k in kids):
            found.setdefault(pages.get(element.get("Pg"), -1), []).append(element)
    for index, page in enumerate(document.pages):
        anchors = [name for name in page.anchors if name.startswith(LANG_ID_PREFIX)]
        elements = found.get(index, [])
        if len(anchors) != len(elements):
            logger.warning(
                "page %d: %d quotes, %d quote elements; their languages are not marked",
                index + 1,
                len(anchors),
                len(elements),
            )
            continue
        for name, element in zip(anchors, elements, strict=True):
            language = name.removeprefix(LANG_ID_PREFIX).rsplit("-", 1)[0]
            element["Lang"] = pydyf.String(language)


def _elements(node: Any, resolve: Any) -> Iterator[Any]:
    """The structure elements below `node`, depth first in the order of their kids."""
    for kid in node.get("K") or []:
        child = resolve(kid)
        if child is not None and "S" in child:
            yield child
            yield from _elements(child, resolve)
