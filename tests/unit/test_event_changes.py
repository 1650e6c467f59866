"""Postponing and cancelling an event, and the clear answers to registrations that cannot be
taken: every reminder follows the new date, none computed for the old date is ever sent."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import pytest

from bot.app import App
from bot.cli.events import run_event
from bot.cli.main import _parser
from handlers.events.admin import cancel_event
from storage.events.registrations import Outcome
from storage.models import OutboxMessage
from testkit.support import FakeClock, GroupMember, Resident, outbox_rows, rows
from tests.event_support import (
    ARBEIT,
    TITLE,
    add_round_table,
    berlin,
    chats,
    contact_id,
    deliver,
    event_rows,
    events_planner,
    register,
)

SECOND = timedelta(seconds=1)


async def test_a_postponed_event_moves_every_reminder_with_it(
    coordination: App, clock: FakeClock
) -> None:
    app, planner = coordination, events_planner(coordination)
    clock.set(berlin(2026, 9, 1, 9, 0))
    rosa, eva = Resident(app.handle, "rosa"), Resident(app.handle, "eva")
    for resident in (rosa, eva):
        await resident.command("/subscribe")
    event = await add_round_table(app)
    assert await planner.plan(berlin(2026, 9, 28, 9, 0)) == 2
    clock.set(berlin(2026, 9, 29, 9, 0))
    assert await deliver(app) == 2  # the invitations went out
    await register(rosa, ARBEIT)

    # The deadline reminder is queued for Eva but not sent yet when the event is postponed.
    reminder_at = berlin(2026, 10, 20, 12, 0)
    assert await planner.plan(reminder_at) == 1
    clock.set(reminder_at + timedelta(seconds=30))
    cora = GroupMember(app.handle, "cora", "g-bildung")
    await cora.command("/postpone rt2026 2026-11-16 Der Saal ist belegt")
    assert "16. Nov. 2026" in cora.last_text and cora.replies[-1].files
    assert "1 angemeldete Person bekommt Bescheid." in cora.last_text  # Rosa; Eva only follows

    (old,) = await event_rows(app, "deadline")
    assert old.state == "skipped" and old.idempotency_key.startswith(f"ev{event.id}:s1:")
    (notice,) = await event_rows(app, "postponed")
    assert notice.chat_id == "c-rosa" and notice.idempotency_key.startswith(f"ev{event.id}:s2:")
    assert (
        "16. Nov. 2026" in notice.payload["text"]
        and "Der Saal ist belegt" in notice.payload["text"]
    )
    assert notice.payload["event_ics"] == event.id
    assert b"SEQUENCE:1" in (await app.resolve(notice.payload)).files[0].data

    # Nothing for the old date: not the documents, not the evening before.
    assert await planner.plan(berlin(2026, 10, 25, 18, 0)) == 0
    await app.store.events.add_document(
        event.id or 0, "Programm", "programm.pdf", "application/pdf", b"%PDF", clock.now()
    )
    assert await planner.plan(berlin(2026, 10, 26, 10, 0)) == 0

    # Everything for the new one: the deadline moved by the same three weeks.
    new_reminder = berlin(2026, 11, 10, 12, 0)
    assert await planner.next_due(berlin(2026, 10, 27, 0, 0)) == berlin(2026, 11, 2, 10, 0)
    assert await planner.plan(berlin(2026, 11, 2, 10, 0)) == 1  # documents to Rosa
    assert await planner.plan(new_reminder - SECOND) == 0
    assert await planner.plan(new_reminder) == 1
    assert [r.state for r in await event_rows(app, "deadline")] == ["skipped", "pending"]
    assert await planner.plan(berlin(2026, 11, 15, 18, 0)) == 1
    (eve,) = await event_rows(app, "eve")
    assert eve.chat_id == "c-rosa" and eve.idempotency_key.startswith(f"ev{event.id}:s2:eve:")
    assert "16. Nov. 2026" in eve.payload["text"]
    assert max(Counter(r.idempotency_key for r in await outbox_rows(app.db)).values()) == 1

    # A button of a reminder for an earlier date is refused.
    stale = eve.payload["choices"][1][1].replace(":s2:", ":s1:").replace(":2:", ":1:")
    await rosa.press_payload(stale)
    assert "gilt nicht mehr" in rosa.last_text


async def test_a_cancelled_event_tells_registrants_and_sends_nothing_else(
    coordination: App, clock: FakeClock
) -> None:
    app, planner = coordination, events_planner(coordination)
    event = await add_round_table(app)
    clock.set(berlin(2026, 10, 1, 9, 0))
    rosa = Resident(app.handle, "rosa")
    await register(rosa, ARBEIT)
    await app.store.events.add_document(
        event.id or 0, "Programm", "programm.pdf", "application/pdf", b"%PDF", clock.now()
    )
    assert await planner.plan(berlin(2026, 10, 12, 10, 0)) == 1  # documents, still waiting
    changed = await cancel_event(app.deps, event, "Unwetter", berlin(2026, 10, 12, 10, 1))  # type: ignore[arg-type]
    assert changed is not None and changed[1] == 1
    (notice,) = await event_rows(app, "cancelled")
    assert "fällt aus" in notice.payload["text"] and "Unwetter" in notice.payload["text"]
    assert [r.state for r in await event_rows(app, "docs")] == ["skipped"]
    assert await planner.plan(berlin(2026, 10, 25, 18, 0)) == 0
    assert await planner.next_due(berlin(2026, 10, 13, 0, 0)) is None
    await rosa.command("/events")
    assert "keine Veranstaltung" in rosa.last_text


@pytest.mark.parametrize(
    ("moment", "outcome"),
    [
        (berlin(2026, 9, 27, 9, 0), Outcome.NOT_OPEN),
        (berlin(2026, 10, 23, 12, 1), Outcome.CLOSED),
        (berlin(2026, 10, 27, 9, 0), Outcome.PAST),
    ],
)
async def test_registrations_outside_the_window_are_refused(
    app: App, clock: FakeClock, moment: object, outcome: Outcome
) -> None:
    event = await add_round_table(app)
    contact, _ = await app.store.contacts.get_or_add_contact(
        __import__("storage.contacts").contacts.ContactKey("telegram", "u-x", "c-x"), clock.now()
    )
    result = await app.store.registrations.register(
        event.id or 0,
        contact.id or 0,
        None,
        moment,
        lambda *_: [],  # type: ignore[arg-type]
    )
    assert result.outcome == outcome


async def test_a_closed_registration_gets_a_clear_answer(app: App, clock: FakeClock) -> None:
    await add_round_table(app)
    clock.set(berlin(2026, 10, 23, 11, 0))
    rosa = Resident(app.handle, "rosa")
    await rosa.command("/events")
    await rosa.press(TITLE)
    await rosa.press("Ohne Workshop")
    clock.set(berlin(2026, 10, 23, 12, 5))  # she took her time
    await rosa.press("Anmelden")
    assert (
        rosa.last_text == f"Die Anmeldung für „{TITLE}“ ist seit 23. Okt. 2026 12:00 geschlossen."
    )


async def test_a_full_event_offers_the_waitlist(app: App, clock: FakeClock) -> None:
    await add_round_table(app, capacity=1, workshops=False)
    clock.set(berlin(2026, 10, 1, 9, 0))
    assert "Ihr Code" in await register(Resident(app.handle, "rosa"), None)
    ali = Resident(app.handle, "ali")
    await ali.command("/events")
    await ali.press(TITLE)
    await ali.press("Anmelden")
    assert "Warteliste (Platz 1)" in ali.last_text
    await ali.command("/myevents")
    assert "Warteliste" in ali.last_text


async def test_event_commands_are_for_coordinators(coordination: App, clock: FakeClock) -> None:
    app = coordination
    await add_round_table(app)
    clock.set(berlin(2026, 10, 1, 9, 0))
    await register(Resident(app.handle, "rosa"), ARBEIT)
    mia = Resident(app.handle, "mia")
    for command in ("/registrations rt2026", "/postpone rt2026 2026-11-16"):
        await mia.command(command)
        assert "nur Koordinator:innen" in mia.last_text
    cora = GroupMember(app.handle, "cora", "g-bildung")
    await cora.command("/registrations rt2026")
    assert "1 angemeldet, 0 auf der Warteliste" in cora.last_text and "Rosa" in cora.last_text
    await cora.command("/events")
    assert "rt2026: " in cora.all_text


async def test_the_command_line_sets_up_an_event(
    app: App, clock: FakeClock, tmp_path: object, capsys: pytest.CaptureFixture[str]
) -> None:
    paper = tmp_path / "konzept.pdf"  # type: ignore[operator]
    paper.write_bytes(b"%PDF concept")

    async def cli(*argv: str) -> int:
        return await run_event(app, _parser().parse_args(["event", *argv]))

    assert await cli(
        "add", "rt2027", "--title", "Runder Tisch Integration 2027",
        "--start", "2027-09-22T10:00", "--place", "Bürgersaal im Rathaus Kassel",
        "--opens", "2026-06-01", "--deadline", "2027-09-15", "--capacity", "120",
        "--workshop", "Lokaltermin Bildung und Sprache|bildung|25|14:00",
        "--workshop", "Lokaltermin Wohnen|wohnen",
    ) == 0  # fmt: skip
    assert await cli("doc", "add", "rt2027", str(paper), "--title", "Integrationskonzept") == 0
    assert (
        await cli("doc", "replace", "rt2027", "1", str(paper)) == 0
    )  # same bytes: no new version
    assert await cli("show", "rt2027") == 0
    await register(
        Resident(app.handle, "rosa"), "Lokaltermin Wohnen", "Runder Tisch Integration 2027"
    )
    capsys.readouterr()
    assert await cli("registrations", "rt2027", "--csv") == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "code,state,name,platform,language,workshop,since"
    assert ",registered,Rosa,telegram," in lines[1] and "Lokaltermin Wohnen" in lines[1]
    assert await cli("postpone", "rt2027", "2027-10-06", "--reason", "Wahl") == 0
    assert await cli("list") == 0
    out = capsys.readouterr().out
    assert "2027-10-06 10:00 (postponed); 1/120 registered" in out
    assert await cli("show", "nope") == 2
    assert len(await rows(app.db, OutboxMessage)) == 1  # the postponement notice to Rosa
    assert await contact_id(app, "rosa")
    assert await chats(app, "postponed") == ["c-rosa"]


async def test_someone_registering_on_the_eve_gets_its_reminder_once(
    app: App, clock: FakeClock
) -> None:
    event = await add_round_table(app)
    assert event.id is not None
    # Registration stays open until the morning of the event.
    await app.store.events.set_event(
        event.id, clock.now(), registration_deadline=berlin(2026, 10, 26, 9, 0)
    )
    planner = events_planner(app)
    clock.set(berlin(2026, 10, 25, 19, 0))  # after the evening reminder went out at 18:00
    await planner.plan(clock.now())
    late = Resident(app.handle, "lena")
    assert "Code" in await register(late, workshop=ARBEIT)

    (eve,) = await event_rows(app, "eve")
    assert eve.chat_id == "c-lena" and eve.payload.get("event_ics") == event.id
    await planner.plan(clock.now() + SECOND)
    assert [r.chat_id for r in await event_rows(app, "eve")] == ["c-lena"]  # not twice
