"""The year report as a spreadsheet, for the office's analyses in any locale: one sheet per
section, numbers as numbers, shares as percentages, dates as dates, headers and values in the
report's language; every item and every recommendation listed; a resident's text never
becomes a formula. (The CSV stays for programs, with its keys and codes: test_report.py.)"""

from __future__ import annotations

import io
from datetime import datetime, timedelta

import pytest
from openpyxl import load_workbook

from bot.app import App
from bot.report import build_report
from handlers.report.document import plain
from handlers.report.year import year_report
from testkit.support import FakeClock, Resident

FORMULA = '=HYPERLINK("https://example.org","Mehr Kurse")'


@pytest.fixture
async def year(coordination: App, clock: FakeClock) -> App:
    app = coordination
    await Resident(app.handle, "alice").submit("Abendkurse Deutsch für Berufstätige")  # 0001
    await Resident(app.handle, "carla").submit(
        "Wo finde ich einen B1-Kurs?", kind="Frage", field="Arbeit und Ausbildung"
    )  # 0002
    await Resident(app.handle, "dana").submit(FORMULA)  # 0003
    clock.advance(timedelta(days=2))
    await Resident(app.handle, "cora").command(
        "/state F-2026-0001 implemented Die VHS bietet ab März Abendkurse an."
    )
    return app


async def test_one_typed_sheet_per_section_in_the_report_language(year: App) -> None:
    report = await build_report(year.deps, 2026, "xlsx", language="en")
    assert report.file_name == "mitreden-report-2026.xlsx"
    assert report.mime_type.endswith("spreadsheetml.sheet")
    book = load_workbook(io.BytesIO(report.data))
    document, _ = await year_report(year.deps, 2026, language="en")

    assert book.sheetnames == [plain(s.title)[:31] for s in document.sections] + [
        "All feedback 2026"
    ]
    overview = book["Overview"]
    rows = list(overview.iter_rows())
    header = next(r for r in rows if r[0].value == "Type")
    assert [c.value for c in header] == ["Type", "2026", "Share", "2025", "Change"]
    suggestion = next(r for r in rows if r[0].value == "Suggestion")
    count, share = suggestion[1], suggestion[2]
    assert count.value == 2 and count.data_type == "n"
    assert share.value == pytest.approx(2 / 3) and "%" in share.number_format

    items = list(book["All feedback 2026"].iter_rows(values_only=True))
    assert items[1][:4] == ("Reference", "Received on", "Type", "Field of action")
    first = items[2]
    assert first[0] == "F-2026-0001" and isinstance(first[1], datetime)
    assert first[2:4] == ("Suggestion", "Education and language")
    assert first[7] == "implemented"
    assert isinstance(first[9], datetime) and first[11] is True  # answered, in time
    assert len(items) == 2 + 3

    listing = list(book[plain(document.sections[6].title)[:31]].iter_rows())
    at = next(i for i, r in enumerate(listing) if r[0].value == "All suggestions 2026")
    decided = listing[at + 2]
    assert decided[0].value == "F-2026-0001" and isinstance(decided[1].value, datetime)
    assert isinstance(decided[4].value, datetime)  # decided on
    assert decided[8].value == "Die VHS bietet ab März Abendkurse an."
    formula = next(r for r in listing[at + 2 :] if r[0].value == "F-2026-0003")
    assert formula[6].value == FORMULA and formula[6].data_type == "s"  # text, not a formula


async def test_a_right_to_left_report_has_right_to_left_sheets(year: App) -> None:
    report = await build_report(year.deps, 2026, "xlsx", language="ar")
    book = load_workbook(io.BytesIO(report.data))
    assert all(sheet.sheet_view.rightToLeft for sheet in book.worksheets)
    items = list(book.worksheets[-1].iter_rows(values_only=True))
    assert items[2][2] == "اقتراح"  # the kind in Arabic
