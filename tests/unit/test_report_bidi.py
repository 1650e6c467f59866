"""The year report in mixed scripts, read back from the PDF as its readers meet it: each
quote in its own direction and language, dates and references that keep their order in a
right-to-left sentence, section bookmarks, metadata without invisible characters, and the
Arabic report's charts with joined letters, mirrored for a right-to-left reader."""

from __future__ import annotations

import shutil
import unicodedata
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pikepdf
import pytest
from fontTools.ttLib import TTFont
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.font_manager import findfont, get_font
from matplotlib.textpath import TextToPath

from bot.app import App
from bot.report import build_report
from bot.report.charts import chart_figure
from handlers.report.document import Decision, Entry, ReportDocument, Section, plain
from handlers.report.year import year_report
from testkit.support import FakeClock, Resident
from tests.report_support import (
    element_text,
    letters,
    line_with,
    logical,
    read_glyphs,
    shown,
    squeeze,
    structure,
    visual_lines,
)

GERMAN = "Abendkurse Deutsch für Berufstätige."
ARABIC = "نقترح دروس لغة مسائية للعاملين!"
GERMAN_BY_ARABIC_SPEAKER = "Mehr Sprachcafés in der Nordstadt, bitte."
REASON = "Die VHS bietet ab März zwei Abendkurse an."
ISOLATE_CHARS = set("\u2066\u2067\u2068\u2069")

pytestmark = pytest.mark.skipif(shutil.which("pdftoppm") is None, reason="needs poppler")


@pytest.fixture
async def mixed(coordination: App, clock: FakeClock) -> App:
    """A German and an Arabic suggestion of 1 February 2026, decided two days later, and a
    German one from a resident who reads the bot in Arabic."""
    app = coordination
    clock.set(datetime(2026, 2, 1, 10, tzinfo=UTC))
    await Resident(app.handle, "alice").submit(GERMAN)  # F-2026-0001
    amira = Resident(app.handle, "amira", language_code="ar")
    arabic = {"kind": "اقتراح", "field": "التعليم واللغة", "anonymity": "دون ذكر اسمي"}
    await amira.submit(ARABIC, confirm="إرسال", **arabic)  # F-2026-0002
    await amira.submit(GERMAN_BY_ARABIC_SPEAKER, confirm="إرسال", **arabic)  # F-2026-0003
    clock.advance(timedelta(days=2))
    cora = Resident(app.handle, "cora")
    await cora.command(f"/state F-2026-0001 implemented {REASON}")
    await cora.command("/state F-2026-0002 declined Dafür ist das Land zuständig.")
    return app


async def pdf_of(app: App, language: str, tmp_path: Path) -> Path:
    report = await build_report(app.deps, 2026, "pdf", language=language)
    path = tmp_path / f"report-{language}.pdf"
    path.write_bytes(report.data)
    return path


def entries(document: ReportDocument) -> dict[str, Entry]:
    """The quoted recommendations by reference."""
    found: dict[str, Entry] = {}

    def walk(section: Section) -> None:
        for block in section.blocks:
            for entry in block.entries if isinstance(block, Decision) else [block]:
                if isinstance(entry, Entry):
                    found[squeeze(entry.heading).split("·")[0]] = entry
        for sub in section.subsections:
            walk(sub)

    for section in document.sections:
        walk(section)
    return found


async def test_each_quote_and_heading_reads_in_its_own_direction(
    mixed: App, tmp_path: Path
) -> None:
    arabic_report, _ = await year_report(mixed.deps, 2026, language="ar")
    arabic_lines = visual_lines(read_glyphs(await pdf_of(mixed, "ar", tmp_path)))
    german_lines = visual_lines(read_glyphs(await pdf_of(mixed, "de", tmp_path)))

    # In the Arabic report a German quote is a left-to-right paragraph: the full stop ends it.
    german = line_with(arabic_lines, "Abendkurse Deutsch")
    assert squeeze(german) == shown(GERMAN, right_to_left=False) == squeeze(GERMAN)
    assert logical(german, right_to_left=False) == squeeze(GERMAN)
    # In the German report an Arabic quote is a right-to-left paragraph: "!" ends it, on the
    # left; read back in logical order, it is what the resident wrote.
    arabic = line_with(german_lines, "دروس لغة")
    assert squeeze(arabic) == shown(ARABIC, right_to_left=True)
    assert logical(arabic, right_to_left=True) == squeeze(ARABIC)
    # A heading in the Arabic report: the reference and the date are runs of their own, so
    # the day stands beside its month ("1 فبراير 2026"), not beside the reference.
    heading = entries(arabic_report)["F-2026-0002"].heading
    assert "F-2026-0002" in heading and "1 فبراير 2026" in heading
    on_page = line_with(arabic_lines, "F-2026-0002")
    assert squeeze(on_page) == shown(heading, right_to_left=True)
    assert squeeze(on_page).endswith("1·F-2026-0002")  # read from the right: reference, day


