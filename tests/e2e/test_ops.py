"""Health and metrics as the city's IT sees them: the real bot on Telegram (fake Bot API),
its ops server scraped over HTTP on a free loopback port."""

from __future__ import annotations

import socket

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from storage.models import FeedbackItem, ItemState
from testkit.support import count, outbox_rows
from tests.e2e.conftest import RunningBot, StartBot

pytestmark = pytest.mark.e2e

KIND_QUESTION = "Was für eine Rückmeldung ist das?"


async def get(url: str) -> tuple[int, str]:
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        return response.status, await response.text()


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of a Prometheus page by (name, sorted labels)."""
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


async def submit_feedback(bot: RunningBot, user_id: int, text: str) -> None:
    bot.api.inject_text(user_id, text)
    prompt = await bot.message_with(user_id, KIND_QUESTION)
    for step, label in enumerate(
        ("Vorschlag", "Bildung und Sprache", "Anonym bleiben", "Abschicken"), 1
    ):
        bot.press(user_id, prompt, label)
        await bot.edited(prompt, step)
    assert prompt.text is not None and prompt.text.startswith("Vielen Dank!")


async def test_health_readiness_and_metrics_of_a_running_bot(start_bot: StartBot) -> None:
    bot = await start_bot(ops="127.0.0.1:0")
    assert bot.ops is not None
    anna = bot.resident("Anna")
    await submit_feedback(bot, anna.id, "Die Haltestelle am Markt braucht eine Bank.")

    assert await get(f"{bot.ops.url}/healthz") == (200, "ok")
    assert (await get(f"{bot.ops.url}/readyz"))[0] == 200
    status, page = await get(f"{bot.ops.url}/metrics")
    assert status == 200
    metrics = samples(page)

    handled = metrics[("mitreden_updates_total", (("channel", "telegram"), ("result", "handled")))]
    assert handled >= 5  # the text and four button presses
    assert ("mitreden_updates_total", (("channel", "telegram"), ("result", "failed"))) not in (
        metrics
    )
    assert metrics[("mitreden_reply_seconds_count", ())] == handled
    assert metrics[("mitreden_outbox_messages", (("state", "dead"),))] == 0
    outbox = {
        dict(labels)["state"]: value
        for (name, labels), value in metrics.items()
        if name == "mitreden_outbox_messages"
    }
    assert set(outbox) == {"pending", "sent", "failed", "dead", "skipped"}
    assert sum(outbox.values()) == len(await outbox_rows(bot.app.db))
    received = await count(bot.app.db, FeedbackItem, FeedbackItem.state == ItemState.RECEIVED)
    assert received == 1
    assert metrics[("mitreden_items", (("state", "received"),))] == received
    assert metrics[("mitreden_unreadable_updates_total", ())] == 0
    # The text's answer, and per button the callback's answer and the edited question.
    sent_ok = metrics[("mitreden_sends_total", (("channel", "telegram"), ("result", "ok")))]
    assert sent_ok >= 9
    assert not any(
        name == "mitreden_sends_total" and dict(labels)["result"] != "ok"
        for name, labels in metrics
    )


async def test_a_failed_send_is_counted_and_the_resident_still_gets_the_answer(
    start_bot: StartBot,
) -> None:
    bot = await start_bot(ops="127.0.0.1:0")
    assert bot.ops is not None
    anna = bot.resident("Anna")
    bot.api.fail_next(1, status=502, method="sendMessage")

    bot.api.inject_text(anna.id, "Der Spielplatz braucht Schatten.")

    await bot.message_with(anna.id, KIND_QUESTION)  # retried in place
    metrics = samples((await get(f"{bot.ops.url}/metrics"))[1])
    sends = {
        dict(labels)["result"]: value
        for (name, labels), value in metrics.items()
        if name == "mitreden_sends_total" and dict(labels)["channel"] == "telegram"
    }
    assert sends["temporary"] == 1
    assert sends["ok"] >= 1


async def test_readiness_names_the_database_when_it_does_not_answer(
    start_bot: StartBot,
) -> None:
    bot = await start_bot(ops="127.0.0.1:0")
    assert bot.ops is not None
    assert (await get(f"{bot.ops.url}/readyz"))[0] == 200

    await bot.app.db.dispose()

    status, body = await get(f"{bot.ops.url}/readyz")
    assert status == 503
    assert "database" in body and "telegram" not in body
    assert (await get(f"{bot.ops.url}/healthz"))[0] == 200  # alive, only not ready


async def test_no_ops_server_unless_asked(start_bot: StartBot) -> None:
    bot = await start_bot()

    assert bot.ops is None


async def test_a_taken_ops_port_does_not_keep_the_bot_from_residents(
    start_bot: StartBot, caplog: pytest.LogCaptureFixture
) -> None:
    """Health and metrics are for the IT; residents come first. When the address is taken
    (another process, a second bot on the same machine), the bot says so and serves on."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        bot = await start_bot(ops=f"127.0.0.1:{port}")
        rosa = bot.resident("Rosa")
        bot.api.inject_text(rosa.id, "Mehr Bänke im Park, bitte.")
        await bot.message_with(rosa.id, KIND_QUESTION)
    assert any(
        r.levelname == "ERROR" and f"127.0.0.1:{port}" in r.getMessage() for r in caplog.records
    )
