"""The router's rule: in a group chat, whatever shows or changes the sender's own data
answers only with a pointer to the private chat; coordinators' work goes on there."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from bot.app import App
from handlers.messages import Incoming, Platform
from storage.models import Contact, ConversationState, FeedbackItem, OutboxMessage
from testkit.support import BILDUNG_CHAT, FakeClock, GroupMember, Resident, rows
from tests.event_support import add_round_table, berlin

REF = "F-2026-0001"
POINTER = "Das geht nur im privaten Chat mit mir, damit Ihre Daten nicht in der Gruppe stehen."
LINK = "https://t.me/mitreden_bot?start=group"
# Commands that show or change the sender's own data: in a group only the pointer.
PRIVATE_COMMANDS = {
    "start",
    "language",
    "privacy",
    "mydata",
    "forget",
    "stop",
    "link",
    "feedback",
    "status",
    "mine",
    "myevents",
    "docs",
    "subscribe",
    "unsubscribe",
    "web",  # a sign-in link is a key: it goes to the private chat only
    "polls",  # one's own answers to polls and surveys
}
# What groups may see: public outcomes, help, /whoami, and the coordinators' commands.
GROUP_COMMANDS = {
    "help",
    "whoami",
    "outcomes",
    "pending",
    "item",
    "take",
    "assign",
    "state",
    "note",
    "stats",
    "registrations",
    "postpone",
    "broadcast",
}
# Decided per turn: /cancel (of one's own flow) and /reply (by a resident) by the registry,
# /events by its handler (coordinators' overview stays in groups, registering does not).
DECIDED_PER_TURN = {"cancel", "reply"}
DECIDED_BY_HANDLER = {"events"}
PRIVATE_FLOWS = {"feedback", "forget", "event", "survey"}


class LinkedMember(GroupMember):
    """Someone in a group chat, on a channel that links to a private chat with the bot."""

    def incoming(self, **values: Any) -> Incoming:
        return super().incoming(**{"private_link": LINK, **values})


def in_group(app: App, name: str, chat: str = "g-nachbarn") -> LinkedMember:
    return LinkedMember(app.handle, name, chat)


async def residents_rows(app: App) -> tuple[object, ...]:
    return (
        [(c.language, c.stopped_at, c.subscribed, c.chat_id) for c in await rows(app.db, Contact)],
        await rows(app.db, ConversationState),
        [(i.reference, i.state) for i in await rows(app.db, FeedbackItem)],
        len(await rows(app.db, OutboxMessage)),
    )


def test_every_command_is_either_private_public_or_decided_per_turn(app: App) -> None:
    """A new command must be placed on one side (its registration says which, and this
    fails until the lists here agree)."""
    commands = app.router.registry.commands.values()
    assert {c.name for c in commands if c.private is True} == PRIVATE_COMMANDS
    assert {c.name for c in commands if c.private is False} == GROUP_COMMANDS | DECIDED_BY_HANDLER
    assert {c.name for c in commands if callable(c.private)} == DECIDED_PER_TURN
    assert not PRIVATE_COMMANDS & (GROUP_COMMANDS | DECIDED_PER_TURN | DECIDED_BY_HANDLER)


def test_the_flows_a_resident_goes_through_for_themselves_are_private(app: App) -> None:
    flows = app.router.registry.flows.values()
    assert {f.name for f in flows if f.private} == PRIVATE_FLOWS


@pytest.mark.parametrize("name", sorted(PRIVATE_COMMANDS))
async def test_a_private_command_in_a_group_gets_only_the_pointer(
    coordination: App, clock: FakeClock, name: str
) -> None:
    rosa = Resident(coordination.handle, "rosa")
    await rosa.submit("Mehr Deutschkurse am Abend")
    clock.advance(timedelta(minutes=1))
    before = await residents_rows(coordination)
    for chat in ("g-nachbarn", BILDUNG_CHAT):  # any group, and a working group's chat
        replies = await in_group(coordination, "rosa", chat).command(f"/{name} {REF}")
        assert [(r.text, r.files, r.choices) for r in replies] == [(f"{POINTER}\n{LINK}", (), ())]
    assert await residents_rows(coordination) == before


async def test_without_a_link_the_pointer_says_where_to_go(app: App) -> None:
    replies = await GroupMember(app.handle, "rosa", "g-nachbarn").command("/mydata")
    assert [r.text for r in replies] == [POINTER]


@pytest.mark.parametrize("payload", ["lang:en", "evr:1:1:no", "evc:1"])
async def test_a_private_button_in_a_group_does_nothing(app: App, payload: str) -> None:
    rosa = in_group(app, "rosa")
    await rosa.command("/help")
    before = await residents_rows(app)
    assert [r.text for r in await rosa.press_payload(payload)] == [f"{POINTER}\n{LINK}"]
    assert await residents_rows(app) == before


async def test_a_private_flow_is_neither_pressed_nor_cancelled_in_a_group(app: App) -> None:
    rosa = Resident(app.handle, "rosa")
    await rosa.say("Die Bank am Markt ist kaputt.")
    kind = rosa.choice("Vorschlag").payload
    group = in_group(app, "rosa")
    before = await residents_rows(app)

    assert [r.text for r in await group.press_payload(kind)] == [f"{POINTER}\n{LINK}"]
    assert [r.text for r in await group.command("/cancel")] == [f"{POINTER}\n{LINK}"]

    assert await residents_rows(app) == before
    await rosa.press("Vorschlag")  # the private chat goes on where it was
    assert "Handlungsfeld" in rosa.last_text


async def test_cancel_in_a_group_still_ends_a_coordinators_answer(coordination: App) -> None:
    rosa = Resident(coordination.handle, "rosa")
    await rosa.submit("Mehr Deutschkurse am Abend")
    cora = GroupMember(coordination.handle, "cora", BILDUNG_CHAT)
    await cora.press_payload(f"item:answer:{REF}")
    assert "Bitte schreiben Sie jetzt Ihre Antwort" in cora.last_text
    assert (await cora.command("/cancel"))[0].text == "Abgebrochen. Es wurde nichts gespeichert."
    assert (await cora.command("/cancel"))[0].text == "Es gibt gerade nichts abzubrechen."


async def test_reply_in_a_group_is_a_coordinators_command_only(coordination: App) -> None:
    rosa = Resident(coordination.handle, "rosa")
    await rosa.submit("Mehr Deutschkurse am Abend")
    mine = await in_group(coordination, "rosa", BILDUNG_CHAT).command(f"/reply {REF} Und?")
    assert [r.text for r in mine] == [f"{POINTER}\n{LINK}"]
    cora = GroupMember(coordination.handle, "cora", BILDUNG_CHAT)
    await cora.command(f"/reply {REF} Ab September gibt es einen Abendkurs.")
    assert cora.last_text == f"Ihre Antwort auf {REF} ist unterwegs."


async def test_events_in_a_group_show_coordinators_the_overview_only(
    coordination: App, clock: FakeClock
) -> None:
    await add_round_table(coordination)
    clock.set(berlin(2026, 10, 1, 9, 0))
    cora = GroupMember(coordination.handle, "cora", BILDUNG_CHAT)
    overview = await cora.command("/events")
    assert [r.text.splitlines()[0] for r in overview] == ["Für Koordinator:innen:"]
    assert not any(r.choices for r in overview)  # no registration begun in the group
    assert not await rows(coordination.db, ConversationState)

    rosa = in_group(coordination, "rosa", BILDUNG_CHAT)
    assert [r.text for r in await rosa.command("/events")] == [f"{POINTER}\n{LINK}"]


async def test_help_outcomes_and_coordinators_commands_stay_in_groups(coordination: App) -> None:
    rosa = Resident(coordination.handle, "rosa")
    await rosa.submit("Mehr Deutschkurse am Abend")
    cora = GroupMember(coordination.handle, "cora", BILDUNG_CHAT)
    for command in ("/help", "/outcomes", "/pending", f"/item {REF}", f"/take {REF}"):
        replies = await cora.command(command)
        assert replies and POINTER not in replies[0].text, command
    (item,) = await rows(coordination.db, FeedbackItem)
    assert item.assignee == f"{Platform.TELEGRAM}:u-cora"
