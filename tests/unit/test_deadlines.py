"""Answer deadlines and the weekly digest, planned at an injected `now`: escalation to the
administrators once per overdue item, the digest per group at the configured weekday and
hour in Europe/Berlin, once a week, caught up within 24 hours, across daylight saving."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from bot.app import App
from bot.config import Settings
from bot.delivery.scheduler import Planner
from storage.models import FeedbackItem, ItemEvent, OutboxMessage
from testkit.support import (
    ADA,
    ARBEIT_CHAT,
    BILDUNG_CHAT,
    FakeClock,
    Resident,
    coordination_settings,
    count,
    item_reference,
    outbox_rows,
    rows,
)

MakeApp = Callable[..., Awaitable[App]]
REF = "F-2026-0001"
MAX = "telegram:u-max"  # a second administrator


def planner(app: App, name: str) -> Planner:
    (found,) = [p for p in app.planners if getattr(p, "name", "") == name]
    return found


async def submit(app: App, name: str, field: str = "Bildung und Sprache") -> None:
    answer = await Resident(app.handle, name).submit("Mehr Deutschkurse", field=field)
    assert answer.startswith("Vielen Dank!")


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


# ---- escalation ---------------------------------------------------------------------------


@pytest.fixture
async def two_admins(make_app: MakeApp, settings: Settings) -> App:
    return await make_app(coordination_settings(settings, administrators=(ADA, MAX)))


async def test_overdue_item_is_escalated_once_to_each_administrator(
    two_admins: App, clock: FakeClock
) -> None:
    app, escalation = two_admins, planner(two_admins, "escalation")
    start = clock.now()
    await submit(app, "rosa")
    due = start + timedelta(days=14)
    assert await escalation.next_due(start) == due

    assert await escalation.plan(due - timedelta(seconds=1)) == 0
    assert await escalation.plan(due) == 0  # due means: answered by then
    late = due + timedelta(minutes=1)
    assert await escalation.plan(late) == 2

    admin_rows = [r for r in await outbox_rows(app.db) if r.idempotency_key.startswith("esc")]
    assert [(r.idempotency_key, r.platform, r.chat_id) for r in admin_rows] == [
        (f"escalation:{REF}:{ADA}", "telegram", "u-ada"),
        (f"escalation:{REF}:{MAX}", "telegram", "u-max"),
    ]
    assert {r.payload["text"] for r in admin_rows} == {
        f"Überfällig: {REF} (uag-bildung) wartet seit 29. Juni 2026 auf eine erste Antwort."
    }
    assert all(item_reference(r) == REF and not r.is_group for r in admin_rows)
    (item,) = await rows(app.db, FeedbackItem)
    assert item.escalated_at == late
    event = (await rows(app.db, ItemEvent))[-1]
    assert (event.actor, event.action, event.at) == ("system", "escalated", late)

    # Not repeated on the next ticks, however late.
    assert await escalation.plan(late + timedelta(minutes=1)) == 0
    assert await escalation.plan(late + timedelta(days=30)) == 0
    assert await count(app.db, OutboxMessage, OutboxMessage.chat_id == "u-ada") == 1
    assert await escalation.next_due(late) is None


@pytest.mark.parametrize(
    ("command", "escalated"),
    [
        ("/reply F-2026-0001 Wir sind dran.", False),  # answered
        ("/state F-2026-0001 answered", False),
        ("/state F-2026-0001 declined Nicht zuständig", False),
        ("/state F-2026-0001 closed", False),
        ("/take F-2026-0001", True),  # in progress, still without an answer
        ("/note F-2026-0001 intern", True),
    ],
)
async def test_only_unanswered_open_items_are_escalated(
    two_admins: App, clock: FakeClock, command: str, escalated: bool
) -> None:
    await submit(two_admins, "rosa")
    await Resident(two_admins.handle, "cora").command(command)
    sent = await planner(two_admins, "escalation").plan(clock.now() + timedelta(days=15))
    assert sent == (2 if escalated else 0)


async def test_overdue_items_are_marked_in_pending_and_listed_first(
    two_admins: App, clock: FakeClock
) -> None:
    await submit(two_admins, "rosa")  # 0001
    clock.advance(timedelta(days=10))
    await submit(two_admins, "lena")  # 0002
    clock.advance(timedelta(days=5))
    await planner(two_admins, "escalation").plan(clock.now())
    cora = Resident(two_admins.handle, "cora")
    await cora.command("/pending")
    assert cora.last_text.splitlines()[1:] == [
        "F-2026-0001 · Vorschlag · Bildung und Sprache · 2 Wochen · ÜBERFÄLLIG",
        "F-2026-0002 · Vorschlag · Bildung und Sprache · 5 Tage",
    ]


async def test_the_due_date_follows_the_groups_answer_days(
    make_app: MakeApp, settings: Settings, clock: FakeClock
) -> None:
    changed = coordination_settings(settings)
    groups = tuple(
        replace(g, answer_days=5) if g.key == "uag-arbeit" else g for g in changed.groups
    )
    app = await make_app(replace(changed, groups=groups))
    await submit(app, "paul", field="Arbeit und Ausbildung")
    (item,) = await rows(app.db, FeedbackItem)
    assert item.answer_due_at == clock.now() + timedelta(days=5)
    assert await planner(app, "escalation").plan(clock.now() + timedelta(days=5, hours=1)) == 1


async def test_the_resident_sees_the_expected_answer_date_in_status(
    coordination: App, clock: FakeClock
) -> None:
    rosa = Resident(coordination.handle, "rosa")
    await rosa.submit("Mehr Deutschkurse")
    await rosa.command(f"/status {REF}")
    assert rosa.last_text.endswith("\nErste Antwort erwartet bis 29. Juni 2026")

    await Resident(coordination.handle, "cora").command(f"/reply {REF} Danke!")
    await rosa.command(f"/status {REF}")
    assert "Erste Antwort erwartet" not in rosa.last_text  # answered: no longer expected

    emma = Resident(coordination.handle, "emma", language_code="en")
    await emma.submit(
        "More classes",
        kind="Suggestion",
        field="Education and language",
        anonymity="Stay anonymous",
        confirm="Send",
    )
    await emma.command("/status F-2026-0002")
    assert emma.last_text.endswith("\nFirst answer expected by 29 Jun 2026")


# ---- the weekly digest --------------------------------------------------------------------


def digests(all_rows: list[OutboxMessage]) -> list[str]:
    return [r.idempotency_key for r in all_rows if r.idempotency_key.startswith("digest:")]


async def test_digest_lists_new_open_and_overdue_items_per_group(
    coordination: App, clock: FakeClock
) -> None:
    clock.set(utc(2026, 5, 30, 10))
    await submit(coordination, "rosa")  # 0001: overdue from 13 June
    clock.set(utc(2026, 6, 10, 9))
    await submit(coordination, "lena")  # 0002: new this week
    clock.set(utc(2026, 6, 11, 9))
    await submit(coordination, "mia")  # 0003: new, answered
    await Resident(coordination.handle, "cora").command("/reply F-2026-0003 Danke!")
    digest = planner(coordination, "digest")

    monday_8 = utc(2026, 6, 15, 6)  # Monday 08:00 in Berlin (CEST)
    assert await digest.plan(monday_8 - timedelta(minutes=1)) == 0
    assert await digest.plan(monday_8) == 2  # the two groups that have a chat

    queued = await outbox_rows(coordination.db)
    assert digests(queued) == [
        f"digest:uag-arbeit:2026-06-15:telegram:{ARBEIT_CHAT}",
        f"digest:uag-bildung:2026-06-15:telegram:{BILDUNG_CHAT}",
    ]
    (bildung,) = [r for r in queued if r.idempotency_key.startswith("digest:uag-bildung")]
    assert bildung.is_group
    assert bildung.payload["text"] == (
        "Wochenübersicht für Unter-AG Bildung und Sprache\n"
        "\n"
        "Neu seit letzter Woche: 2\n"
        "Offen: 2\n"
        "Überfällig: 1\n"
        "  F-2026-0001 · 30. Mai 2026\n"
        "\n"
        "/pending zeigt alle offenen Rückmeldungen."
    )
    (arbeit,) = [r for r in queued if r.idempotency_key.startswith("digest:uag-arbeit")]
    assert "Neu seit letzter Woche: 0\nOffen: 0\nÜberfällig: 0" in arbeit.payload["text"]


async def test_digest_is_sent_once_a_week(coordination: App) -> None:
    digest = planner(coordination, "digest")
    monday_8 = utc(2026, 6, 15, 6)
    assert await digest.plan(monday_8) == 2
    for later in (timedelta(minutes=1), timedelta(hours=5), timedelta(hours=23, minutes=59)):
        assert await digest.plan(monday_8 + later) == 0
    assert await digest.plan(monday_8 + timedelta(days=3)) == 0
    assert await digest.next_due(monday_8 + timedelta(hours=1)) == monday_8 + timedelta(days=7)
    assert await digest.plan(monday_8 + timedelta(days=7)) == 2
    assert len(digests(await outbox_rows(coordination.db))) == 4


@pytest.mark.parametrize(
    ("first_tick", "sent"),
    [
        (utc(2026, 6, 15, 18), 2),  # down over the morning: sent late
        (utc(2026, 6, 16, 6), 2),  # exactly 24 hours late: still sent
        (utc(2026, 6, 16, 6, 1), 0),  # more than 24 hours: skipped, not sent stale
        (utc(2026, 6, 20, 12), 0),
    ],
)
async def test_digest_missed_during_downtime_is_caught_up_within_a_day(
    coordination: App, first_tick: datetime, sent: int
) -> None:
    assert await planner(coordination, "digest").plan(first_tick) == sent


async def test_digest_at_the_configured_weekday_and_hour(
    make_app: MakeApp, settings: Settings
) -> None:
    app = await make_app(coordination_settings(settings, digest_weekday="friday", digest_hour=17))
    digest = planner(app, "digest")
    assert await digest.plan(utc(2026, 6, 15, 6)) == 0  # Monday: not the day
    friday_17 = utc(2026, 6, 19, 15)  # 17:00 in Berlin
    assert await digest.next_due(utc(2026, 6, 15, 6)) == friday_17
    assert await digest.plan(friday_17 - timedelta(seconds=1)) == 0
    assert await digest.plan(friday_17) == 2
    assert (
        digests(await outbox_rows(app.db))[0] == "digest:uag-arbeit:2026-06-19:telegram:g-arbeit"
    )


@pytest.mark.parametrize(
    ("before", "slot", "date"),
    [
        # Spring forward on Sunday 29 March 2026: 08:00 CEST on Monday is 06:00 UTC.
        (utc(2026, 3, 23, 12), utc(2026, 3, 30, 6), "2026-03-30"),
        # Fall back on Sunday 25 October 2026: 08:00 CET on Monday is 07:00 UTC.
        (utc(2026, 10, 19, 12), utc(2026, 10, 26, 7), "2026-10-26"),
    ],
    ids=["spring-forward", "fall-back"],
)
async def test_digest_keeps_its_local_hour_across_daylight_saving(
    coordination: App, before: datetime, slot: datetime, date: str
) -> None:
    digest = planner(coordination, "digest")
    assert await digest.next_due(before) == slot
    assert await digest.plan(slot - timedelta(minutes=1)) == 0
    assert await digest.plan(slot) == 2
    assert f"digest:uag-bildung:{date}:telegram:{BILDUNG_CHAT}" in digests(
        await outbox_rows(coordination.db)
    )


async def test_groups_without_a_chat_get_no_digest(coordination: App) -> None:
    await planner(coordination, "digest").plan(utc(2026, 6, 15, 6))
    keys = digests(await outbox_rows(coordination.db))
    assert not [k for k in keys if k.startswith("digest:ag-integration")]
