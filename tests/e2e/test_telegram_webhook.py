"""Webhook mode: Telegram pushes each update to the bot's HTTPS URL (here through the fake's
stand-in for the TLS proxy to the bot's local port), with the secret set at setWebhook."""

from __future__ import annotations

import json
import re
import socket

import aiohttp
import pytest

from testkit.fakebotapi.webhook import SECRET_HEADER
from tests.e2e.conftest import RunningBot, StartBot

pytestmark = pytest.mark.e2e

PUBLIC = "https://bot.example.org"
SECRET = "s3cret-Token_2026"
REFERENCE = re.compile(r"F-2026-\d{4}")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def start_webhook_bot(start_bot: StartBot) -> tuple[RunningBot, int]:
    port = free_port()
    bot = await start_bot(
        mode="webhook",
        webhook_url=f"{PUBLIC}/telegram",
        webhook_listen="127.0.0.1",
        webhook_port=port,
        webhook_secret=SECRET,
    )
    bot.api.route_webhook(PUBLIC, f"http://127.0.0.1:{port}")
    return bot, port


async def test_a_resident_submits_feedback_through_the_webhook(start_bot: StartBot) -> None:
    bot, _ = await start_webhook_bot(start_bot)
    (registered,) = bot.api.calls(method="setWebhook")
    assert registered.status == 200
    assert bot.api.webhook_url == f"{PUBLIC}/telegram" and bot.api.webhook.secret == SECRET

    lena = bot.resident("Lena")
    bot.api.inject_text(lena.id, "Mehr Sprachkurse am Abend, bitte.")
    prompt = await bot.message_with(lena.id, "Was für eine Rückmeldung ist das?")
    for step, label in enumerate(
        ("Vorschlag", "Bildung und Sprache", "Anonym bleiben", "Abschicken"), 1
    ):
        bot.press(lena.id, prompt, label)
        await bot.edited(prompt, step)

    assert prompt.text is not None and REFERENCE.search(prompt.text)
    (item,) = await bot.items()
    assert item.text == "Mehr Sprachkurse am Abend, bitte."
    assert not bot.api.calls(method="getUpdates")  # nothing was polled
    assert bot.api.webhook.delivered == 5 and not bot.api.updates  # every update pushed once


async def test_an_update_without_the_secret_is_refused_and_not_handled(
    start_bot: StartBot,
) -> None:
    bot, port = await start_webhook_bot(start_bot)
    lena = bot.resident("Lena")
    forged = {
        "update_id": 999,
        "message": {
            "message_id": 1,
            "date": 1_790_000_000,
            "chat": {"id": lena.id, "type": "private", "first_name": "Lena"},
            "from": {"id": lena.id, "is_bot": False, "first_name": "Lena"},
            "text": "Eine gefälschte Rückmeldung",
        },
    }
    async with aiohttp.ClientSession() as session:
        for secret in (None, "wrong"):
            headers = {"Content-Type": "application/json"}
            if secret is not None:
                headers[SECRET_HEADER] = secret
            async with session.post(
                f"http://127.0.0.1:{port}/telegram", data=json.dumps(forged), headers=headers
            ) as response:
                assert response.status == 403

    # A genuine update afterwards is answered; the forged text was dropped, not queued (it
    # would have been answered first, with the question what kind of feedback it is).
    bot.api.inject_text(lena.id, "/help")
    await bot.message_with(lena.id, "/status")
    assert not any("Rückmeldung ist das?" in text for text in bot.api.texts_to(lena.id))
    assert await bot.items() == []
