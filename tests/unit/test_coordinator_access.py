"""Who may use coordinator commands and buttons: coordinators on their own groups' items,
administrators on every item, nobody else. A refusal is a clear answer, is logged, and
changes nothing."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest

from bot.app import App
from storage.models import Contact, FeedbackItem, ItemEvent, OutboxMessage
from testkit.support import BILDUNG_CHAT, FakeClock, GroupMember, Resident, count, rows

REF = "F-2026-0001"
NOT_A_COORDINATOR = "Diesen Befehl können nur Koordinator:innen einer Arbeitsgruppe verwenden."
NOT_YOUR_GROUP = f"{REF} gehört nicht zu Ihren Arbeitsgruppen."

# command → what a coordinator types
ITEM_COMMANDS = {
    "item": f"/item {REF}",
    "take": f"/take {REF}",
    "assign": f"/assign {REF} uag-arbeit",
    "state": f"/state {REF} in_progress",
    "note": f"/note {REF} intern",
    "reply": f"/reply {REF} Danke für den Hinweis",
}
LIST_COMMANDS = {"pending": "/pending", "stats": "/stats"}
ALL_COMMANDS = {**LIST_COMMANDS, **ITEM_COMMANDS}
BUTTONS = [
    f"item:take:{REF}",
    f"item:answer:{REF}",
    f"item:state:{REF}",
    f"item:set:{REF}:closed",
    f"item:set:{REF}:declined",
]


@pytest.fixture
async def submitted(coordination: App, clock: FakeClock) -> App:
    rosa = Resident(coordination.handle, "rosa")
    await rosa.submit("Mehr Deutschkurse am Abend")  # → uag-bildung
    clock.advance(timedelta(minutes=1))
    return coordination


async def snapshot(app: App) -> tuple[object, ...]:
    (item,) = await rows(app.db, FeedbackItem)
    return (
        item.state,
        item.group_key,
        item.assignee,
        item.first_answered_at,
        await count(app.db, ItemEvent),
        await count(app.db, OutboxMessage),
    )


@pytest.mark.parametrize("in_group", [False, True], ids=["private", "group-chat"])
@pytest.mark.parametrize("command", [c for c in ALL_COMMANDS if c != "reply"])
async def test_non_coordinators_are_refused_and_logged(
    submitted: App, command: str, in_group: bool, caplog: pytest.LogCaptureFixture
) -> None:
    bob = (
        GroupMember(submitted.handle, "bob", BILDUNG_CHAT)
        if in_group
        else Resident(submitted.handle, "bob")
    )
    before = await snapshot(submitted)

    with caplog.at_level(logging.WARNING, logger="handlers.roles"):
        await bob.command(ALL_COMMANDS[command])

    assert bob.last_text == NOT_A_COORDINATOR
    assert bob.choices == []
    assert f"refused /{command} from telegram:u-bob (not a coordinator)" in caplog.text
    assert await snapshot(submitted) == before


async def test_reply_from_a_non_coordinator_is_a_residents_answer_to_their_own_items_only(
    submitted: App,
) -> None:
    bob = Resident(submitted.handle, "bob")
    before = await snapshot(submitted)
    await bob.command(ITEM_COMMANDS["reply"])
    assert bob.last_text == f"Unter {REF} finde ich keine Rückmeldung von Ihnen. /mine zeigt alle."
    assert await snapshot(submitted) == before


@pytest.mark.parametrize("command", list(ITEM_COMMANDS))
async def test_coordinator_of_another_group_is_refused_and_logged(
    submitted: App, command: str, caplog: pytest.LogCaptureFixture
) -> None:
    otto = Resident(submitted.handle, "otto")  # coordinates uag-arbeit, the item is uag-bildung's
    before = await snapshot(submitted)

    with caplog.at_level(logging.WARNING, logger="handlers.coordination.actions"):
        await otto.command(ITEM_COMMANDS[command])

    assert otto.last_text == NOT_YOUR_GROUP
    assert f"refused /{command} {REF} for telegram:u-otto: not in group uag-bildung" in (
        caplog.text
    )
    assert await snapshot(submitted) == before


async def test_coordinator_of_another_group_sees_none_of_its_items(
    submitted: App, caplog: pytest.LogCaptureFixture
) -> None:
    otto = Resident(submitted.handle, "otto")
    await otto.command("/pending")
    assert otto.last_text == "Keine offenen Rückmeldungen."
    await otto.command("/pending bildung")  # the field: still only his groups' items
    assert otto.last_text == "Keine offenen Rückmeldungen."
    with caplog.at_level(logging.WARNING, logger="handlers.coordination.commands"):
        await otto.command("/pending uag-bildung")
    assert otto.last_text == "Unter-AG Bildung und Sprache gehört nicht zu Ihren Arbeitsgruppen."
    assert "refused /pending uag-bildung for telegram:u-otto" in caplog.text
    await otto.command("/stats")
    assert otto.last_text == "Im Zeitraum sind keine Rückmeldungen eingegangen."


@pytest.mark.parametrize("command", list(ALL_COMMANDS))
async def test_the_administrator_may_use_every_command_on_every_group(
    submitted: App, command: str
) -> None:
    ada = Resident(submitted.handle, "ada")  # coordinates no group; administrator
    await ada.command(ALL_COMMANDS[command])
    assert ada.last_text not in (NOT_A_COORDINATOR, NOT_YOUR_GROUP)
    expected = {
        "pending": "Offene Rückmeldungen, die ältesten zuerst:",
        "stats": "1 Rückmeldung vom",
        "item": f"{REF} · Vorschlag · Bildung und Sprache",
        "take": f"{REF} ist jetzt bei Ihnen",
        "assign": f"{REF} ist an Unter-AG Arbeit und Ausbildung weitergeleitet.",
        "state": f"{REF} ist jetzt in Bearbeitung.",
        "note": f"Notiz zu {REF} gespeichert",
        "reply": f"Ihre Antwort auf {REF} ist unterwegs.",
    }
    assert ada.last_text.startswith(expected[command])


@pytest.mark.parametrize("payload", BUTTONS)
@pytest.mark.parametrize(("who", "answer"), [("bob", NOT_A_COORDINATOR), ("otto", NOT_YOUR_GROUP)])
async def test_notification_buttons_refuse_others_with_a_notice(
    submitted: App, payload: str, who: str, answer: str
) -> None:
    member = GroupMember(submitted.handle, who, BILDUNG_CHAT)
    before = await snapshot(submitted)
    await member.press_payload(payload)
    (reply,) = member.replies
    assert (reply.text, reply.notice) == (answer, True)
    assert await snapshot(submitted) == before
    assert (
        await submitted.store.conversations.get_state(await _contact_id(submitted, who)) is None
    )  # no answer or reason is being waited for


async def test_pending_page_button_refuses_non_coordinators(submitted: App) -> None:
    bob = Resident(submitted.handle, "bob")
    await bob.press_payload("pg::1781524800000000:1")
    assert bob.last_text == NOT_A_COORDINATOR


async def test_a_coordinator_added_at_run_time_is_allowed_at_once(submitted: App) -> None:
    bob = Resident(submitted.handle, "bob")
    await bob.command("/pending")
    assert bob.last_text == NOT_A_COORDINATOR

    assert await submitted.store.membership.add_coordinator("uag-bildung", "telegram", "u-bob")
    await bob.command("/pending")
    assert bob.last_text.startswith("Offene Rückmeldungen")

    assert await submitted.store.membership.remove_coordinator("uag-bildung", "telegram", "u-bob")
    await bob.command("/pending")
    assert bob.last_text == NOT_A_COORDINATOR


async def _contact_id(app: App, name: str) -> int:
    (contact,) = await rows(app.db, Contact, Contact.user_id == f"u-{name}")
    return contact.id or 0
