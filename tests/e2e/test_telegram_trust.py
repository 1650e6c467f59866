"""What a city, a resident and a working group must be able to trust on Telegram (issue 14):
no secret in any output, one unreadable update does not stop the bot, any name works, a
refused button press changes nothing, and a slow Bot API does not double a message."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.channels.telegram.channel import READ_TIMEOUT, bot_request
from bot.ops.logs import QUIET, quiet_libraries
from testkit.fakebotapi import DEFAULT_TOKEN, BotMessage, FakeBotApi
from testkit.fakebotapi.pytest_fixtures import fake_api, fake_clock
from tests.e2e.conftest import RunningBot, StartBot
from tests.e2e.test_telegram_webhook import start_webhook_bot

pytestmark = pytest.mark.e2e
__all__ = ["fake_api", "fake_clock"]  # fixtures used by name below

ROOT = Path(__file__).resolve().parents[2]
REJECTED = "987654321:AAHsEcReTpArT_ofARejectedToken0123456"
KIND_QUESTION = "Was für eine Rückmeldung ist das?"
REF = "F-2026-0001"
EXIT_WITHIN = 60.0


# ---- 3. no secret in any output ----------------------------------------------------------


def mitreden_env(api: FakeBotApi, token: str, tmp_path: Path, log_format: str) -> dict[str, str]:
    """The environment a city's IT gives `mitreden run`: config file, secrets, database."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MITREDEN_")}
    env |= {
        "MITREDEN_CONFIG": str(ROOT / "config.example.toml"),
        "MITREDEN_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/mitreden.db",
        "MITREDEN_TELEGRAM_TOKEN": token,
        "MITREDEN_TELEGRAM_BASE_URL": api.base_url,
        "MITREDEN_TELEGRAM_BASE_FILE_URL": api.base_file_url,
        "MITREDEN_BOT_LOG_FORMAT": log_format,
    }
    return env


async def start_mitreden(env: dict[str, str], tmp_path: Path, *args: str) -> asyncio.Process:
    command = Path(sys.executable).with_name("mitreden")
    return await asyncio.create_subprocess_exec(
        str(command),
        *args,
        env=env,
        cwd=tmp_path,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


async def output_of(process: asyncio.Process) -> tuple[int, str, str]:
    out, err = await asyncio.wait_for(process.communicate(), EXIT_WITHIN)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


def assert_no_secret(token: str, *outputs: str) -> None:
    secret = token.partition(":")[2]
    for output in outputs:
        assert token not in output
        assert secret not in output
        assert secret[:12] not in output  # not even a recognisable piece of it


def assert_json_lines(output: str) -> None:
    """With log_format "json" every line is one JSON object: no bare traceback between."""
    for line in output.splitlines():
        if line.strip():
            json.loads(line)


@pytest.mark.parametrize("log_format", ["text", "json"])
async def test_a_rejected_token_stops_the_bot_with_a_clear_message_and_is_never_printed(
    fake_api: FakeBotApi, tmp_path: Path, log_format: str
) -> None:
    env = mitreden_env(fake_api, REJECTED, tmp_path, log_format)
    code, out, err = await output_of(await start_mitreden(env, tmp_path, "run"))

    assert code != 0
    assert "Telegram rejected the token" in err
    assert fake_api.count("getMe", 401) >= 1  # it was Telegram's answer that stopped it
    assert_no_secret(REJECTED, out, err)
    if log_format == "json":
        assert_json_lines(err)


async def test_a_token_revoked_while_running_stops_the_bot_with_a_clear_message(
    fake_api: FakeBotApi, tmp_path: Path
) -> None:
    env = mitreden_env(fake_api, DEFAULT_TOKEN, tmp_path, "text")
    process = await start_mitreden(env, tmp_path, "run")
    try:
        anna = fake_api.add_user("Anna")
        fake_api.inject_text(anna.id, "/help")
        loop = asyncio.get_running_loop()
        deadline = loop.time() + EXIT_WITHIN
        while not fake_api.messages_to(anna.id):  # the bot is up and answers
            assert process.returncode is None and loop.time() < deadline
            await asyncio.sleep(0.05)

        fake_api.revoke_token("987654321:AAOtherTokenAfterTheOldOneWasRevoked")
        fake_api.inject_text(anna.id, "/help")  # ends the long poll under way
        code, out, err = await output_of(process)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()

    assert code != 0
    assert "Telegram rejected the token" in err
    assert_no_secret(DEFAULT_TOKEN, out, err)


async def test_help_shows_no_secret(fake_api: FakeBotApi, tmp_path: Path) -> None:
    env = mitreden_env(fake_api, REJECTED, tmp_path, "text")
    code, out, err = await output_of(await start_mitreden(env, tmp_path, "--help"))
    assert code == 0 and "usage: mitreden" in out
    assert_no_secret(REJECTED, out, err)


# ---- 5. an update the bot cannot read ----------------------------------------------------

# A poll as an older Bot API server words it: its options lack `persistent_id`, which
# python-telegram-bot 22 requires (`PollOption` raises TypeError).
OLD_POLL = {
    "poll": {
        "id": "5301",
        "question": "Wer kommt zum Elternabend bei Familie Nachtigall?",
        "options": [
            {"text": "Emine Nachtigall mit Tochter", "voter_count": 0},
            {"text": "Leider nicht", "voter_count": 0},
        ],
        "total_voter_count": 0,
        "is_closed": False,
        "is_anonymous": True,
        "type": "regular",
        "allows_multiple_answers": False,
    }
}
PRIVATE = ("Nachtigall", "Elternabend", "Emine")


@pytest.fixture
def production_log_levels() -> Iterator[None]:
    """The library levels `mitreden run` sets (bot.ops.logs), undone afterwards."""
    before = {name: logging.getLogger(name).level for name in QUIET}
    quiet_libraries()
    yield
    for name, level in before.items():
        logging.getLogger(name).setLevel(level)


def skipped_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if "cannot be read" in r.getMessage()]


