"""A resident's rights on Telegram, over the fake Bot API server with the outbox delivered:
after /stop, answers and changes of state about their own items still reach them (only what
the bot sends on its own stops); a coordinator is told the truth about whether the person
hears of it; and /forget with "keep as anonymous texts" leaves no name of theirs anywhere.
"""

from __future__ import annotations

import pytest

from handlers.announce import enqueue_announcement
from storage.models import ItemEvent, OutboxMessage
from testkit.fakebotapi import BotMessage, User
from testkit.support import rows
from tests.e2e.conftest import RunningBot, StartBot
from tests.e2e.test_coordinator_telegram import sent_is_recorded
from tests.unit.test_privacy import scan_for

pytestmark = pytest.mark.e2e
REF = "F-2026-0001"


@pytest.fixture
async def bot(start_bot: StartBot) -> RunningBot:
    """The bot with a delivery loop beside it, as `mitreden run` runs them."""
    return await start_bot(deliver=True)


async def working_group(bot: RunningBot) -> tuple[User, int]:
    """Cora, coordinator of uag-bildung, and the group's chat she is in."""
    cora = bot.resident("Cora")
    group = bot.api.add_group("UAG Bildung", [cora.id])
    assert await bot.app.store.membership.add_coordinator("uag-bildung", "telegram", str(cora.id))
    assert await bot.app.store.membership.add_group_chat("uag-bildung", "telegram", str(group.id))
    return cora, group.id


async def submit(
    bot: RunningBot, user_id: int, text: str, anonymity: str = "Anonym bleiben"
) -> BotMessage:
    bot.api.inject_text(user_id, text)
    prompt = await bot.message_with(user_id, "Was für eine Rückmeldung ist das?")
    for step, label in enumerate(("Vorschlag", "Bildung und Sprache", anonymity, "Abschicken"), 1):
        bot.press(user_id, prompt, label)
        await bot.edited(prompt, step)
    assert f"Ihre Referenz: {REF}" in (prompt.text or "")
    return prompt


def texts(bot: RunningBot, chat_id: int) -> str:
    return "\n".join(t or "" for t in bot.api.texts_to(chat_id))


# ---- /stop: what the resident asked about still reaches them ------------------------------


async def test_after_stop_answers_and_state_changes_still_reach_the_resident(
    bot: RunningBot,
) -> None:
    rosa = bot.resident("Rosa")
    bruno = bot.resident("Bruno")
    cora, group = await working_group(bot)
    await submit(bot, rosa.id, "Mehr Deutschkurse am Abend, bitte.")
    bot.api.inject_text(bruno.id, "/start")
    await bot.message_with(bruno.id, "Willkommen bei mitreden!")
    bot.api.inject_text(rosa.id, "/stop")
    await bot.message_with(rosa.id, "außer Antworten auf Ihre eigenen Nachrichten")

    # The coordinator answers in the group chat: the answer is on its way, and it arrives.
    bot.api.inject_text(cora.id, f"/reply {REF} Ab September gibt es einen Abendkurs.", group)
    await bot.message_with(group, f"Ihre Antwort auf {REF} ist unterwegs.")
    answer = await bot.message_with(rosa.id, "Ab September gibt es einen Abendkurs.")
    assert f"zu Ihrer Rückmeldung {REF}" in (answer.text or "")

    # "Implemented" with a note: the person is told, and is.
    bot.api.inject_text(cora.id, f"/state {REF} implemented Der Kurs ist eingerichtet.", group)
    await bot.message_with(group, f"{REF} ist jetzt umgesetzt. Die Person wurde informiert.")
    told = await bot.message_with(rosa.id, f"Neuer Stand Ihrer Rückmeldung {REF}: umgesetzt.")
    assert "Anmerkung der Arbeitsgruppe: Der Kurs ist eingerichtet." in (told.text or "")

    # What the bot sends on its own still stops: an announcement reaches Bruno, not Rosa.
    await enqueue_announcement(
        bot.app.store, "all", "Einladung zum Runden Tisch", bot.app.clock.now()
    )
    await bot.message_with(bruno.id, "Einladung zum Runden Tisch")
    assert "Einladung" not in texts(bot, rosa.id)
    to_rosa = await rows(bot.app.db, OutboxMessage, OutboxMessage.chat_id == str(rosa.id))
    assert [r.reference for r in to_rosa] == [REF, REF]  # the answer and the new state only


