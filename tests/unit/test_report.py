"""The year report built from what residents and coordinators really did: the figures, every
recommendation with its outcome and reason, nobody named, contact details masked, in every
format; and `/outcomes`, which shows residents the same decisions."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest
from openpyxl import load_workbook

from bot.app import App
from bot.report import build_report
from handlers.public_text import public_text
from handlers.report.document import Decision, Entry, Quote, Section, Table
from handlers.report.year import year_report
from testkit.support import FakeClock, Resident

EMAIL = "amira.haddad@example.org"
PHONE = "0171 2345678"


@pytest.fixture
async def year(coordination: App, clock: FakeClock) -> App:
    """Four items of 2026 from three residents; Cora (uag-bildung) decides on two."""
    app = coordination
    alice, bob, carla = (Resident(app.handle, n) for n in ("alice", "bob", "carla"))
    await alice.submit(f"Abendkurse Deutsch für Berufstätige, Rückfragen an {EMAIL}")  # 0001
    await bob.submit(
        "Kita-Plätze für Kinder in Sprachkursen", anonymity="Mit meinem Namen"
    )  # 0002
    await carla.submit(
        "Warum dauert die Anerkennung so lange?", kind="Frage", field="Arbeit und Ausbildung"
    )  # 0003
    await alice.submit(f"Ein Elterncafé in der Nordstadt, Tel. {PHONE}")  # 0004
    cora = Resident(app.handle, "cora")
    clock.advance(timedelta(days=3))
    await cora.command("/state F-2026-0001 implemented Die VHS bietet ab März zwei Abendkurse an.")
    clock.advance(timedelta(days=2))
    await cora.command("/state F-2026-0002 declined Dafür ist das Land zuständig.")
    await cora.command("/state F-2026-0001 closed")  # closing keeps the outcome
    clock.advance(timedelta(days=30))  # the rest is overdue now (14 days to answer)
    return app


async def test_figures_match_what_happened(year: App) -> None:
    assert year.deps is not None
    document, figures = await year_report(year.deps, 2026)

    assert figures.total == 4
    assert figures.by_kind == {"suggestion": 3, "question": 1}
    assert figures.by_field() == {"bildung": 3, "arbeit": 1}
    assert figures.by_state() == {"closed": 1, "declined": 1, "received": 2}
    assert sorted(i.reference for i in figures.overdue) == ["F-2026-0003", "F-2026-0004"]
    outcomes = {r.reference: (r.state, r.note) for r in figures.recommendations}
    assert outcomes == {
        "F-2026-0001": ("implemented", "Die VHS bietet ab März zwei Abendkurse an."),
        "F-2026-0002": ("declined", "Dafür ist das Land zuständig."),
        "F-2026-0004": ("received", None),
    }
    assert document.draft  # 2026 is not over on the test clock


async def test_every_recommendation_appears_with_outcome_and_reason(year: App) -> None:
    assert year.deps is not None
    document, _ = await year_report(year.deps, 2026)
    section = next(s for s in document.sections if s.title.startswith("Empfehlungen"))
    (field,) = section.subsections
    parts = {part.title: part.blocks for part in field.subsections}
    assert list(parts) == ["Umgesetzt", "Abgelehnt", "Noch nicht entschieden"]
    (implemented,), (declined,) = parts["Umgesetzt"], parts["Abgelehnt"]
    assert isinstance(implemented, Decision) and isinstance(declined, Decision)
    assert implemented.reason == Quote("Die VHS bietet ab März zwei Abendkurse an.", "de")
    assert declined.reason == Quote("Dafür ist das Land zuständig.", "de")
    (done,), (no,) = implemented.entries, declined.entries
    assert done.heading.startswith("F-2026-0001 · ") and "umgesetzt (am " in done.heading
    assert done.text.text == "Abendkurse Deutsch für Berufstätige, Rückfragen an […]"
    assert no.heading.startswith("F-2026-0002 · ") and "abgelehnt (am " in no.heading
    (waiting,) = [b for b in parts["Noch nicht entschieden"] if isinstance(b, Entry)]
    assert waiting.heading.startswith("F-2026-0004 · ") and "eingegangen" in waiting.heading
    assert waiting.note is None
    summary = next(b for b in section.blocks if isinstance(b, Table))
    assert [tuple(map(str, row)) for row in summary.rows] == [
        ("Bildung und Sprache", "3", "1", "1", "0", "1", "0", "0", "0")
    ]


def _all_text(section: Section) -> str:
    parts = [section.title]
    for block in section.blocks:
        parts.append(str(block))
    parts += [_all_text(sub) for sub in section.subsections]
    return "\n".join(parts)


@pytest.mark.parametrize("fmt", ["md", "html", "csv", "xlsx"])
async def test_no_format_names_a_resident_or_leaks_contact_details(year: App, fmt: str) -> None:
    assert year.deps is not None
    report = await build_report(year.deps, 2026, fmt)
    if fmt == "xlsx":
        book = load_workbook(io.BytesIO(report.data), read_only=True)
        cells = [
            c
            for sheet in book.worksheets
            for row in sheet.iter_rows(values_only=True)
            for c in row
        ]
        text = "\n".join(str(c) for c in cells if c is not None)
    else:
        text = report.data.decode("utf-8")
    text += "".join(data.decode("utf-8-sig") for data in report.appendix.values())

    for secret in ("Alice", "Bob", "Carla", "u-alice", "u-bob", "c-carla", EMAIL, PHONE):
        assert secret not in text, f"{secret!r} in the {fmt} report"
    assert "Abendkurse Deutsch für Berufstätige, Rückfragen an […]" in text
    assert "Dafür ist das Land zuständig." in text


async def test_csv_has_one_row_per_item_with_the_report_s_figures(year: App) -> None:
    assert year.deps is not None
    report = await build_report(year.deps, 2026, "csv")
    rows = list(csv.DictReader(io.StringIO(report.data.decode("utf-8-sig"))))

    assert [r["reference"] for r in rows] == [f"F-2026-000{n}" for n in (1, 2, 3, 4)]
    first = rows[0]
    assert (first["kind"], first["field_of_action"], first["state"]) == (
        "suggestion",
        "bildung",
        "closed",
    )
    assert first["first_answered_at"].startswith("2026-06-18")  # implemented: answered
    assert first["answered_in_time"] == "yes"
    assert rows[3]["first_answered_at"] == "" and rows[3]["answered_in_time"] == ""
    assert first["working_group_note"] == "Die VHS bietet ab März zwei Abendkurse an."
    assert rows[2]["recommendation"] == ""  # only recommendations carry their text


async def test_markdown_brings_its_charts_as_pictures(year: App) -> None:
    assert year.deps is not None
    report = await build_report(year.deps, 2026, "md", stem="bericht")
    text = report.data.decode("utf-8")

    assert set(report.images) == {"bericht-by-field.png", "bericht-by-month.png"}
    for png in report.images.values():
        assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 5_000
    assert "![Balkendiagramm der Rückmeldungen je Handlungsfeld: Bildung und Sprache 3, " in text
    assert "](bericht-by-field.png)" in text


async def test_a_finished_year_is_no_draft(year: App, clock: FakeClock) -> None:
    assert year.deps is not None
    clock.set(datetime(2027, 1, 10, tzinfo=UTC))
    document, figures = await year_report(year.deps, 2026)
    assert not document.draft
    assert figures.total == 4
    _, nothing = await year_report(year.deps, 2025)
    assert nothing.total == 0 and not nothing.recommendations


async def test_the_report_speaks_the_language_asked_for(year: App) -> None:
    assert year.deps is not None
    document, _ = await year_report(year.deps, 2026, language="en")
    assert document.language == "en"
    by_field = next(s for s in document.sections if s.key == "fields")
    assert "Bildung" not in _all_text(by_field)  # field names in English
    assert "Education and language" in _all_text(by_field)
    arabic, _ = await year_report(year.deps, 2026, language="ar")
    assert arabic.right_to_left


@pytest.mark.parametrize(
    ("written", "published"),
    [
        ("Schreiben Sie an a.yilmaz@example.org bitte", "Schreiben Sie an […] bitte"),
        ("Tel. +49 (0)171 234-5678 abends", "Tel. […] abends"),
        ("ruf an: 0171/2345678", "ruf an: […]"),
        ("Matrix: @amira:example.org oder Telegram @amira_h", "Matrix: […] oder Telegram […]"),
        ("Im Jahr 2026 gab es 3 Kurse in der Hausnummer 12", None),  # unchanged
    ],
)
def test_published_text_masks_contact_details(written: str, published: str | None) -> None:
    assert public_text(written) == (published or written)


def test_published_text_is_shortened_at_a_word() -> None:
    assert public_text("eins zwei drei vier", limit=12) == "eins zwei …"


# ---- /outcomes ---------------------------------------------------------------------------


async def test_outcomes_lists_decisions_per_field_with_reasons(year: App) -> None:
    dana = Resident(year.handle, "dana")
    await dana.command("/outcomes")

    assert "Bildung und Sprache: 1 umgesetzt, 1 abgelehnt" in dana.last_text
    assert dana.choices == ["Bildung und Sprache"]
    await dana.press("Bildung und Sprache")
    text = dana.last_text
    assert text.index("F-2026-0002") < text.index("F-2026-0001")  # latest decision first
    assert "Begründung: Dafür ist das Land zuständig." in text
    assert "„Abendkurse Deutsch für Berufstätige, Rückfragen an […]“" in text
    assert "F-2026-0004" not in text  # not decided yet
    assert "Alice" not in text and "Bob" not in text


async def test_outcomes_pages_through_many_decisions(coordination: App, clock: FakeClock) -> None:
    resident, cora = Resident(coordination.handle, "rosa"), Resident(coordination.handle, "cora")
    for n in range(1, 8):
        await resident.submit(f"Vorschlag Nummer {n}")
        await cora.command(f"/state F-2026-000{n} implemented Umgesetzt als Nummer {n}.")
        clock.advance(timedelta(minutes=1))  # under the flood limit
    reader = Resident(coordination.handle, "dana")

    await reader.command("/outcomes bildung")
    first_page = reader.last_text
    await reader.press("Weitere")
    second_page = reader.last_text

    assert [f"Nummer {n}." in first_page for n in range(7, 0, -1)] == [True] * 5 + [False] * 2
    assert "Nummer 2." in second_page and "Nummer 1." in second_page
    assert "Nummer 3." not in second_page
    assert reader.choices == []  # nothing further


async def test_outcomes_before_any_decision_and_for_an_unknown_field(app: App) -> None:
    dana = Resident(app.handle, "dana")
    await dana.command("/outcomes")
    assert "Noch wurde kein Vorschlag umgesetzt oder abgelehnt" in dana.last_text
    await dana.command("/outcomes Raumfahrt")
    assert "Dieses Handlungsfeld kenne ich nicht" in dana.last_text
    assert "Bildung und Sprache" in dana.last_text


async def test_a_reopened_recommendation_leaves_the_outcomes(year: App) -> None:
    cora = Resident(year.handle, "cora")
    await cora.command("/state F-2026-0002 in_progress")
    dana = Resident(year.handle, "dana")
    await dana.command("/outcomes bildung")
    assert "F-2026-0002" not in dana.last_text
    assert "F-2026-0001" in dana.last_text
