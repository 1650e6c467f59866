"""The report's figures against plain SQL counts on a seeded year (bot.demo.year), on SQLite and on
PostgreSQL: what the council reads must be what the database holds."""

from __future__ import annotations

import statistics
from collections import Counter
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import text

from bot.app import group_specs
from bot.config import Settings
from bot.demo.year import seed_demo
from storage.db import Database
from storage.report import ReportStore, YearFigures
from storage.store import Store

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
BERLIN = ZoneInfo("Europe/Berlin")
ITEMS = 1_200


@pytest.fixture
async def seeded(backend: Database, settings: Settings) -> YearFigures:
    await Store.over(backend).groups.sync_from_config(*group_specs(settings))
    summary = await seed_demo(backend, year=2026, items=ITEMS, now=NOW)
    assert summary.items == ITEMS
    start = datetime(2026, 1, 1, tzinfo=BERLIN)
    return await ReportStore(backend).year_figures(start, start.replace(year=2027), NOW)


async def sql(db: Database, query: str) -> list[Any]:
    async with db.engine.connect() as connection:
        return [tuple(row) for row in (await connection.execute(text(query))).all()]


async def grouped(db: Database, column: str, where: str = "1=1") -> dict[Any, int]:
    rows = await sql(
        db, f"SELECT {column}, COUNT(*) FROM feedback_item WHERE {where} GROUP BY {column}"
    )
    return {key: n for key, n in rows}


async def test_counts_by_every_dimension(backend: Database, seeded: YearFigures) -> None:
    assert (
        seeded.total == ITEMS == (await sql(backend, "SELECT COUNT(*) FROM feedback_item"))[0][0]
    )
    assert seeded.by_kind == await grouped(backend, "kind")
    assert seeded.by_state() == await grouped(backend, "state")
    assert seeded.by_field() == await grouped(backend, "field_key")
    assert seeded.by_platform == await grouped(backend, "platform")
    assert seeded.by_language == await grouped(backend, "language")
    assert seeded.by_group == await grouped(backend, "group_key")
    rows = await sql(backend, "SELECT field_key, state, COUNT(*) FROM feedback_item GROUP BY 1, 2")
    assert seeded.by_field_state == {(f, s): n for f, s, n in rows}
    assert len(set(seeded.by_kind)) == 4 and len(seeded.by_field()) >= 5  # varied data


async def test_answers_and_overdue_items(backend: Database, seeded: YearFigures) -> None:
    answered = await sql(  # praise expects no answer: not counted
        backend,
        "SELECT reference FROM feedback_item WHERE first_answered_at IS NOT NULL "
        "AND kind IN ('suggestion', 'criticism', 'question')",
    )
    assert len(seeded.answered) == len(answered) > ITEMS // 2
    waits = [(a - c).total_seconds() for _g, c, a, _d in seeded.answered]
    assert statistics.median(waits) > 0
    now = NOW.replace(tzinfo=None).isoformat(sep=" ")
    overdue = await sql(
        backend,
        "SELECT reference FROM feedback_item WHERE state IN ('received', 'in_progress') "
        "AND kind IN ('suggestion', 'criticism', 'question') "
        f"AND first_answered_at IS NULL AND answer_due_at < '{now}' ORDER BY answer_due_at",
    )
    assert [i.reference for i in seeded.overdue] == [r for (r,) in overdue]
    assert overdue  # the seed leaves some


async def test_every_recommendation_with_its_outcome(
    backend: Database, seeded: YearFigures
) -> None:
    suggestions = await sql(
        backend, "SELECT reference, state FROM feedback_item WHERE kind = 'suggestion'"
    )
    by_reference = {r.reference: r for r in seeded.recommendations}
    assert set(by_reference) == {ref for ref, _ in suggestions}
    for reference, state in suggestions:
        if state != "closed":
            assert by_reference[reference].state == state
    decided = Counter(r.state for r in seeded.recommendations if r.decided_at is not None)
    implemented = (await grouped(backend, "state", "kind = 'suggestion'")).get("implemented", 0)
    assert decided["implemented"] >= implemented > 0
    declined = [r for r in seeded.recommendations if r.state == "declined"]
    assert declined and all(r.note for r in declined)  # a decline always has its reason


async def test_registrations_per_workshop(backend: Database, seeded: YearFigures) -> None:
    rows = await sql(
        backend,
        "SELECT w.title, r.state, COUNT(*) FROM registration r "
        "JOIN workshop w ON w.id = r.workshop_id GROUP BY w.title, r.state",
    )
    counts = {(title, state): n for title, state, n in rows}
    (round_table,) = [e for e in seeded.events if e.workshops]
    for workshop in round_table.workshops:
        assert workshop.registered == counts.get((workshop.title, "registered"), 0)
        assert workshop.waitlisted == counts.get((workshop.title, "waitlisted"), 0)
        assert workshop.cancelled == counts.get((workshop.title, "cancelled"), 0)
    assert sum(w.registered for w in round_table.workshops) == round_table.registered > 0
