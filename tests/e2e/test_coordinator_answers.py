"""Answers from the working group's chat, on Telegram over the fake Bot API (follow-ups of
issue 17): one answer per "Antworten" prompt, even when the coordinator used `/reply`
meanwhile; and no "Antworten" for a resident the bot can no longer reach, with the reason."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import RunningBot, StartBot
from tests.e2e.test_coordinator_everyday import REF, TEXT, command, working_group
from tests.e2e.test_coordinator_telegram import press_in_group, submit

pytestmark = pytest.mark.e2e

OUT_OF_REACH = (
    "Die Person ist nicht mehr erreichbar (sie hat den Bot blockiert oder ihre Daten "
    "gelöscht): Antworten kommen nicht mehr an."
)


@pytest.fixture
async def bot(start_bot: StartBot) -> RunningBot:
    return await start_bot(deliver=True)


async def test_reply_command_closes_the_open_answer_prompt(bot: RunningBot) -> None:
    rosa = bot.resident("Rosa")
    cora = bot.resident("Cora")
    group = await working_group(bot, cora)
    await submit(bot, rosa.id, TEXT)
    card = await bot.message_with(group.id, "Neue Rückmeldung")
    await bot.answered(press_in_group(bot, cora.id, group.id, card, "Antworten"))
    prompt = await bot.message_with(group.id, f"Bitte schreiben Sie jetzt Ihre Antwort auf {REF}")

    # She answers with /reply instead, then (as people do) also replies to the prompt.
    sent = await command(bot, group, cora, f"/reply {REF} Ab September gibt es einen Abendkurs.")
    assert sent.text == f"Ihre Antwort auf {REF} ist unterwegs."
    await bot.message_with(rosa.id, "Ab September gibt es einen Abendkurs.")
    before = len(bot.api.messages_to(group.id))
    bot.api.inject_text(
        cora.id, "Ab September gibt es einen Abendkurs!", group.id, prompt.message_id
    )
    (refused,) = (await bot.messages(group.id, before + 1))[before:]

    assert refused.text == (
        f"Auf {REF} haben Sie schon geantwortet, deshalb habe ich diese Nachricht nicht "
        f"weitergegeben. Für eine weitere Antwort schreiben Sie /reply {REF} Ihr Text."
    )
    (item,) = await bot.items()
    history = await bot.app.store.items.list_history(item.id or 0)
    assert [e.action for e in history] == ["created", "reply"]  # one answer, not two
    assert await bot.app.store.conversations.get_state((await bot.contact(cora.id)).id or 0) is (
        None
    )


async def test_no_answer_button_for_a_resident_who_blocked_the_bot(bot: RunningBot) -> None:
    rosa = bot.resident("Rosa")
    cora = bot.resident("Cora")
    group = await working_group(bot, cora)
    await submit(bot, rosa.id, TEXT)
    card = await bot.message_with(group.id, "Neue Rückmeldung")
    assert ["Antworten"] in card.buttons
    bot.api.block_user(rosa.id)
    await bot.until_db(lambda: bot.blocked(rosa.id), "Rosa marked as unreachable")

    shown = await command(bot, group, cora, f"/item {REF}")

    assert shown.text is not None and OUT_OF_REACH in shown.text
    assert shown.buttons == [["Übernehmen"], ["Status ändern"]]
    # The button on the card from before says the same instead of asking for an answer.
    query = press_in_group(bot, cora.id, group.id, card, "Antworten")
    assert (await bot.answered(query)).get("text") == OUT_OF_REACH
