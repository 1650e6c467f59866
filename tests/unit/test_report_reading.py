"""The year report as a council member reads it: a first page of findings computed from the
data and compared with the same span of the year before, tables with year-over-year columns
and captions that say what they show, numbers right-aligned, what the working group answered
to a suggestion it has not decided yet, and "overdue" only for what expects an answer."""

from __future__ import annotations

import shutil
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pikepdf
import pytest

from bot.app import App
from bot.demo.year import seed_demo
from bot.report import build_report
from handlers.report.document import (
    Decision,
    Entry,
    Findings,
    ReportDocument,
    Section,
    Table,
    plain,
)
from handlers.report.year import year_report
from storage.report import EXPECTS_ANSWER
from testkit.support import FakeClock, Resident
from tests.report_support import Glyph, read_glyphs

pytestmark = pytest.mark.skipif(shutil.which("pdftotext") is None, reason="needs poppler")

ANSWER = "Wir prüfen das mit den Grundschulen."
DECLINED = "Dafür ist das Land zuständig."


@pytest.fixture
async def two_years(coordination: App, clock: FakeClock) -> App:
    """March 2025: two items (one suggestion implemented); March 2026: four suggestions and
    a praise in Bildung und Sprache, one implemented, one declined, one answered, and an
    unanswered question; the report is made on 1 April 2026."""
    app = coordination
    cora = Resident(app.handle, "cora")
    clock.set(datetime(2025, 3, 2, 10, tzinfo=UTC))
    await Resident(app.handle, "bob").submit("Mehr Deutschkurse im Westen.")  # F-2025-0001
    await Resident(app.handle, "carla").submit(
        "Wie lange dauert die Anerkennung?", kind="Frage", field="Arbeit und Ausbildung"
    )  # F-2025-0002
    await cora.command("/state F-2025-0001 implemented Zwei neue Kurse im Westen.")
    clock.set(datetime(2026, 3, 2, 10, tzinfo=UTC))
    await Resident(app.handle, "alice").submit("Abendkurse Deutsch für Berufstätige")  # 0001
    await Resident(app.handle, "bob").submit("Kita-Plätze für Kinder in Sprachkursen")  # 0002
    await Resident(app.handle, "dora").submit("Danke für den Sprachtreff!", kind="Lob")  # 0003
    await Resident(app.handle, "erik").submit("Ein Elterncafé in der Nordstadt")  # 0004
    await Resident(app.handle, "fatma").submit("Wann öffnet das Bürgerbüro?", kind="Frage")  # 0005
    clock.advance(timedelta(days=1))
    await cora.command("/state F-2026-0001 implemented Die VHS bietet ab März Abendkurse an.")
    await cora.command(f"/state F-2026-0002 declined {DECLINED}")
    await cora.command(f"/reply F-2026-0004 {ANSWER}")
    clock.set(datetime(2026, 4, 1, 10, tzinfo=UTC))  # the praise and the question are past due
    return app


def tables(document: ReportDocument) -> list[Table]:
    found: list[Table] = []

    def walk(section: Section) -> None:
        found.extend(b for b in section.blocks if isinstance(b, Table))
        for sub in section.subsections:
            walk(sub)

    for section in document.sections:
        walk(section)
    return found


def cells(table: Table) -> list[tuple[str, ...]]:
    return [tuple(str(c) for c in row) for row in table.rows]


def pdf_text(path: Path, first: int | None = None, last: int | None = None) -> str:
    pages = [*(["-f", str(first)] if first else []), *(["-l", str(last)] if last else [])]
    text = subprocess.run(
        ["pdftotext", *pages, str(path), "-"], capture_output=True, text=True, check=True
    ).stdout
    return " ".join(text.split())


