"""The feedback conversation in Matrix direct chats, unencrypted and end-to-end encrypted."""

from __future__ import annotations

import re

import pytest
from prometheus_client.parser import text_string_to_metric_families

from storage.models import Contact, FeedbackItem
from testkit.support import rows
from tests.e2e.matrix.conftest import Lab, Person, until

pytestmark = pytest.mark.e2e

REFERENCE = re.compile(r"F-\d{4}-\d{4}")
KIND_QUESTION = "Was für eine Rückmeldung ist das?"


async def submit(person: Person, room: str, text: str, *, kind: str = "1") -> str:
    """Write feedback and answer each question by number or by label, as residents do."""
    await person.say(room, text)
    prompt = await person.answer(room, KIND_QUESTION)
    assert "1) Vorschlag" in prompt and "4) Lob" in prompt
    seen = len(person.bodies(room))
    await person.say(room, kind)
    await person.answer(room, "Handlungsfeld", after=seen)
    for answer, next_prompt in (
        ("Bildung und Sprache", "Namen"),
        ("Anonym bleiben", "Bitte prüfen Sie"),
        ("1", "Vielen Dank!"),
    ):
        seen = len(person.bodies(room))
        await person.say(room, answer)
        last = await person.answer(room, next_prompt, after=seen)
    return last


@pytest.mark.parametrize("encrypted", [False, True], ids=["plain", "encrypted"])
async def test_feedback_in_a_direct_chat(lab: Lab, encrypted: bool) -> None:
    bot = await lab.start_bot()
    anna = await lab.person("anna")
    room = await anna.direct_chat(bot.account.user_id, encrypted=encrypted)

    thanks = await submit(anna, room, "Die Haltestelle am Markt braucht eine Bank.")

    reference = REFERENCE.search(thanks)
    assert reference is not None
    (item,) = await rows(bot.app.db, FeedbackItem)
    assert item.reference == reference.group()
    assert item.text == "Die Haltestelle am Markt braucht eine Bank."
    assert item.kind == "suggestion" and item.platform == "matrix"
    (contact,) = await rows(bot.app.db, Contact)
    assert (contact.user_id, contact.chat_id) == (anna.account.user_id, room)
    # What /metrics tells the city's IT: every message to Anna went through.
    sends = {
        sample.labels["result"]: sample.value
        for family in text_string_to_metric_families(bot.app.metrics.render().decode())
        for sample in family.samples
        if sample.name == "mitreden_sends_total" and sample.labels["channel"] == "matrix"
    }
    assert sends == {"ok": 5}  # four questions and the thanks
    if encrypted:
        # Everything the resident received was encrypted on the wire and decrypted by nio.
        assert anna.client.rooms[room].encrypted
        assert all(c.get("algorithm") is None for _, _, c in anna.received)  # decrypted events


async def test_language_menu_by_number(lab: Lab) -> None:
    bot = await lab.start_bot()
    omar = await lab.person("omar")
    room = await omar.direct_chat(bot.account.user_id, encrypted=False)
    await omar.say(room, "/language")
    menu = await omar.answer(room, "1) ")
    number = next(line.split(")")[0] for line in menu.splitlines() if "English" in line)
    seen = len(omar.bodies(room))
    await omar.say(room, number)
    await omar.answer(room, "English", after=seen)
    (contact,) = await rows(bot.app.db, Contact)
    await until(lambda: True, "")
    assert contact.language == "en"
