"""The coordinator scenario on Telegram, over the fake Bot API server: a resident submits, the
working group's chat shows the item, a coordinator takes it and answers, the resident gets
the answer and writes back, the coordinator sets "implemented", the resident is told.

The bot runs as in production: the Telegram channel answers updates, and a `Delivery` beside
it sends what the outbox holds (both wired by `bot.app.bootstrap`, run by `bot.runtime.run`).
"""

from __future__ import annotations

import asyncio

import pytest

from testkit.fakebotapi import BotMessage
from tests.e2e.conftest import RunningBot, StartBot

pytestmark = pytest.mark.e2e
REF = "F-2026-0001"


@pytest.fixture
async def bot(start_bot: StartBot) -> RunningBot:
    """The bot with the outbox delivered beside the channel, as `mitreden run` runs them."""
    return await start_bot(deliver=True)


async def submit(bot: RunningBot, user_id: int, text: str) -> BotMessage:
    bot.api.inject_text(user_id, text)
    prompt = await bot.message_with(user_id, "Was für eine Rückmeldung ist das?")
    for step, label in enumerate(
        ("Vorschlag", "Bildung und Sprache", "Anonym bleiben", "Abschicken"), 1
    ):
        bot.press(user_id, prompt, label)
        await bot.edited(prompt, step)
    return prompt


async def sent_is_recorded(bot: RunningBot, chat_id: int, message_id: int) -> None:
    items = bot.app.store.items
    for _ in range(250):
        if await items.reference_for_message("telegram", str(chat_id), str(message_id)):
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"message {message_id} in {chat_id} never recorded as sent")


def press_in_group(
    bot: RunningBot, user_id: int, chat_id: int, message: BotMessage, label: str
) -> str:
    for row in (message.reply_markup or {}).get("inline_keyboard", []):
        for button in row:
            if button["text"] == label:
                return bot.api.press_button(
                    user_id, message.message_id, button["callback_data"], chat_id=chat_id
                )
    raise AssertionError(f"no button {label!r} on {message.text!r}")


async def test_resident_coordinator_scenario_on_telegram(bot: RunningBot) -> None:
    rosa = bot.resident("Rosa", language_code="de")
    cora = bot.resident("Cora", language_code="de")
    group = bot.api.add_group("UAG Bildung", [cora.id])
    membership = bot.app.store.membership
    assert await membership.add_coordinator("uag-bildung", "telegram", str(cora.id))
    assert await membership.add_group_chat("uag-bildung", "telegram", str(group.id))

    # The resident submits; the group chat shows the item with its actions.
    confirmation = await submit(bot, rosa.id, "Mehr Deutschkurse am Abend, bitte.")
    assert confirmation.text is not None and f"Ihre Referenz: {REF}" in confirmation.text
    notification = await bot.message_with(group.id, "Neue Rückmeldung")
    assert notification.text is not None
    assert f"{REF} · Vorschlag · Bildung und Sprache" in notification.text
    assert "Von: anonym" in notification.text
    assert "Mehr Deutschkurse am Abend, bitte." in notification.text
    assert notification.buttons == [["Übernehmen"], ["Antworten"], ["Status ändern"]]

    # The coordinator takes it with the button; the resident hears it is being worked on.
    query = press_in_group(bot, cora.id, group.id, notification, "Übernehmen")
    await bot.answered(query)
    await bot.message_with(group.id, f"{REF} ist jetzt bei Ihnen (in Bearbeitung).")
    await bot.message_with(rosa.id, f"Neuer Stand Ihrer Rückmeldung {REF}: in Bearbeitung.")

    # /reply in the group chat reaches the resident, without naming the coordinator.
    bot.api.inject_text(cora.id, f"/reply {REF} Ab September gibt es einen Abendkurs.", group.id)
    await bot.message_with(group.id, f"Ihre Antwort auf {REF} ist unterwegs.")
    answer = await bot.message_with(rosa.id, "Ab September gibt es einen Abendkurs.")
    assert answer.text is not None
    assert answer.text.startswith(
        f"Antwort von Unter-AG Bildung und Sprache zu Ihrer Rückmeldung {REF}:"
    )
    assert "Cora" not in answer.text

    # The resident answers back by replying to that message; the group chat gets it. (A person
    # replies after delivery has recorded which message it sent; the test waits for that.)
    await sent_is_recorded(bot, rosa.id, answer.message_id)
    bot.api.inject_text(
        rosa.id, "Danke! Gibt es auch Kinderbetreuung?", reply_to_message_id=(answer.message_id)
    )
    await bot.message_with(rosa.id, f"Danke, Ihre Nachricht zu {REF} ist an die Arbeitsgruppe")
    back = await bot.message_with(group.id, "Antwort der Person")
    assert back.text is not None and back.text.endswith("Danke! Gibt es auch Kinderbetreuung?")

    # The coordinator sets "implemented"; the resident is told.
    bot.api.inject_text(cora.id, f"/state {REF} implemented", group.id)
    await bot.message_with(group.id, f"{REF} ist jetzt umgesetzt. Die Person wurde informiert.")
    await bot.message_with(rosa.id, f"Neuer Stand Ihrer Rückmeldung {REF}: umgesetzt.")

    (item,) = await bot.items()
    assert (item.state, item.assignee) == ("implemented", f"telegram:{cora.id}")
    events = await bot.app.store.items.list_history(item.id or 0)
    assert [e.action for e in events] == ["created", "taken", "reply", "resident_reply", "state"]

    # Nothing the group chat shows names the resident.
    group_texts = "\n".join(t or "" for t in bot.api.texts_to(group.id))
    assert "Rosa" not in group_texts and str(rosa.id) not in group_texts