async def test_the_first_page_gives_the_findings_against_the_year_before(
    two_years: App, tmp_path: Path
) -> None:
    document, _ = await year_report(two_years.deps, 2026)
    findings = document.sections[0]
    assert findings.title == "Das Wichtigste in Kürze"
    (basis, listed, key_figures) = findings.blocks
    assert str(basis).find("1. Jan. 2025 bis 1. Apr. 2025") > 0
    assert isinstance(listed, Findings)
    sentences = [plain(s) for s in listed.items]
    assert sentences[0] == (
        "Rückmeldungen: 5, davon Vorschläge: 3. Im gleichen Zeitraum des Vorjahres: 2 (+150 %)."
    )
    assert "Personen, die geschrieben haben: 5. Vorjahr: 2." in sentences
    assert "Am stärksten zugenommen hat Bildung und Sprache: 5 statt 1 (+400 %)." in sentences
    assert "Am stärksten abgenommen hat Arbeit und Ausbildung: 0 statt 1 (−100 %)." in sentences
    assert (
        "Vorschläge umgesetzt: 1, abgelehnt: 1, noch nicht entschieden: 1. "
        "Vorjahr: umgesetzt 1, abgelehnt 0." in sentences
    )
    assert "Ohne erste Antwort über der Frist, Stand 1. Apr. 2026: 1." in sentences
    assert isinstance(key_figures, Table)
    assert key_figures.header == ("Kennzahl", "2026", "2025", "Veränderung")
    assert cells(key_figures)[0] == ("Rückmeldungen", "5", "2", "+150 %")

    report = await build_report(two_years.deps, 2026, "pdf")
    path = tmp_path / report.file_name
    path.write_bytes(report.data)
    first_page = pdf_text(path, 1, 1)
    assert "Das Wichtigste in Kürze" in first_page
    assert "Rückmeldungen: 5, davon Vorschläge: 3." in first_page
    assert "Kennzahlen 2026 im Vergleich zum Vorjahr" in first_page


async def test_sections_compare_with_the_year_before_under_captions_that_say_what(
    two_years: App,
) -> None:
    document, _ = await year_report(two_years.deps, 2026)
    by_kind = next(t for t in tables(document) if t.caption == "Rückmeldungen 2026 nach Art")
    assert by_kind.header == ("Art", "2026", "Anteil", "2025", "Veränderung")
    assert ("Vorschlag", "3", "60 %", "1", "+200 %") in cells(by_kind)
    assert ("Frage", "1", "20 %", "1", "±0 %") in cells(by_kind)
    by_field = next(t for t in tables(document) if t.caption.startswith("Rückmeldungen 2026 je"))
    assert by_field.header[-2:] == ("2025", "Veränderung")

    for table in tables(document):  # a caption is a title, not the first column's name
        assert plain(table.caption) not in table.header, table.caption
        assert len(table.caption.split()) >= 3, table.caption
        assert all(len(row) == len(table.header) for row in table.rows), table.caption


async def test_an_answered_suggestion_shows_the_answer_and_decisions_their_reason(
    two_years: App, tmp_path: Path
) -> None:
    document, _ = await year_report(two_years.deps, 2026)
    section = next(s for s in document.sections if s.key == "recommendations")
    (field,) = section.subsections
    parts = {part.title: part for part in field.subsections}
    assert list(parts) == ["Umgesetzt", "Abgelehnt", "Noch nicht entschieden"]
    (declined,) = parts["Abgelehnt"].blocks
    assert isinstance(declined, Decision) and declined.reason is not None
    assert declined.reason.text == DECLINED and declined.reason.language == "de"
    assert [e.heading.split(" · ")[0] for e in declined.entries] == ["F-2026-0002"]
    undecided = [b for b in parts["Noch nicht entschieden"].blocks if isinstance(b, Entry)]
    (answered,) = [e for e in undecided if e.heading.startswith("F-2026-0004")]
    assert answered.note is not None and answered.note.text == ANSWER
    assert answered.note_label == "Antwort der Arbeitsgruppe"

    report = await build_report(two_years.deps, 2026, "pdf")
    path = tmp_path / report.file_name
    path.write_bytes(report.data)
    text = pdf_text(path)
    assert f"Antwort der Arbeitsgruppe: {ANSWER}" in text
    assert f"Begründung der Arbeitsgruppe: {DECLINED}" in text


