"""A resident's own data never shows in a group chat, on Telegram over the fake Bot API.

Commands about the sender's own data (`/mydata`, `/status`, `/mine`, `/forget`, ...) typed in
any group the bot is in, a working group's chat or not, get only a pointer to the private
chat: a deep link that opens it and greets as /start does. Nothing is sent, nothing changes.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlmodel import Session, SQLModel

from testkit.fakebotapi import BotMessage
from testkit.support import FakeClock
from tests.e2e.conftest import RunningBot
from tests.e2e.test_coordinator_telegram import submit

pytestmark = pytest.mark.e2e

REF = "F-2026-0001"
TEXT = "Mehr Deutschkurse am Abend, bitte."
POINTER = "Das geht nur im privaten Chat mit mir, damit Ihre Daten nicht in der Gruppe stehen."
DEEP_LINK = "https://t.me/fake_bot?start=group"
MARK = "/fertig"
GREETING = "Willkommen bei mitreden!"
PRIVATE = (
    "/mydata",
    "/status",
    f"/status {REF}",
    "/mine",
    "/forget",
    "/myevents",
    "/docs",
    "/events",
    "/feedback Der Spielplatz braucht Schatten.",
    "/language en",
    "/privacy",
    "/start",
    "/stop",
    "/subscribe",
    "/unsubscribe",
    "/link",
    f"/reply {REF} Noch eine Frage dazu.",
)


async def database(bot: RunningBot) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, to show that nothing changed."""

    def work(session: Session) -> dict[str, list[tuple[Any, ...]]]:
        return {
            table.name: sorted(
                (tuple(row) for row in session.execute(select(table)).all()), key=repr
            )
            for table in SQLModel.metadata.sorted_tables
        }

    return await bot.app.db.run(work)


async def answered_in_turn(bot: RunningBot, user_id: int, chat_id: int) -> list[BotMessage]:
    """The bot's messages in `chat_id`, up to its answer to a command typed now: updates of
    one chat are handled in order, so every earlier answer is out by then (the last element).
    The command is one the bot does not know: the answer names it in any language."""
    seen = len(bot.api.messages_to(chat_id))
    bot.api.inject_text(user_id, MARK, chat_id)

    def through_mark() -> list[BotMessage] | None:
        messages = bot.api.messages_to(chat_id)
        for n in range(seen, len(messages)):
            if MARK in shown(messages[n]):
                return messages[: n + 1]
        return None

    answered: list[BotMessage] = await bot.until(through_mark, f"{MARK} answered in {chat_id}")
    return answered


def shown(message: BotMessage) -> str:
    return message.text if message.text is not None else message.caption or ""


@pytest.mark.parametrize("working_group", [False, True], ids=["any-group", "working-group"])
async def test_own_data_commands_in_a_group_get_only_a_pointer(
    bot: RunningBot, clock: FakeClock, working_group: bool
) -> None:
    rosa = bot.resident("Rosalind")
    bert = bot.resident("Bert")
    await submit(bot, rosa.id, TEXT)
    clock.advance(timedelta(minutes=2))  # the flood guard's minute begins anew
    group = bot.api.add_group("Nachbarschaft Nord", [rosa.id, bert.id])
    if working_group:
        assert await bot.app.store.membership.add_group_chat(
            "uag-bildung", "telegram", str(group.id)
        )
    private_before = len(bot.api.messages_to(rosa.id))
    before = await database(bot)

    for command in PRIVATE:
        bot.api.inject_text(rosa.id, command, group.id)
    *answers, mark = await answered_in_turn(bot, rosa.id, group.id)

    # One pointer per command, each with the deep link to the private chat, and nothing else.
    assert [shown(m) for m in answers] == [f"{POINTER}\n{DEEP_LINK}"] * len(PRIVATE)
    assert all(m.method == "sendMessage" and m.file is None for m in answers)
    assert all(m.reply_markup is None for m in answers)  # no language or /forget buttons
    assert not bot.api.calls("sendDocument", chat_id=group.id)
    group_text = "\n".join(shown(m) for m in [*answers, mark])
    for personal in (REF, "Rosalind", str(rosa.id), TEXT, "Bildung und Sprache"):
        assert personal not in group_text
    # Nothing happened in the private chat either, and the database is as it was: no export,
    # no /forget flow begun, no new item, language, subscription and /stop untouched.
    assert len(bot.api.messages_to(rosa.id)) == private_before
    assert await database(bot) == before


async def test_cancel_in_a_group_leaves_the_private_flow_alone(bot: RunningBot) -> None:
    rosa = bot.resident("Rosalind")
    group = bot.api.add_group("Nachbarschaft Nord", [rosa.id])
    bot.api.inject_text(rosa.id, "Die Bank am Markt ist kaputt.")
    await bot.message_with(rosa.id, "Was für eine Rückmeldung ist das?")
    before = await database(bot)

    bot.api.inject_text(rosa.id, "/cancel", group.id)
    *answers, _ = await answered_in_turn(bot, rosa.id, group.id)

    assert [shown(m) for m in answers] == [f"{POINTER}\n{DEEP_LINK}"]
    assert await database(bot) == before  # the feedback in the private chat goes on


async def test_the_deep_link_greets_in_the_private_chat(bot: RunningBot) -> None:
    rosa = bot.resident("Rosalind")
    # Opening t.me/fake_bot?start=group and pressing "Start" sends this.
    bot.api.inject_text(rosa.id, "/start group")
    greeting = await bot.message_with(rosa.id, GREETING)
    assert "Deutsch" in [label for row in greeting.buttons for label in row]
    await bot.message_with(rosa.id, "Datenschutz in Kürze")
    assert not await bot.items()  # "group" is no feedback


async def test_coordinators_and_help_still_work_in_a_group(bot: RunningBot) -> None:
    rosa = bot.resident("Rosalind")
    cora = bot.resident("Cora")
    group = bot.api.add_group("UAG Bildung", [cora.id])
    await bot.app.store.membership.add_coordinator("uag-bildung", "telegram", str(cora.id))
    await bot.app.store.membership.add_group_chat("uag-bildung", "telegram", str(group.id))
    await submit(bot, rosa.id, TEXT)

    bot.api.inject_text(cora.id, "/pending", group.id)
    await bot.message_with(group.id, REF)
    bot.api.inject_text(cora.id, f"/reply {REF} Ab September gibt es einen Abendkurs.", group.id)
    await bot.message_with(group.id, f"Ihre Antwort auf {REF} ist unterwegs.")
    bot.api.inject_text(cora.id, "/help", group.id)
    await bot.message_with(group.id, "So funktioniert mitreden")
    await bot.message_with(group.id, "Für Koordinator:innen:\n/pending")


async def test_whoami_gives_the_ids_the_configuration_needs(bot: RunningBot) -> None:
    """An administrator configures coordinators and group chats by id (`telegram:123`);
    /whoami tells a person theirs, and in a group the chat's too, in that very form."""
    cora = bot.resident("Cora")
    group = bot.api.add_group("UAG Bildung", [cora.id])

    bot.api.inject_text(cora.id, "/whoami")
    await bot.message_with(cora.id, f"Ihre Kennung: telegram:{cora.id}")
    bot.api.inject_text(cora.id, "/whoami", group.id)
    answer = await bot.message_with(group.id, f"Ihre Kennung: telegram:{cora.id}")
    assert f"Dieser Chat: telegram:{group.id}" in shown(answer)
