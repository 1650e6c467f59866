"""Reading a report back as its reader meets it: the glyphs of a PDF where they stand on the
page (pdfminer.six), the structure tree a screen reader walks (pikepdf), and what the
Unicode bidirectional algorithm makes of a string (python-bidi), to compare the two."""

from __future__ import annotations

import subprocess
import unicodedata
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pikepdf
from bidi import get_display
from pdfminer.converter import PDFLayoutAnalyzer
from pdfminer.layout import LTChar
from pdfminer.pdffont import PDFUnicodeNotDefined
from pdfminer.pdfinterp import PDFPageInterpreter, PDFResourceManager
from pdfminer.pdfpage import PDFPage

ISOLATES = dict.fromkeys(map(ord, "\u2066\u2067\u2068\u2069"))
IGNORED = dict.fromkeys(map(ord, "\u2066\u2067\u2068\u2069()[] \u00a0\u202f"))


@dataclass(frozen=True, slots=True)
class Glyph:
    page: int  # from 0
    mcid: int | None  # the marked content it is drawn in (its structure element's)
    text: str  # what the PDF says it stands for (ToUnicode)
    x0: float
    x1: float
    y0: float


class _GlyphRecorder(PDFLayoutAnalyzer):
    """A pdfminer device that keeps every glyph with its position and marked content."""

    def __init__(self, manager: PDFResourceManager) -> None:
        super().__init__(manager, laparams=None)
        self.glyphs: list[Glyph] = []
        self.page = -1
        self.mcid: int | None = None

    def begin_tag(self, tag: Any, props: Any = None) -> None:
        if isinstance(props, dict) and "MCID" in props:
            self.mcid = int(props["MCID"])

    def end_tag(self) -> None:
        self.mcid = None

    def render_char(
        self,
        matrix: Any,
        font: Any,
        fontsize: float,
        scaling: float,
        rise: float,
        cid: int,
        ncs: Any,
        graphicstate: Any,
    ) -> float:
        try:
            text = font.to_unichr(cid)
        except PDFUnicodeNotDefined:
            text = self.handle_undefined_char(font, cid)
        item = LTChar(
            matrix,
            font,
            fontsize,
            scaling,
            rise,
            text,
            font.char_width(cid),
            font.char_disp(cid),
            ncs,
            graphicstate,
        )
        self.cur_item.add(item)
        self.glyphs.append(Glyph(self.page, self.mcid, text, item.x0, item.x1, item.y0))
        return item.adv

    def receive_layout(self, ltpage: Any) -> None:
        pass


def read_glyphs(path: Path) -> list[Glyph]:
    manager = PDFResourceManager()
    device = _GlyphRecorder(manager)
    interpreter = PDFPageInterpreter(manager, device)
    with open(path, "rb") as handle:
        for number, page in enumerate(PDFPage.get_pages(handle)):
            device.page = number
            interpreter.process_page(page)
    return device.glyphs


def _units(glyphs: list[Glyph]) -> str:
    """Glyphs left to right as text; a ligature of right-to-left letters (lam-alef) stands
    for its letters in reading order, so it is turned to left-to-right order here."""
    parts = []
    for g in sorted(glyphs, key=lambda g: g.x0):
        text = unicodedata.normalize("NFKC", g.text)
        if len(text) > 1 and unicodedata.bidirectional(text[0]) in ("R", "AL"):
            text = text[::-1]
        parts.append(text)
    return "".join(parts)


def visual_lines(glyphs: list[Glyph]) -> list[str]:
    """Every line of text as it stands on the page, left to right (glyphs on one baseline)."""
    lines: dict[tuple[int, int], list[Glyph]] = defaultdict(list)
    for g in glyphs:
        lines[(g.page, round(g.y0))].append(g)
    return [_units(lines[key]) for key in sorted(lines, key=lambda k: (k[0], -k[1]))]


def squeeze(text: str) -> str:
    """For comparing: no spaces, isolates or brackets (mirrored glyphs), letters unshaped."""
    return unicodedata.normalize("NFKC", text).translate(IGNORED)


def shown(source: str, right_to_left: bool) -> str:
    """How `source` must stand on the page in a paragraph of the given direction: the
    Unicode bidirectional algorithm's display order (isolates honoured)."""
    return squeeze(get_display(source, base_dir="R" if right_to_left else "L"))


def logical(line: str, right_to_left: bool) -> str:
    """A line read back in logical order: display order is its own inverse for text of
    nested runs, so the algorithm applied to what stands on the page gives the source."""
    return squeeze(get_display(line, base_dir="R" if right_to_left else "L"))


def line_with(lines: list[str], fragment: str) -> str:
    """The one line that holds `fragment` (compared squeezed, in either order)."""
    wanted = squeeze(fragment)
    found = [line for line in lines if wanted in squeeze(line) or wanted[::-1] in squeeze(line)]
    assert len(found) == 1, f"{len(found)} lines hold {fragment!r}: {found}"
    return found[0]


def structure(pdf: pikepdf.Pdf) -> list[pikepdf.Dictionary]:
    """Every structure element, depth first."""
    found: list[pikepdf.Dictionary] = []

    def walk(node: object) -> None:
        if isinstance(node, pikepdf.Array):
            for child in node:
                walk(child)
        elif isinstance(node, pikepdf.Dictionary) and "/S" in node:
            found.append(node)
            walk(node.get("/K"))

    walk(pdf.Root.StructTreeRoot.get("/K"))
    return found


def marked_content(pdf: pikepdf.Pdf, element: pikepdf.Dictionary) -> list[tuple[int, int]]:
    """(page, MCID) of the content below a structure element."""
    pages = {page.objgen: number for number, page in enumerate(pdf.pages)}
    found: list[tuple[int, int]] = []

    def walk(node: object, page: int | None) -> None:
        if isinstance(node, pikepdf.Dictionary):
            if "/Pg" in node:
                page = pages.get(node.Pg.objgen, page)
            if "/MCID" in node:  # a marked-content reference
                found.append((page or 0, int(node.MCID)))
            elif "/S" in node:
                walk(node.get("/K"), page)
        elif isinstance(node, pikepdf.Array):
            for child in node:
                walk(child, page)
        elif isinstance(node, int):
            found.append((page or 0, int(node)))

    walk(element, None)
    return found


def element_text(pdf: pikepdf.Pdf, element: pikepdf.Dictionary, glyphs: list[Glyph]) -> str:
    """The letters drawn for a structure element, squeezed, in the order they were drawn."""
    wanted = set(marked_content(pdf, element))
    return squeeze("".join(g.text for g in glyphs if (g.page, g.mcid) in wanted))


def letters(text: str) -> list[str]:
    """The letters of a text, in any order: to find the element that draws it."""
    return sorted(c for c in squeeze(text) if c.isalpha())


def pdf_text(pdf: bytes, *, layout: bool = False) -> str:
    """The PDF's text as pdftotext reads it (poppler-utils; .ci/run installs it)."""
    command = ["pdftotext", *(["-layout"] if layout else []), "-", "-"]
    return subprocess.run(command, input=pdf, capture_output=True, check=True).stdout.decode()
