"""Telegram's limits and errors, met by the real channel through the fake Bot API server."""

from __future__ import annotations

import itertools
import json
import logging
import re

import pytest

from bot.delivery.sending import Unreachable
from handlers.messages import Attachment, Choice, Reply
from testkit.fakebotapi import DEFAULT_TOKEN
from tests.e2e.conftest import RunningBot

pytestmark = pytest.mark.e2e

MINE_EMPTY = "Sie haben noch keine Rückmeldung geschickt. Schreiben Sie einfach los."


async def test_blocking_marks_the_contact_and_writing_again_clears_it(bot: RunningBot) -> None:
    anna = bot.resident("Anna")
    bot.api.inject_text(anna.id, "/mine")
    await bot.message_with(anna.id, MINE_EMPTY)
    assert (await bot.contact(anna.id)).blocked_at is None

    bot.api.block_user(anna.id)  # Telegram sends my_chat_member: kicked

    await bot.until_db(lambda: bot.blocked(anna.id), "the contact marked as blocked")
    assert (await bot.contact(anna.id)).blocked_at == bot.app.clock.now()
    with pytest.raises(Unreachable):
        await bot.channel.sender.send(str(anna.id), Reply("Neuigkeiten"))
    assert bot.api.count("sendMessage", 403) == 1  # refused once, not retried

    bot.api.inject_text(anna.id, "/mine")  # "Restart bot" unblocks, then the message
    await bot.until(lambda: len(bot.api.messages_to(anna.id)) == 2, "the second answer")
    assert (await bot.contact(anna.id)).blocked_at is None


async def test_reply_to_a_user_who_blocked_meanwhile(bot: RunningBot) -> None:
    anna = bot.resident("Anna")
    bot.api.inject_text(anna.id, "/mine")
    bot.api.block_user(anna.id)  # before the bot has answered

    await bot.until_db(lambda: bot.blocked(anna.id), "the contact marked as blocked")
    await bot.until(lambda: bot.api.count("sendMessage", 403) == 1, "the refused reply")
    assert bot.api.messages_to(anna.id) == []
    assert bot.sleeps.calls == []  # a 403 is never retried


async def test_server_error_is_retried(bot: RunningBot) -> None:
    anna = bot.resident("Anna")
    bot.api.fail_next(1, status=502, method="sendMessage")
    bot.api.inject_text(anna.id, "/mine")
    await bot.message_with(anna.id, MINE_EMPTY)
    statuses = [c.status for c in bot.api.calls(method="sendMessage", chat_id=anna.id)]
    assert statuses == [502, 200]
    assert bot.sleeps.calls == [0.5]
    assert len(bot.api.messages_to(anna.id)) == 1


async def test_persistent_server_errors_back_off_then_give_up(
    bot: RunningBot, caplog: pytest.LogCaptureFixture
) -> None:
    anna = bot.resident("Anna")
    bot.api.fail_next(5, status=503, method="sendMessage")
    await bot.channel.sender.send(str(anna.id), Reply("Erinnerung"))  # logged, not raised
    assert [c.status for c in bot.api.calls(method="sendMessage")] == [503] * 5
    assert bot.sleeps.calls == [0.5, 1.0, 2.0, 4.0]
    assert "failed after 5 attempts" in caplog.text
    bot.api.inject_text(anna.id, "/mine")  # the next reply goes through again
    await bot.message_with(anna.id, MINE_EMPTY)


async def test_flood_limit_is_honoured_and_nothing_is_lost(bot: RunningBot) -> None:
    anna = bot.resident("Anna")
    bot.api.set_limits(True)
    burst = 7
    for _ in range(burst):
        bot.api.inject_text(anna.id, "/mine")
    await bot.until(
        lambda: len(bot.api.messages_to(anna.id)) == burst, f"{burst} answers", within=10
    )
    assert bot.api.texts_to(anna.id) == [MINE_EMPTY] * burst
    refused = bot.api.calls(status=429, chat_id=anna.id)
    assert refused, "the burst should have met the flood limit"
    # Each 429 was waited out: the next refusal comes only after retry_after has passed.
    for earlier, later in itertools.pairwise(refused):
        match = re.search(r"retry after (\d+)", earlier.description or "")
        assert match is not None
        assert later.t - earlier.t >= int(match.group(1))
    assert bot.sleeps.calls == [1.0] * len(refused)
    assert len(bot.api.calls(method="sendMessage", status=200, chat_id=anna.id)) == burst


async def test_chat_not_found_is_logged_and_dropped(
    bot: RunningBot, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="bot")
    await bot.channel.sender.send("999999", Reply("x"))  # does not raise
    (record,) = [r for r in caplog.records if "telegram 400" in r.getMessage()]
    assert record.levelno == logging.ERROR
    assert "999999" in record.getMessage()
    assert "chat not found" in record.getMessage().lower()
    assert bot.api.count("sendMessage", 400) == 1
    assert bot.sleeps.calls == []


