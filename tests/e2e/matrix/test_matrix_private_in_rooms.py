"""A resident's own data never shows in a Matrix room with others, on the real Synapse.

`!mydata`, `!status`, `!mine` typed in a working group's room, or in a direct chat someone
else was invited into, get only a link to a direct chat with the bot; nothing personal is
posted there and nothing changes.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import select
from sqlmodel import Session

from storage.models import (
    Contact,
    ConversationState,
    FeedbackItem,
    ItemEvent,
    OutboxMessage,
)
from testkit.support import rows
from tests.e2e.matrix.conftest import WAIT_SECONDS, Lab, MatrixBot, Person, until
from tests.e2e.matrix.test_matrix_flow import REFERENCE, submit

pytestmark = pytest.mark.e2e

TEXT = "Mehr Sprachkurse am Abend, bitte."
POINTER = "Das geht nur im privaten Chat mit mir, damit Ihre Daten nicht in der Gruppe stehen."
MARK = "!fertig"  # a command the bot does not know: its answer names it in any language
COMMANDS = ("!mydata", "!status", "!mine", "!forget")


async def residents_data(bot: MatrixBot) -> dict[str, list[tuple[Any, ...]]]:
    """The rows that hold what residents sent and what the bot sends them."""

    def work(session: Session) -> dict[str, list[tuple[Any, ...]]]:
        snapshot = {}
        for model in (Contact, ConversationState, FeedbackItem, ItemEvent, OutboxMessage):
            table = model.__table__  # type: ignore[attr-defined]
            result = session.execute(select(table)).all()
            snapshot[table.name] = sorted((tuple(row) for row in result), key=repr)
        return snapshot

    return await bot.app.db.run(work)


async def all_sent(bot: MatrixBot) -> None:
    """Wait until delivery has sent and recorded everything in the outbox."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + WAIT_SECONDS
    while not all(row.state == "sent" for row in await rows(bot.app.db, OutboxMessage)):
        if loop.time() > deadline:
            raise AssertionError("the outbox was not delivered")
        await asyncio.sleep(0.05)


async def type_in_room(person: Person, room: str, commands: tuple[str, ...]) -> list[str]:
    """What the bot answered in `room` to `commands`, in order (up to the answer to MARK)."""
    seen = len(person.bodies(room))
    for command in commands:
        await person.say(room, command)
    await person.say(room, MARK)
    await person.answer(room, MARK.replace("!", "/"), after=seen)
    answers = person.bodies(room)[seen:]
    return answers[: next(n for n, body in enumerate(answers) if "/fertig" in body)]


async def submitted(lab: Lab, bot: MatrixBot) -> tuple[Person, str, str]:
    """A resident with one item, sent from a direct chat: (resident, that chat, reference)."""
    anna = await lab.person("anna")
    dm = await anna.direct_chat(bot.account.user_id, encrypted=False)
    thanks = await submit(anna, dm, TEXT)
    found = REFERENCE.search(thanks)
    assert found is not None
    return anna, dm, found.group()


def assert_only_pointers(bot: MatrixBot, person: Person, room: str, answers: list[str]) -> None:
    link = f"https://matrix.to/#/{bot.account.user_id}"
    assert answers == [f"{POINTER}\n{link}"] * len(COMMANDS)
    contents = [c for r, _, c in person.received if r == room]
    assert all(c.get("msgtype") in ("m.text", "m.notice") for c in contents)  # no file


async def test_own_data_commands_in_a_working_group_room_get_only_a_pointer(lab: Lab) -> None:
    account = lab.bot_account()
    cora = await lab.person("cora")
    anna = await lab.person("anna")
    room = await cora.group_room(invite=[account.user_id, anna.account.user_id])
    bot = await lab.start_bot(account, groups={"uag-bildung": room})
    await anna.client.join(room)
    await cora.until_member(room, account.user_id)
    await cora.until_member(room, anna.account.user_id)
    dm = await anna.direct_chat(account.user_id, encrypted=False)
    thanks = await submit(anna, dm, TEXT)
    found = REFERENCE.search(thanks)
    assert found is not None
    card = await cora.answer(room, found.group())  # the item reached the group's room
    await all_sent(bot)
    before = await residents_data(bot)

    answers = await type_in_room(anna, room, COMMANDS)

    assert_only_pointers(bot, anna, room, answers)
    shown = cora.bodies(room)
    for body in shown[shown.index(card) + 1 :]:  # nothing that tells who sent the item
        assert found.group() not in body and anna.account.user_id not in body
        assert TEXT not in body
    assert await residents_data(bot) == before


async def test_own_data_commands_in_a_shared_direct_chat_get_only_a_pointer(lab: Lab) -> None:
    bot = await lab.start_bot()
    anna, dm, reference = await submitted(lab, bot)
    # Anna invites a friend into her chat with the bot: from now on it is a group.
    bert = await lab.person("bert")
    await anna.client.room_invite(dm, bert.account.user_id)
    await until(lambda: dm in bert.client.invited_rooms, "bert's invitation")
    await bert.client.join(dm)
    await until(lambda: bot.channel.is_group(dm), "the bot to see three members")
    before = await residents_data(bot)

    answers = await type_in_room(anna, dm, COMMANDS)

    assert_only_pointers(bot, anna, dm, answers)
    await bert.answer(dm, POINTER)  # what the others in the room read
    assert await residents_data(bot) == before
    assert (await rows(bot.app.db, FeedbackItem))[0].reference == reference
