"""What a coordinator and a resident must be able to trust on Matrix, also across restarts:
the choices the bot offered keep meaning what they said, a bare number never reaches a
resident as an answer, a reply to the bot's message about an item stays with that item, a
message is answered once, and a refusal names the channel's own limits (issue 14, 8-12)."""

from __future__ import annotations

import io
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
from nio import RoomMessagesResponse, RoomMessageText, UploadResponse
from sqlalchemy import delete

from storage.db import Database
from storage.models import Contact, FeedbackItem, HandledMessage, ItemEvent
from testkit.support import rows
from testkit.synapse import Registered
from tests.e2e.matrix.conftest import Lab, MatrixBot, Person, until, working_group
from tests.e2e.matrix.test_matrix_flow import KIND_QUESTION, REFERENCE, submit

pytestmark = pytest.mark.e2e

GROUP = "uag-bildung"  # the group of "Bildung und Sprache", which `submit` picks
PASSED_ON = "ist an die Arbeitsgruppe weitergegeben"
NOT_KNOWN = "Eine Zahl allein"


async def coordinated(lab: Lab) -> tuple[MatrixBot, Person, str, Person, str, str]:
    """A bot with a working group's room and its coordinator Cora, and an item Anna sent
    from her direct chat: (bot, cora, group room, anna, direct chat, reference)."""
    group = await working_group(lab, GROUP)
    bot, cora, group_room, account = group.bot, group.coordinator, group.room, group.bot.account
    anna = await lab.person("anna")
    dm = await anna.direct_chat(account.user_id, encrypted=True)
    thanks = await submit(anna, dm, "Mehr Sprachkurse am Abend, bitte.")
    found = REFERENCE.search(thanks)
    assert found is not None
    await cora.answer(group_room, found.group())  # the item's card
    return bot, cora, group_room, anna, dm, found.group()


async def restart(lab: Lab, bot: MatrixBot, group_room: str, coordinator: str) -> MatrixBot:
    """Stop the bot and start it again: same account, device, store and database."""
    await bot.shut()
    return await lab.start_bot(
        bot.account, groups={GROUP: group_room}, coordinators={GROUP: coordinator}
    )


async def item_of(bot: MatrixBot) -> FeedbackItem:
    (item,) = await rows(bot.app.db, FeedbackItem)
    return item


async def test_choices_still_work_after_a_restart(lab: Lab) -> None:
    bot, cora, group_room, anna, dm, ref = await coordinated(lab)
    card = cora.event_with(group_room, ref)
    heard = len(anna.bodies(dm))
    await anna.say(dm, "/language")
    menu = await anna.answer(dm, "English", after=heard)
    english = next(line.split(")")[0] for line in menu.splitlines() if "English" in line)
    bot = await restart(lab, bot, group_room, cora.account.user_id)

    # The resident's menu in her direct chat: the last prompt of the room.
    heard = len(anna.bodies(dm))
    await anna.say(dm, english)
    await anna.answer(dm, "English", after=heard)
    (contact,) = [c for c in await rows(bot.app.db, Contact) if c.chat_id == dm]
    assert contact.language == "en"

    seen, heard = len(cora.bodies(group_room)), len(anna.bodies(dm))
    await cora.say(group_room, "1", reply_to=card)  # 1) Übernehmen
    taken = await cora.answer(group_room, ref, after=seen)

    assert "ist jetzt bei Ihnen" in taken, taken
    item = await item_of(bot)
    assert item.assignee == f"matrix:{cora.account.user_id}"
    assert item.first_answered_at is None  # "1" was no answer to the resident
    await cora.say(group_room, f"!item {ref}")  # a later reply to the group, as a barrier
    await cora.answer(group_room, "Von:", after=seen)
    assert all(body.strip() != "1" and "\n\n1" not in body for body in anna.bodies(dm)[heard:])


@pytest.mark.parametrize("typed", ["7", "9)"])
async def test_a_bare_number_is_never_an_answer_to_the_resident(lab: Lab, typed: str) -> None:
    """A number that is no choice of the card (or of a card whose choices are no longer
    known) gets a note to the coordinator; nothing reaches the resident."""
    bot, cora, group_room, anna, dm, ref = await coordinated(lab)
    heard = len(anna.bodies(dm))
    seen = len(cora.bodies(group_room))

    await cora.say(group_room, typed, reply_to=cora.event_with(group_room, ref))

    note = await cora.answer(group_room, NOT_KNOWN, after=seen)
    assert f"/item {ref}" in note
    item = await item_of(bot)
    assert item.first_answered_at is None and item.state == "received"
    history = await rows(bot.app.db, ItemEvent)
    assert not [e for e in history if e.action == "reply"]
    assert anna.bodies(dm)[heard:] == []