async def test_long_text_is_split(bot: RunningBot) -> None:
    anna = bot.resident("Anna")
    text = " ".join(f"Wort{i:05d}" for i in range(1200))  # 10,799 characters
    await bot.channel.sender.send(str(anna.id), Reply(text))
    texts = [t or "" for t in bot.api.texts_to(anna.id)]
    assert len(texts) == 3
    assert all(len(t) <= 4096 for t in texts)
    assert " ".join(texts) == text


async def test_file_with_a_long_caption_becomes_text_and_document(bot: RunningBot) -> None:
    anna = bot.resident("Anna")
    data = b"%PDF-1.7\n" + b"p" * 2000
    caption = "Einladung zum Runden Tisch. " * 40  # 1,120 characters
    pdf = Attachment("document", "tisch.pdf", "application/pdf", data)
    reply = Reply(caption.strip(), files=(pdf,))
    await bot.channel.sender.send(str(anna.id), reply)
    text, document = bot.api.messages_to(anna.id)
    assert (text.method, text.text) == ("sendMessage", caption.strip())
    assert document.method == "sendDocument"
    assert document.caption is None and document.data == data
    assert document.json["document"]["file_name"] == "tisch.pdf"


def menus(bot: RunningBot) -> dict[str, dict[str, str]]:
    """Command → description of each stored menu, by language ("" is the default menu)."""
    default = json.dumps({"type": "default"}, sort_keys=True)
    shipped = [code for code in bot.app.router.catalogues.languages if len(code) == 2]
    assert "de_simple" not in shipped  # Telegram takes ISO 639-1 codes only
    assert set(bot.api.commands) == {(default, language) for language in ("", *shipped)}
    return {
        language: {c["command"]: c["description"] for c in menu}
        for (_, language), menu in bot.api.commands.items()
    }


async def test_command_menus_for_every_language(bot: RunningBot) -> None:
    described = menus(bot)
    two_letter = [code for code in bot.app.router.catalogues.languages if len(code) == 2]
    assert len(bot.api.calls(method="setMyCommands", status=200)) == 1 + len(two_letter)
    assert described["de"]["feedback"] == "Neue Rückmeldung schicken"
    assert list(described["de"]) == [
        "feedback",
        "status",
        "mine",
        "outcomes",
        "events",
        "polls",
        "language",
        "privacy",
        "link",
        "cancel",
        "help",
    ]
    assert described[""] == described["de"]  # German is the default language
    assert list(described["en"]) == list(described["de"])
    assert {"feedback", "status", "mine", "language", "cancel", "help"} <= set(described["en"])


async def test_english_command_menu_is_english(bot: RunningBot) -> None:
    described = menus(bot)
    assert described["en"]["help"] == "Help"
    assert all(described["en"][c] != described["de"][c] for c in described["de"])


async def test_token_never_reaches_the_log(
    bot: RunningBot, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    # As bot.ops.logs.configure_logging does in production: httpx logs every URL at INFO.
    caplog.set_level(logging.WARNING, logger="httpx")
    caplog.set_level(logging.WARNING, logger="httpcore")
    anna = bot.resident("Anna")
    bot.api.fail_next(1, status=500, method="sendMessage")
    bot.api.inject_text(anna.id, "Eine Frage zur Kita")
    await bot.message_with(anna.id, "Was für eine Rückmeldung ist das?")
    await bot.channel.sender.send("424242", Reply("x"))
    bot.api.block_user(anna.id)
    with pytest.raises(Unreachable):
        await bot.channel.sender.send(str(anna.id), Reply("x"))
    assert any(r.levelno >= logging.WARNING for r in caplog.records)
    secret = DEFAULT_TOKEN.split(":", 1)[1]
    assert secret not in caplog.text
    for record in caplog.records:
        assert secret not in record.getMessage()
        assert secret not in str(record.__dict__)


async def test_a_button_on_a_file_is_answered_with_a_new_message(bot: RunningBot) -> None:
    """The event reminder carries its calendar file: a caption cannot take a new text, so the
    answer comes as a new message and the file's buttons go away (no 400 from Telegram)."""
    anna = bot.resident("Anna")
    ics = Attachment("document", "termin.ics", "text/calendar", b"BEGIN:VCALENDAR\r\n")
    reminder = Reply(
        "Morgen ist es so weit. Kommen Sie?", (Choice("Ich komme", "x:yes"),), files=(ics,)
    )
    await bot.channel.sender.send(str(anna.id), reminder)
    (message,) = bot.api.messages_to(anna.id)
    assert message.method == "sendDocument" and message.buttons == [["Ich komme"]]
    query = bot.press(anna.id, message, "Ich komme")
    await bot.channel.sender.answer_button(
        str(anna.id),
        str(message.message_id),
        query,
        [Reply("Schön, bis morgen!", replaces_prompt=True)],
        pressed_text=None,
        pressed_has_text=False,
    )
    file_message, answer = bot.api.messages_to(anna.id)
    assert answer.text == "Schön, bis morgen!"
    assert file_message.buttons == []
    assert not bot.api.calls(method="editMessageText")
    # The running bot also receives the press and may answer its callback first, so a second
    # answerCallbackQuery can be "too old": only the calls about the file and text count.
    assert all(
        c.status == 200
        for c in bot.api.sent_log
        if c.method not in ("getUpdates", "answerCallbackQuery")
    )
