"""A resident's words under their photo reach the working group (follow-up of issues 16/17):
the caption a resident wrote with a file arrives with that file in the group's chat and with
`/item`, on Telegram over the fake Bot API server."""

from __future__ import annotations

import pytest

from testkit.fakebotapi import BotMessage
from tests.e2e.conftest import RunningBot, StartBot
from tests.e2e.test_coordinator_everyday import command, working_group

pytestmark = pytest.mark.e2e

PHOTO = b"\xff\xd8\xff\xe0" + bytes(range(256)) * 2
CAPTION = "Das Loch ist 30 cm tief"
KIND = "Was für eine Rückmeldung ist das?"
SUBMIT = ("Kritik", "Bildung und Sprache", "Anonym bleiben", "Abschicken")
REF = "F-2026-0001"


@pytest.fixture
async def bot(start_bot: StartBot) -> RunningBot:
    return await start_bot(deliver=True)


def files_in(bot: RunningBot, chat_id: int) -> list[BotMessage]:
    return [m for m in bot.api.messages_to(chat_id) if m.data]


async def test_the_caption_of_a_residents_photo_reaches_the_working_group(
    bot: RunningBot,
) -> None:
    anna = bot.resident("Anna")
    cora = bot.resident("Cora")
    group = await working_group(bot, cora)
    bot.api.inject_text(anna.id, "Schlagloch vor der Schule")
    await bot.message_with(anna.id, KIND)
    bot.api.inject_photo(anna.id, PHOTO, caption=CAPTION)
    prompt = (await bot.messages(anna.id, 3))[2]
    assert prompt.text == KIND
    for step, label in enumerate(SUBMIT, 1):
        bot.press(anna.id, prompt, label)
        await bot.edited(prompt, step)

    # The group's chat: the card with its buttons, then the photo with Anna's words under it.
    card = await bot.message_with(group.id, "Neue Rückmeldung")
    assert card.text is not None and "Schlagloch vor der Schule" in card.text
    assert ["Antworten"] in card.buttons
    (photo,) = await bot.until(lambda: files_in(bot, group.id), "the photo in the group")
    assert (photo.data, photo.caption) == (PHOTO, CAPTION)

    # /item shows it the same way.
    sent = len(bot.api.messages_to(group.id))
    shown = await command(bot, group, cora, f"/item {REF}")
    assert shown.text is not None and "Schlagloch vor der Schule" in shown.text
    again = await bot.until(
        lambda: [m for m in bot.api.messages_to(group.id)[sent:] if m.data], "the /item photo"
    )
    assert [(m.data, m.caption) for m in again] == [(PHOTO, CAPTION)]


async def test_a_photo_without_words_still_carries_the_card(bot: RunningBot) -> None:
    """Without a caption of its own, the card still rides on the file as before: one message."""
    anna = bot.resident("Anna")
    cora = bot.resident("Cora")
    group = await working_group(bot, cora)
    bot.api.inject_photo(anna.id, PHOTO)
    await bot.message_with(anna.id, "Bitte schreiben Sie Ihre Rückmeldung")
    bot.api.inject_text(anna.id, "Schlagloch vor der Schule")
    prompt = await bot.message_with(anna.id, KIND)
    for step, label in enumerate(SUBMIT, 1):
        bot.press(anna.id, prompt, label)
        await bot.edited(prompt, step)

    card = await bot.message_with(group.id, "Neue Rückmeldung")
    assert card.data == PHOTO and card.caption is not None
    assert "Schlagloch vor der Schule" in card.caption