async def test_a_coordinator_hears_when_the_resident_cannot_be_told(bot: RunningBot) -> None:
    rosa = bot.resident("Rosa")
    cora, group = await working_group(bot)
    await submit(bot, rosa.id, "Mehr Deutschkurse am Abend, bitte.")
    bot.api.block_user(rosa.id)
    await bot.until_db(lambda: bot.blocked(rosa.id), "the contact to be marked blocked")

    bot.api.inject_text(cora.id, f"/state {REF} implemented Der Kurs ist eingerichtet.", group)
    await bot.message_with(group, f"{REF} ist jetzt umgesetzt. Die Person ist nicht erreichbar")
    bot.api.inject_text(cora.id, f"/reply {REF} Ab September gibt es einen Abendkurs.", group)
    await bot.message_with(group, "Die Antwort ist gespeichert, aber die Person ist nicht mehr")
    assert "informiert" not in texts(bot, group) and "unterwegs" not in texts(bot, group)
    assert not await rows(bot.app.db, OutboxMessage, OutboxMessage.chat_id == str(rosa.id))


async def test_writing_in_a_group_does_not_make_a_blocked_resident_reachable(
    bot: RunningBot,
) -> None:
    """Only the private chat tells that the bot may write to her again: a message in a
    group says nothing about whether she still blocks the bot."""
    rosa = bot.resident("Rosa")
    cora, group = await working_group(bot)
    await submit(bot, rosa.id, "Mehr Deutschkurse am Abend, bitte.")
    bot.api.block_user(rosa.id)
    await bot.until_db(lambda: bot.blocked(rosa.id), "the contact to be marked blocked")

    neighbours = bot.api.add_group("Nachbarschaft", [rosa.id]).id
    bot.api.inject_text(rosa.id, "/help", neighbours)
    await bot.message_with(neighbours, "So funktioniert mitreden")
    bot.api.inject_text(cora.id, f"/reply {REF} Ab September gibt es einen Abendkurs.", group)
    await bot.message_with(group, "Die Antwort ist gespeichert, aber die Person ist nicht mehr")
    assert await bot.blocked(rosa.id)
    assert not await rows(bot.app.db, OutboxMessage, OutboxMessage.chat_id == str(rosa.id))


# ---- /forget: texts kept anonymous name nobody ---------------------------------------------


async def test_forget_keeping_anonymous_texts_leaves_no_name_in_any_table(
    bot: RunningBot,
) -> None:
    amira = bot.api.add_user("Amira", last_name="Yilmaz", username="amira_y")
    cora, group = await working_group(bot)
    await submit(bot, amira.id, "Mehr Deutschkurse am Abend, bitte.", "Mit meinem Namen")
    card = await bot.message_with(group, "Neue Rückmeldung")
    assert "Von: Amira Yilmaz" in (card.text or "")

    # The coordinator greets her by name; she answers back, signing with her name.
    bot.api.inject_text(cora.id, f"/reply {REF} Hallo Amira, danke für die Idee!", group)
    answer = await bot.message_with(amira.id, "Hallo Amira, danke für die Idee!")
    await sent_is_recorded(bot, amira.id, answer.message_id)
    bot.api.inject_text(
        amira.id,
        "Gerne! Amira Yilmaz, auf Telegram @amira_y",
        reply_to_message_id=answer.message_id,
    )
    back = await bot.message_with(group, "Antwort der Person")
    assert "Von: Amira Yilmaz" in (back.text or "")
    needles = ["Amira", "Yilmaz", "amira_y", str(amira.id)]
    assert await scan_for(bot.app, needles)  # the scan does find them before

    bot.api.inject_text(amira.id, "/forget")
    question = await bot.message_with(amira.id, "Möchten Sie, dass wir Ihre Daten löschen?")
    bot.press(amira.id, question, "Löschen, Rückmeldungen anonym behalten")
    await bot.edited(question, 1)
    assert "Ihre Daten sind gelöscht" in (question.text or "")

    assert await scan_for(bot.app, needles) == []
    (item,) = await bot.items()
    assert (item.text, item.contact_id) == ("Mehr Deutschkurse am Abend, bitte.", None)
    history = {e.action: e.text for e in await rows(bot.app.db, ItemEvent)}
    assert history["reply"] == "Hallo […], danke für die Idee!"
    assert history["resident_reply"] == "Gerne! […], auf Telegram […]"
