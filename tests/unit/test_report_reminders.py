"""Reminders before the year report is due: 21 days before the round table (26 Oct 2026,
so due 5 Oct), reminded 28 and 7 days before that, to every working group's chat and the
administrators, with the current draft attached; postponing the round table moves them."""

from __future__ import annotations

import os
import shutil
from dataclasses import replace
from datetime import timedelta

import pytest

from bot.app import App
from bot.delivery.scheduler import Planner
from bot.report import build_report
from handlers.events.admin import postpone_event
from storage.events.models import Event
from testkit.support import ADA, ARBEIT_CHAT, BILDUNG_CHAT, FakeClock, Resident, outbox_rows
from tests.event_support import add_round_table, berlin
from tests.report_support import pdf_text

APPENDIX = "stehen im Anhang"  # the report's pointer to its appendix files


DUE = berlin(2026, 10, 5, 10, 0)
FOUR_WEEKS = berlin(2026, 9, 7, 10, 0)
ONE_WEEK = berlin(2026, 9, 28, 10, 0)


def planner(app: App) -> Planner:
    (found,) = [p for p in app.planners if getattr(p, "name", "") == "report"]
    return found


async def round_table(app: App, clock: FakeClock) -> Event:
    clock.set(berlin(2026, 9, 1, 9, 0))
    event = await add_round_table(app)
    assert event.id is not None
    await app.store.events.set_event(event.id, clock.now(), round_table=True)
    return event


async def report_rows(app: App) -> list[object]:
    return [r for r in await outbox_rows(app.db) if r.idempotency_key.startswith("report:")]


async def test_reminders_four_weeks_and_one_week_before_the_due_date(
    coordination: App, clock: FakeClock
) -> None:
    app = coordination
    await Resident(app.handle, "alice").submit("Mehr Abendkurse")
    await round_table(app, clock)
    assert await planner(app).next_due(clock.now()) == FOUR_WEEKS

    clock.set(FOUR_WEEKS - timedelta(minutes=1))
    assert await planner(app).plan(clock.now()) == 0
    clock.set(FOUR_WEEKS)
    assert await planner(app).plan(clock.now()) == 3
    assert await planner(app).plan(clock.now() + timedelta(hours=1)) == 0  # once

    rows = await report_rows(app)
    admin_chat = ADA.partition(":")[2]  # an administrator's private chat
    assert sorted(r.chat_id for r in rows) == sorted([BILDUNG_CHAT, ARBEIT_CHAT, admin_chat])
    bildung = next(r for r in rows if r.chat_id == BILDUNG_CHAT)
    assert (
        "Der Bericht 2026 an den Stadtrat ist am 5. Okt. 2026 fällig, 21 Tage vor"
        in (bildung.payload["text"])
    )
    # Alice's item of 15 June is open and past its 14 days.
    assert "1 offene Rückmeldung, davon 1 über der Frist" in bildung.payload["text"]
    assert bildung.payload["report_draft"] == {"year": 2026, "format": "pdf", "language": "de"}
    assert await planner(app).next_due(clock.now()) == ONE_WEEK

    clock.set(ONE_WEEK)
    assert await planner(app).plan(clock.now()) == 3
    clock.set(DUE)
    assert await planner(app).plan(clock.now()) == 0  # due: no more reminders
    assert await planner(app).next_due(clock.now()) is None


async def test_the_reminder_carries_the_current_draft(coordination: App, clock: FakeClock) -> None:
    app = coordination
    await round_table(app, clock)
    await Resident(app.handle, "alice").submit("Mehr Abendkurse")
    clock.set(FOUR_WEEKS)
    await planner(app).plan(clock.now())
    row = next(r for r in await report_rows(app) if r.chat_id == BILDUNG_CHAT)

    reply = await app.resolve(row.payload)

    (draft,) = reply.files
    assert draft.file_name == "mitreden-report-2026-draft.pdf"
    assert draft.mime_type == "application/pdf" and draft.data.startswith(b"%PDF-")
    assert (await app.resolve(row.payload)).files[0] is draft  # rendered once for all chats
    # Sent alone, it names no appendix file the coordinators do not have; the report
    # written for publication does, beside it.
    assert app.deps is not None
    published = await build_report(app.deps, 2026, "html")
    assert APPENDIX in " ".join(published.data.decode().split())
    if shutil.which("pdftotext") or os.environ.get("CI"):
        text = pdf_text(draft.data)
        assert "Empfehlungen und was aus ihnen wurde" in text
        assert APPENDIX not in " ".join(text.split())


async def test_a_reminder_missed_while_down_gives_way_to_the_later_one(
    coordination: App, clock: FakeClock
) -> None:
    app = coordination
    await round_table(app, clock)
    clock.set(ONE_WEEK + timedelta(hours=5))

    assert await planner(app).plan(clock.now()) == 3
    assert {r.idempotency_key.split(":")[3] for r in await report_rows(app)} == {"d7"}


async def test_postponing_the_round_table_moves_the_reminders(
    coordination: App, clock: FakeClock
) -> None:
    app = coordination
    event = await round_table(app, clock)
    clock.set(FOUR_WEEKS)
    assert app.deps is not None
    await planner(app).plan(clock.now())
    await postpone_event(
        app.deps, event, event.starts_at + timedelta(days=14), "Saal belegt", clock.now()
    )

    moved = FOUR_WEEKS + timedelta(days=14)
    assert await planner(app).next_due(clock.now()) == moved
    clock.set(moved)
    assert await planner(app).plan(clock.now()) == 3  # four weeks before the new due date
    clock.set(ONE_WEEK)  # the old date of the second reminder
    assert await planner(app).plan(clock.now()) == 0
    clock.set(ONE_WEEK + timedelta(days=14))
    assert await planner(app).plan(clock.now()) == 3
    admin_chat = ADA.partition(":")[2]
    texts = [r.payload["text"] for r in await report_rows(app) if r.chat_id == admin_chat]
    assert "am 19. Okt. 2026 fällig" in texts[-1]


async def test_other_events_and_cancelled_round_tables_remind_nobody(
    coordination: App, clock: FakeClock
) -> None:
    app = coordination
    clock.set(berlin(2026, 9, 1, 9, 0))
    plain = await add_round_table(app)  # not marked as the round table
    clock.set(FOUR_WEEKS)
    assert await planner(app).plan(clock.now()) == 0
    assert plain.id is not None
    await app.store.events.set_event(plain.id, clock.now(), round_table=True, state="cancelled")
    assert await planner(app).plan(clock.now()) == 0


@pytest.mark.parametrize("days", [(30, 3)])
async def test_the_days_come_from_the_settings(
    make_app: object, settings: object, clock: FakeClock, days: tuple[int, int]
) -> None:
    from testkit.support import coordination_settings

    changed = coordination_settings(settings)
    changed = replace(
        changed,
        report=replace(
            changed.report, due_days_before_round_table=14, reminder_days_before_due=days
        ),
    )
    app = await make_app(changed)  # type: ignore[operator]
    await round_table(app, clock)
    assert await planner(app).next_due(clock.now()) == berlin(2026, 9, 12, 10, 0)