async def test_someone_else_in_the_group_chat_is_refused(bot: RunningBot) -> None:
    rosa = bot.resident("Rosa")
    cora = bot.resident("Cora")
    mallory = bot.resident("Mallory")
    group = bot.api.add_group("UAG Bildung", [cora.id, mallory.id])
    await bot.app.store.membership.add_coordinator("uag-bildung", "telegram", str(cora.id))
    await bot.app.store.membership.add_group_chat("uag-bildung", "telegram", str(group.id))
    await submit(bot, rosa.id, "Mehr Deutschkurse am Abend")
    notification = await bot.message_with(group.id, "Neue Rückmeldung")

    bot.api.inject_text(mallory.id, f"/take {REF}", group.id)
    await bot.message_with(group.id, "Diesen Befehl können nur Koordinator:innen")
    query = press_in_group(bot, mallory.id, group.id, notification, "Übernehmen")
    answered = await bot.answered(query)
    assert "nur Koordinator:innen" in str(answered)
    (item,) = await bot.items()
    assert (item.state, item.assignee) == ("received", None)


async def test_answer_button_in_the_group_opens_a_reply_that_reaches_the_resident(
    bot: RunningBot,
) -> None:
    rosa = bot.resident("Rosa", language_code="de")
    cora = bot.resident("Cora", language_code="de")
    group = bot.api.add_group("UAG Bildung", [cora.id])
    await bot.app.store.membership.add_coordinator("uag-bildung", "telegram", str(cora.id))
    await bot.app.store.membership.add_group_chat("uag-bildung", "telegram", str(group.id))
    await submit(bot, rosa.id, "Gibt es Kurse für Eltern?")
    notification = await bot.message_with(group.id, "Neue Rückmeldung")

    await bot.answered(press_in_group(bot, cora.id, group.id, notification, "Antworten"))
    prompt = await bot.message_with(group.id, f"Bitte schreiben Sie jetzt Ihre Antwort auf {REF}")
    # Telegram shows a bot in a group only commands and replies to it: the prompt opens the
    # reply field, and the answer written there reaches the resident.
    assert (prompt.client_markup or {}).get("force_reply") is True
    bot.api.inject_text(
        cora.id, "Ja, dienstags um 18 Uhr.", group.id, reply_to_message_id=prompt.message_id
    )
    await bot.message_with(group.id, f"Ihre Antwort auf {REF} ist unterwegs.")
    await bot.message_with(rosa.id, "Ja, dienstags um 18 Uhr.")


async def test_a_resident_replying_to_her_card_in_the_group_is_not_unmasked(
    bot: RunningBot,
) -> None:
    """Rosa sits in the working group's chat without coordinating it. Her reply to the card of
    her own anonymous item would, answered there, tell everyone who wrote it: the group gets
    only the pointer to the private chat, and nothing goes on to the item."""
    rosa = bot.resident("Rosa")
    cora = bot.resident("Cora")
    group = bot.api.add_group("UAG Bildung", [cora.id, rosa.id])
    await bot.app.store.membership.add_coordinator("uag-bildung", "telegram", str(cora.id))
    await bot.app.store.membership.add_group_chat("uag-bildung", "telegram", str(group.id))
    await submit(bot, rosa.id, "Mehr Deutschkurse am Abend")
    card = await bot.message_with(group.id, "Neue Rückmeldung")
    await sent_is_recorded(bot, group.id, card.message_id)

    bot.api.inject_text(
        rosa.id, "Das war mein Vorschlag.", group.id, reply_to_message_id=card.message_id
    )
    pointer = await bot.message_with(group.id, "Das geht nur im privaten Chat mit mir")
    assert REF not in (pointer.text or "")
    assert not [m for m in bot.api.messages_to(group.id) if "Antwort der Person" in (m.text or "")]
    history = await bot.app.store.feedback.get_history(REF)
    assert "resident_reply" not in [event.action for event in history]
