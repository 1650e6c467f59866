"""Restarts: of Synapse in the middle of a conversation, and of the bot while a resident
writes. Nothing is lost and nothing is handled twice."""

from __future__ import annotations

import pytest

from storage.models import Contact, FeedbackItem
from testkit.support import rows
from tests.e2e.matrix.conftest import Lab, until
from tests.e2e.matrix.test_matrix_flow import KIND_QUESTION, submit

pytestmark = pytest.mark.e2e

UNREADABLE = "Ihre verschlüsselte Nachricht konnte ich nicht lesen"


async def test_synapse_restart_in_the_middle(lab: Lab) -> None:
    bot = await lab.start_bot()
    anna = await lab.person("anna")
    room = await anna.direct_chat(bot.account.user_id, encrypted=True)
    await anna.say(room, "Der Spielplatz braucht Schatten.")
    await anna.answer(room, KIND_QUESTION)

    lab.synapse.restart()  # the bot's long poll breaks; it retries with back-off

    seen = len(anna.bodies(room))
    await anna.say(room, "Vorschlag")
    await anna.answer(room, "Handlungsfeld", after=seen)
    for answer, prompt in (
        ("Bildung und Sprache", "Namen"),
        ("Anonym bleiben", "Bitte prüfen Sie"),
        ("Abschicken", "Vielen Dank!"),
    ):
        seen = len(anna.bodies(room))
        await anna.say(room, answer)
        await anna.answer(room, prompt, after=seen)
    (item,) = await rows(bot.app.db, FeedbackItem)
    assert item.text == "Der Spielplatz braucht Schatten."
    assert sum(KIND_QUESTION in b for b in anna.bodies(room)) == 1


async def test_bot_restart_neither_repeats_nor_misses(lab: Lab) -> None:
    account = lab.bot_account()
    bot = await lab.start_bot(account)
    anna = await lab.person("anna")
    room = await anna.direct_chat(account.user_id, encrypted=True)
    await submit(anna, room, "Erste Rückmeldung")
    await bot.shut()

    before = len(anna.bodies(room))
    await anna.say(room, "Zweite Rückmeldung, während der Bot schläft")
    again = await lab.start_bot(account)  # same device, store and database
    await anna.answer(room, KIND_QUESTION, after=before)
    await until(lambda: again.channel.ready.is_set(), "sync")
    bodies = anna.bodies(room)[before:]
    assert sum(KIND_QUESTION in b for b in bodies) == 1, bodies
    assert "Vielen Dank!" not in "".join(bodies)  # nothing old answered again
    assert len(await rows(again.app.db, FeedbackItem)) == 1


async def test_undecryptable_message_is_asked_again(lab: Lab) -> None:
    bot = await lab.start_bot()
    omar = await lab.person("omar")
    room = await omar.direct_chat(bot.account.user_id, encrypted=False)
    broken = {
        "algorithm": "m.megolm.v1.aes-sha2",
        "ciphertext": "AwgAEnACgAkLmt6qF84IK++J7UDH2Za1YVchHyprqTqsg",
        "device_id": "NOPE",
        "sender_key": "IlRMeOPX2e0MurIyfWEucYBRVOEEUMrOHqn/8mLqMjA",
        "session_id": "X3lUlvLELLYxeTx4yOVu6UDpasGEVO0Jbu+QFnm0cKQ",
    }
    sent = await omar.client.room_send(room, "m.room.encrypted", broken)
    assert getattr(sent, "event_id", None), sent
    await omar.answer(room, UNREADABLE)
    (contact,) = await rows(bot.app.db, Contact)
    assert contact.user_id == omar.account.user_id
    assert await rows(bot.app.db, FeedbackItem) == []
