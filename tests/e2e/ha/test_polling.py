"""Long polling is for one process: a second poller with the same token makes Telegram end
the first one's poll with 409 Conflict. The bot says so in one line, naming the remedy, and
stops (exit code 2 under `mitreden run`), rather than taking turns with the other poller at
getting residents' updates, each half a conversation. On PostgreSQL only the leader polls:
a second process stands by, and polls once the first is gone."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import replace
from typing import Any

import aiohttp
import pytest

from bot.app import bootstrap
from bot.channels.telegram.channel import PollingConflict, TelegramChannel
from bot.config import Settings
from bot.runtime import run
from storage.db import Database
from storage.schema import upgrade_to_head
from testkit.fakebotapi import DEFAULT_TOKEN, FakeBotApi
from tests.e2e.conftest import StartBot

pytestmark = pytest.mark.e2e


async def test_a_second_poller_stops_the_bot_with_one_clear_line(
    start_bot: StartBot, caplog: pytest.LogCaptureFixture
) -> None:
    bot = await start_bot()
    assert bot.task is not None
    url = f"{bot.api.base_url}{bot.settings.telegram.token}/getUpdates"
    caplog.set_level(logging.WARNING)
    async with aiohttp.ClientSession() as session:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 10
        while not bot.task.done():  # another process polling with the same token
            assert loop.time() < deadline, "the bot kept polling beside the other poller"
            async with session.post(url, json={"timeout": 1}) as response:
                await response.read()

    with pytest.raises(PollingConflict) as stopped:
        bot.task.result()
    bot.task = None  # ended, and how is checked here
    assert "another process receives this bot's updates" in str(stopped.value)
    assert "webhook mode" in str(stopped.value)
    polls = bot.api.count("getUpdates", 200) + bot.api.count("getUpdates", 409)
    await asyncio.sleep(0.2)  # a poller still running would ask again within this time
    assert bot.api.count("getUpdates", 200) + bot.api.count("getUpdates", 409) == polls
    assert not [r for r in caplog.records if r.name.startswith("telegram")]  # no tracebacks


@pytest.mark.postgres
async def test_on_postgresql_one_process_polls_and_another_takes_over_when_it_stops(
    settings: Settings, fresh_postgres_database: str
) -> None:
    api = FakeBotApi(DEFAULT_TOKEN)
    await api.start("127.0.0.1", 0)
    setup = Database(fresh_postgres_database)
    await upgrade_to_head(setup)
    await setup.dispose()
    telegram = replace(
        settings.telegram,
        token=DEFAULT_TOKEN,
        base_url=api.base_url,
        base_file_url=api.base_file_url,
    )
    running: list[tuple[asyncio.Event, asyncio.Task[None], Any]] = []

    async def start() -> Any:
        wired = await bootstrap(
            replace(settings, telegram=telegram),
            db=Database(fresh_postgres_database),
            migrate=False,
            channels=[lambda app: TelegramChannel(telegram, app)],
            limits={},
        )
        assert wired.app.cluster is not None  # two processes in one: names of their own
        wired.app.cluster.name = wired.app.cluster.locks.name = f"mitreden test:{len(running)}"
        stop = asyncio.Event()
        running.append(
            (stop, asyncio.create_task(run(wired, stop, deliver=False, schedule=False)), wired)
        )
        return wired

    async def until(condition: Any, what: str) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 15
        while not condition():
            assert loop.time() < deadline, f"timed out waiting for {what}"
            await asyncio.sleep(0.02)

    try:
        first = await start()
        await until(lambda: first.app.leadership.is_leader, "the first one leading")
        second = await start()
        lena = api.add_user("Lena", language_code="de")
        api.inject_text(lena.id, "/help")
        await until(lambda: len(api.messages_to(lena.id)) == 1, "the answer")
        assert not second.app.leadership.is_leader  # it stands by: no second poller, no 409
        assert api.count("getUpdates", 409) == 0

        stop, task, _ = running[0]
        stop.set()
        await task  # a clean stop gives the lead up
        await until(lambda: second.app.leadership.is_leader, "the second one leading")
        api.inject_text(lena.id, "/help")
        await until(lambda: len(api.messages_to(lena.id)) == 2, "the answer from the second")
        assert not running[1][1].done()  # polling on, no conflict with the one before
    finally:
        for stop, task, wired in running:
            stop.set()
            await task
            await wired.close()
        await api.stop()