async def test_a_bare_number_typed_as_the_answer_is_not_passed_on(lab: Lab) -> None:
    """After "Antworten" the bot waits for the answer's text; a number alone is a choice
    meant for some list, so the bot says so and keeps waiting."""
    bot, cora, group_room, anna, dm, ref = await coordinated(lab)
    seen = len(cora.bodies(group_room))
    await cora.say(group_room, "2", reply_to=cora.event_with(group_room, ref))  # Antworten
    await cora.answer(group_room, "Bitte schreiben Sie jetzt Ihre Antwort", after=seen)
    prompt = cora.event_with(group_room, "Bitte schreiben Sie jetzt Ihre Antwort")
    heard = len(anna.bodies(dm))

    await cora.say(group_room, "3", reply_to=prompt)
    await cora.answer(group_room, NOT_KNOWN, after=seen)
    await cora.say(group_room, "Wir sprechen mit der VHS.", reply_to=prompt)

    answer = await anna.answer(dm, "Wir sprechen mit der VHS.", after=heard)
    assert ref in answer
    assert all(body.strip() != "3" and "\n\n3" not in body for body in anna.bodies(dm)[heard:])
    assert (await item_of(bot)).first_answered_at is not None


async def test_menus_the_bot_answers_with_in_a_group_room_can_be_answered(lab: Lab) -> None:
    bot, cora, group_room, _, _, ref = await coordinated(lab)

    seen = len(cora.bodies(group_room))
    await cora.say(group_room, "3", reply_to=cora.event_with(group_room, ref))  # Status ändern
    menu = await cora.answer(group_room, "Neuer Stand", after=seen)
    assert "2) beantwortet" in menu, menu
    bot = await restart(lab, bot, group_room, cora.account.user_id)  # and it survives that

    seen = len(cora.bodies(group_room))
    await cora.say(group_room, "2", reply_to=cora.event_with(group_room, "Neuer Stand"))
    await cora.answer(group_room, ref, after=seen)
    assert (await item_of(bot)).state == "answered"

    # The card `!item` answers with: its choices work as a notification's do.
    seen = len(cora.bodies(group_room))
    await cora.say(group_room, f"!item {ref}")
    card = await cora.answer(group_room, "1) Übernehmen", after=seen)
    seen = len(cora.bodies(group_room))
    await cora.say(group_room, "1", reply_to=cora.event_with(group_room, card))
    await cora.answer(group_room, "ist jetzt bei Ihnen", after=seen)
    assert (await item_of(bot)).assignee == f"matrix:{cora.account.user_id}"


@pytest.mark.parametrize("fallback", [True, False], ids=["quoted-fallback", "no-fallback"])
async def test_a_reply_to_the_confirmation_goes_to_the_working_group(
    lab: Lab, fallback: bool
) -> None:
    bot, cora, group_room, anna, dm, ref = await coordinated(lab)
    confirmation = anna.event_with(dm, "Vielen Dank!")
    bot = await restart(lab, bot, group_room, cora.account.user_id)

    text = "Ich kann abends erst ab 19 Uhr."
    body = f"> <{bot.account.user_id}> Vielen Dank! {ref}\n\n{text}" if fallback else text
    seen = len(anna.bodies(dm))
    content: dict[str, Any] = {
        "msgtype": "m.text",
        "body": body,
        "m.relates_to": {"m.in_reply_to": {"event_id": confirmation}},
    }
    sent = await anna.client.room_send(
        dm, "m.room.message", content, ignore_unverified_devices=True
    )
    assert getattr(sent, "event_id", None), sent

    thanks = await anna.answer(dm, PASSED_ON, after=seen)
    assert ref in thanks
    relayed = await cora.answer(group_room, text)
    assert ref in relayed and "> <" not in relayed
    assert KIND_QUESTION not in "".join(anna.bodies(dm)[seen:])  # no new feedback begun
    assert len(await rows(bot.app.db, FeedbackItem)) == 1
    history = await rows(bot.app.db, ItemEvent)
    assert [e.text for e in history if e.action == "resident_reply"] == [text]