async def test_quotes_carry_their_language_in_the_tagged_pdf(mixed: App, tmp_path: Path) -> None:
    for report_language, quotes in (
        ("ar", {GERMAN: "de", ARABIC: "ar", GERMAN_BY_ARABIC_SPEAKER: "de", REASON: "de"}),
        ("de", {GERMAN: "de", ARABIC: "ar", GERMAN_BY_ARABIC_SPEAKER: "de"}),
    ):
        path = await pdf_of(mixed, report_language, tmp_path)
        glyphs = read_glyphs(path)
        with pikepdf.open(path) as pdf:
            assert str(pdf.Root.Lang) == report_language
            marked = {
                tuple(letters(element_text(pdf, e, glyphs))): str(e.Lang)
                for e in structure(pdf)
                if "/Lang" in e
            }
        for quote, language in quotes.items():
            assert marked.get(tuple(letters(quote))) == language, (report_language, quote)


async def test_bookmarks_metadata_and_alternative_texts(mixed: App, tmp_path: Path) -> None:
    document, _ = await year_report(mixed.deps, 2026, language="ar")
    with pikepdf.open(await pdf_of(mixed, "ar", tmp_path)) as pdf:
        with pdf.open_outline() as outline:
            top = [(item.title, [c.title for c in item.children]) for item in outline.root]
        with pdf.open_metadata() as xmp:
            metadata = [str(xmp.get("dc:title")), str(xmp.get("dc:description"))]
        metadata += [str(pdf.docinfo.Title), str(pdf.docinfo.Subject)]
        alternatives = [str(e.Alt) for e in structure(pdf) if "/Alt" in e]

    # One bookmark per section (H2), with one per subsection (H3) under it.
    assert [title for title, _ in top] == [plain(s.title) for s in document.sections]
    for (_, children), section in zip(top, document.sections, strict=True):
        assert children == [plain(sub.title) for sub in section.subsections]
    recommendations = next(s for s in document.sections if s.key == "recommendations")
    assert [sub.title for sub in recommendations.subsections] == ["التعليم واللغة"]
    texts = [title for title, children in top for title in (title, *children)]
    texts += metadata + alternatives
    assert str(pdf_title := metadata[2]).startswith("ملاحظات السكان لعام 2026"), pdf_title
    assert len(alternatives) == 2
    assert not [t for t in texts if ISOLATE_CHARS & set(t)]


async def test_arabic_chart_labels_are_joined_in_reading_order_and_mirrored(
    mixed: App,
) -> None:
    document, _ = await year_report(mixed.deps, 2026, language="ar")
    chart = next(c for c in document.charts() if c.key == "by-field")
    figure = chart_figure(chart)
    canvas = FigureCanvasAgg(figure)
    canvas.draw()
    (axes,) = figure.axes
    labels = [t for t in axes.get_yticklabels() if t.get_text()]
    assert [t.get_text() for t in labels] == chart.categories

    renderer = canvas.get_renderer()
    plot = axes.get_window_extent(renderer)
    for label in labels:  # the field names stand right of the bars, as an Arabic reader reads
        assert label.get_window_extent(renderer).x0 >= plot.x1 - 1
    bars = [p.get_x() + p.get_width() for p in axes.patches]  # bars grow to the left
    assert axes.xaxis_inverted() and max(bars) > 0

    path = findfont(labels[0].get_fontproperties())
    font, names = get_font(path), TTFont(path).getGlyphOrder()
    font.set_size(10, 72)
    for label in labels:
        text = label.get_text()
        glyphs, _, _ = TextToPath().get_glyphs_with_font(font, text, language="ar")
        shapes = [(x, names[int(key.rsplit("-", 1)[1], 16)]) for key, x, _y, _s in glyphs]
        # Joined letters: initial, medial and final forms (Arabic Presentation Forms-B).
        joined = [n for _x, n in shapes if n.startswith("uniFE")]
        assert len(joined) >= len(text.replace(" ", "")) // 2, (text, shapes)
        # Read from right to left, the glyphs give the label as written.
        read = "".join(
            unicodedata.normalize("NFKC", chr(int(name[3:7], 16)))
            for _x, name in sorted(shapes, reverse=True)
            if name.startswith("uni")
        )
        assert read == text.replace(" ", ""), (text, read)