async def test_praise_is_never_overdue(two_years: App) -> None:
    document, figures = await year_report(two_years.deps, 2026)
    assert [i.reference for i in figures.overdue] == ["F-2026-0005"]  # not the praise 0003
    assert {i.kind for i in figures.overdue} <= set(EXPECTS_ANSWER)
    overdue = next(s for s in document.sections if s.key == "overdue")
    listed = [t for t in overdue.blocks if isinstance(t, Table)][-1]
    assert [row[0] for row in cells(listed)] == ["F-2026-0005"]
    assert "Lob erwartet keine Antwort" in " ".join(
        str(b.text) for b in overdue.blocks if hasattr(b, "text")
    )


def _cells_of_line(glyphs: list[Glyph]) -> list[tuple[str, float, float]]:
    """The cells of a table row as they stand: glyph runs split where the gap is wide."""
    runs: list[list[Glyph]] = []
    for glyph in sorted(glyphs, key=lambda g: g.x0):
        if runs and glyph.x0 - runs[-1][-1].x1 < 6:
            runs[-1].append(glyph)
        else:
            runs.append([glyph])
    return [("".join(g.text for g in run).strip(), run[0].x0, run[-1].x1) for run in runs]


@pytest.mark.parametrize("language", ["de", "ar"])
async def test_numbers_stand_right_aligned_under_their_header(
    two_years: App, tmp_path: Path, language: str
) -> None:
    report = await build_report(two_years.deps, 2026, "pdf", language=language)
    path = tmp_path / report.file_name
    path.write_bytes(report.data)
    lines: dict[tuple[int, int], list[Glyph]] = {}
    for glyph in read_glyphs(path):
        lines.setdefault((glyph.page, round(glyph.y0)), []).append(glyph)
    ordered = [_cells_of_line(lines[k]) for k in sorted(lines, key=lambda k: (k[0], -k[1]))]
    # The key figures' table: its header names both years; its first row follows.
    at = next(i for i, row in enumerate(ordered) if {"2026", "2025"} <= {c for c, _, _ in row})
    header, first = ordered[at], ordered[at + 1]
    edges = {text: right for text, _left, right in header}
    numbers = {text: right for text, _left, right in first}
    assert abs(numbers["5"] - edges["2026"]) < 0.6, (header, first)
    assert abs(numbers["2"] - edges["2025"]) < 0.6, (header, first)


async def test_a_large_year_stays_a_readable_pdf_with_the_full_list_in_its_appendix(
    app: App, tmp_path: Path
) -> None:
    """4,000 items (1,400 recommendations): the PDF stays short; the appendix, which it names,
    lists every recommendation; every reason given for a decision is in the PDF."""
    now = datetime(2026, 11, 24, 12, tzinfo=UTC)
    summary = await seed_demo(app.db, year=2026, items=4_000, now=now, zone=app.deps.zone)
    assert summary.items == 4_000
    clock = app.deps.clock
    assert isinstance(clock, FakeClock)
    clock.set(now)
    report = await build_report(app.deps, 2026, "pdf", stem="bericht")
    path = tmp_path / report.file_name
    path.write_bytes(report.data)
    text = pdf_text(path)
    with pikepdf.open(path) as pdf:
        pages = len(pdf.pages)
    assert pages <= 60
    assert set(report.appendix) == {"bericht-appendix.html", "bericht-appendix.csv"}
    assert "bericht-appendix.html" in text and "bericht-appendix.csv" in text

    _, figures = await year_report(app.deps, 2026)
    references = [r.reference for r in figures.recommendations]
    assert len(references) > 1_000
    listing = report.appendix["bericht-appendix.csv"].decode("utf-8-sig").splitlines()
    assert [line.split(",", 1)[0] for line in listing[1:]] == references
    html = report.appendix["bericht-appendix.html"].decode("utf-8")
    assert all(reference in html for reference in references)
    reasons = {
        " ".join(r.note.split()) for r in figures.recommendations if r.decided_at and r.note
    }
    assert reasons and all(reason in text for reason in reasons)