async def bot_said(person: Person, room: str, bot_id: str) -> list[str]:
    """Everything the bot wrote into the room, as the homeserver has it."""
    messages = await person.client.room_messages(room, start=person.client.next_batch, limit=100)
    assert isinstance(messages, RoomMessagesResponse), messages
    return [
        e.body for e in messages.chunk if isinstance(e, RoomMessageText) and e.sender == bot_id
    ]


@dataclass
class Resident:
    """Anna in a direct chat with a running bot, and the bot's saved sync position from
    before anything she says next."""

    account: Registered
    bot: MatrixBot
    anna: Person
    dm: str
    tokens: Path
    before: str

    async def crash(self) -> None:
        """The bot dies before it saves the sync position after what Anna said since."""
        await self.bot.shut()
        self.tokens.write_text(self.before)


async def resident_before_a_crash(lab: Lab) -> Resident:
    account = lab.bot_account()
    bot = await lab.start_bot(account)
    anna = await lab.person("anna")
    dm = await anna.direct_chat(account.user_id, encrypted=False)
    tokens = lab.tmp / f"bot-{account.user_id}" / "sync_token"
    await until(tokens.exists, "a saved sync position")
    return Resident(account, bot, anna, dm, tokens, tokens.read_text())


async def test_a_message_answered_before_a_crash_is_not_answered_again(lab: Lab) -> None:
    """The bot handled a message and answered, but died before it saved the sync position:
    after the restart the homeserver hands the message over again."""
    r = await resident_before_a_crash(lab)
    account, anna, dm = r.account, r.anna, r.dm

    await anna.say(dm, "Die Bibliothek sollte samstags öffnen.")
    await anna.answer(dm, KIND_QUESTION)
    await r.crash()  # the position after the message was never saved

    again = await lab.start_bot(account)  # its first sync hands over Anna's message again
    await anna.say(dm, "/help")  # a barrier: answered after the repeated message
    await anna.answer(dm, "/feedback")

    said = await bot_said(anna, dm, account.user_id)
    assert sum(body.startswith(KIND_QUESTION) for body in said) == 1, said
    assert not [body for body in said if "passt nicht" in body]  # nor handled again
    assert len(await rows(again.app.db, FeedbackItem)) == 0


async def test_an_answer_sent_again_after_a_crash_is_dropped_by_the_homeserver(
    lab: Lab,
) -> None:
    """Killed after its answer went out but before it was recorded, the bot handles the
    message again; the answer goes out with the same transaction id, and Synapse keeps
    the first."""
    r = await resident_before_a_crash(lab)
    account, anna, dm = r.account, r.anna, r.dm

    await anna.say(dm, "/privacy")
    answer = await anna.answer(dm, "Datenschutz")
    await r.crash()
    db = Database(f"sqlite+aiosqlite:///{lab.tmp}/{account.user_id}.db")
    await db.run(lambda session: session.execute(delete(HandledMessage)))
    await db.dispose()

    await lab.start_bot(account)  # handles "/privacy" again
    await anna.say(dm, "/help")
    await anna.answer(dm, "/feedback")

    said = await bot_said(anna, dm, account.user_id)
    assert said.count(answer) == 1, [body[:40] for body in said]


async def test_the_file_refusal_names_the_matrix_limit(lab: Lab) -> None:
    lab.settings = replace(
        lab.settings, matrix=replace(lab.settings.matrix, max_download_bytes=1_000_000)
    )
    assert lab.settings.telegram.max_download_bytes != 1_000_000
    bot = await lab.start_bot()
    anna = await lab.person("anna")
    dm = await anna.direct_chat(bot.account.user_id, encrypted=False)
    data = b"%PDF-1.4\n" + b"0" * 1_500_000
    uploaded, _ = await anna.client.upload(
        io.BytesIO(data), content_type="application/pdf", filename="plan.pdf", filesize=len(data)
    )
    assert isinstance(uploaded, UploadResponse), uploaded
    content = {
        "msgtype": "m.file",
        "body": "plan.pdf",
        "url": uploaded.content_uri,
        "info": {"mimetype": "application/pdf", "size": len(data)},
    }
    await anna.client.room_send(dm, "m.room.message", content)

    refusal = await anna.answer(dm, "zu groß")
    assert "bis 1 MB" in refusal, refusal
    assert await rows(bot.app.db, FeedbackItem) == []