async def test_an_update_the_bot_cannot_read_is_skipped_and_everyone_else_is_answered(
    bot: RunningBot, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    emine = bot.resident("Emine Nachtigall")
    rosa = bot.resident("Rosa")
    unreadable = bot.api.inject_message(emine.id, OLD_POLL)
    bot.api.inject_text(rosa.id, "Die Bücherei sollte samstags länger offen haben.")

    await bot.message_with(rosa.id, KIND_QUESTION)
    # Acknowledged: the next getUpdates confirmed it, so a restart does not meet it again.
    await bot.until(
        lambda: all(u["update_id"] != unreadable for u in bot.api.updates),
        "the unreadable update to be acknowledged",
    )
    assert bot.channel.unreadable.count == 1
    (line,) = skipped_lines(caplog)
    assert str(unreadable) in line and "TypeError" in line
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    for word in PRIVATE:  # at no level, not even PTB's DEBUG lines
        assert word not in caplog.text
    assert bot.api.messages_to(emine.id) == []


async def test_no_log_line_holds_a_residents_text_at_any_level(
    bot: RunningBot, caplog: pytest.LogCaptureFixture, production_log_levels: None
) -> None:
    caplog.set_level(logging.DEBUG)
    rosa = bot.resident("Rosa Wunderlich")
    bot.api.inject_message(rosa.id, OLD_POLL)
    bot.api.inject_text(rosa.id, "Die Bücherei sollte samstags länger offen haben.")
    prompt = await bot.message_with(rosa.id, KIND_QUESTION)
    bot.press(rosa.id, prompt, "Vorschlag")
    await bot.edited(prompt, 1)

    for word in (*PRIVATE, "Bücherei", "samstags", "Wunderlich"):
        assert word not in caplog.text


async def test_an_unreadable_update_through_the_webhook_is_acknowledged_and_skipped(
    start_bot: StartBot, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    bot, _ = await start_webhook_bot(start_bot)
    emine = bot.resident("Emine Nachtigall")
    rosa = bot.resident("Rosa")
    bot.api.inject_message(emine.id, OLD_POLL)
    bot.api.inject_text(rosa.id, "Die Bücherei sollte samstags länger offen haben.")

    await bot.message_with(rosa.id, KIND_QUESTION)
    assert bot.api.webhook.delivered == 2 and not bot.api.updates
    assert bot.api.webhook.last_error_date is None  # answered 200 at once, never retried
    assert bot.channel.unreadable.count == 1
    assert len(skipped_lines(caplog)) == 1
    for word in PRIVATE:
        assert word not in caplog.text


# ---- 6. any name, or none ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("last_name", "username", "display_name"),
    [(None, None, ""), ("Yılmaz", None, "Yılmaz"), (None, "ayse_k", "@ayse_k")],
)
async def test_a_resident_with_an_empty_first_name_is_answered(
    bot: RunningBot, last_name: str | None, username: str | None, display_name: str
) -> None:
    nameless = bot.api.add_user("", last_name=last_name, username=username)
    bot.api.inject_text(nameless.id, "Am Bahnhof fehlt ein Fahrradständer.")
    prompt = await bot.message_with(nameless.id, KIND_QUESTION)
    for step, label in enumerate(
        ("Vorschlag", "Bildung und Sprache", "Mit meinem Namen", "Abschicken"), 1
    ):
        bot.press(nameless.id, prompt, label)
        await bot.edited(prompt, step)

    assert prompt.text is not None and prompt.text.startswith("Vielen Dank!")
    (item,) = await bot.items()
    assert item.text == "Am Bahnhof fehlt ein Fahrradständer."
    assert (await bot.contact(nameless.id)).display_name == display_name


# ---- 7. a refused press changes nothing ----------------------------------------------------


@pytest.fixture
async def delivering(start_bot: StartBot) -> RunningBot:
    """The bot with the outbox delivered, as `mitreden run` does (cards reach group chats)."""
    return await start_bot(deliver=True)


def press_in_group(bot: RunningBot, user_id: int, chat_id: int, card: BotMessage) -> str:
    for row in (card.reply_markup or {}).get("inline_keyboard", []):
        for button in row:
            if button["text"] == "Übernehmen":
                return bot.api.press_button(
                    user_id, card.message_id, button["callback_data"], chat_id=chat_id
                )
    raise AssertionError(f"no button 'Übernehmen' on {card.text!r}")


async def test_a_refused_press_leaves_the_card_and_its_buttons_as_they_were(
    delivering: RunningBot,
) -> None:
    bot = delivering
    rosa, cora, mallory = bot.resident("Rosa"), bot.resident("Cora"), bot.resident("Mallory")
    group = bot.api.add_group("UAG Bildung", [cora.id, mallory.id])
    await bot.app.store.membership.add_coordinator("uag-bildung", "telegram", str(cora.id))
    await bot.app.store.membership.add_group_chat("uag-bildung", "telegram", str(group.id))
    bot.api.inject_text(rosa.id, "Mehr Deutschkurse am Abend")
    prompt = await bot.message_with(rosa.id, KIND_QUESTION)
    for step, label in enumerate(
        ("Vorschlag", "Bildung und Sprache", "Anonym bleiben", "Abschicken"), 1
    ):
        bot.press(rosa.id, prompt, label)
        await bot.edited(prompt, step)
    card = await bot.message_with(group.id, "Neue Rückmeldung")
    shown = (card.text, card.reply_markup)

    refused = press_in_group(bot, mallory.id, group.id, card)
    assert "nur Koordinator:innen" in str(await bot.answered(refused))
    # The group's next update is handled after the refused press is done with.
    bot.api.inject_text(cora.id, "/pending", group.id)
    await bot.messages(group.id, 2)  # the card, then the list
    assert (card.text, card.reply_markup) == shown
    assert card.edits == [] and not bot.api.calls(method="editMessageReplyMarkup")

    await bot.answered(press_in_group(bot, cora.id, group.id, card))  # still there to press
    await bot.until_db(
        lambda: _assignee_is(bot, f"telegram:{cora.id}"), "the item taken by the coordinator"
    )


async def _assignee_is(bot: RunningBot, actor: str) -> bool:
    (item,) = await bot.items()
    return item.assignee == actor


# ---- 13. a slow Bot API does not double a message -------------------------------------------

SLOW_ANSWER = 8.0  # seconds a slow Bot API took to answer, in the report behind issue 14
SCALE = 10  # the test runs the same ratio of answer time to timeout, ten times faster


async def test_a_send_the_bot_api_answers_slowly_is_not_sent_twice(start_bot: StartBot) -> None:
    bot = await start_bot(request=bot_request(read_timeout=READ_TIMEOUT / SCALE))
    rosa = bot.resident("Rosa")
    bot.api.hang_next(1, seconds=SLOW_ANSWER / SCALE, method="sendMessage")
    bot.api.inject_text(rosa.id, "Die Bücherei sollte samstags länger offen haben.")

    await bot.message_with(rosa.id, KIND_QUESTION)
    bot.api.inject_text(rosa.id, "/help")  # the chat's next turn: the first one is done
    await bot.message_with(rosa.id, "/status")
    assert bot.api.texts_to(rosa.id).count(KIND_QUESTION) == 1
    assert len(bot.api.calls(method="sendMessage", chat_id=rosa.id)) == 2
    assert bot.sleeps.calls == []  # nothing was retried
