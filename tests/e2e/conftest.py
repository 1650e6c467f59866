"""The real bot, long polling a fake Bot API server over loopback.

`start_bot(**telegram_changes)` wires the bot with `bot.app.bootstrap` from config.example.toml
on a temporary SQLite file, its Telegram channel pointed at a fresh `FakeBotApi`, and runs it
with `bot.runtime.run` as a task (the outbox delivered too with `deliver=True`, unpaced and
quick, as `mitreden run` delivers it; its health and metrics with `ops="127.0.0.1:0"`);
every started bot is stopped at teardown. The sender's back-off sleeps are recorded and move
the fake server's clock instead of waiting, so retry paths cost no wall time.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from telegram.request import BaseRequest

from bot.app import App, bootstrap
from bot.channels.telegram.channel import TelegramChannel
from bot.channels.telegram.send import TelegramSender
from bot.config import Settings
from bot.ops.server import OpsServer
from bot.runtime import run
from handlers.messages import Platform
from handlers.settings import DeliverySettings, OpsSettings
from storage.db import Database
from storage.models import Contact, FeedbackItem
from testkit.fakebotapi import DEFAULT_TOKEN, BotMessage, FakeBotApi, FakeClock, User
from testkit.proxyserver import ProxyServer
from testkit.support import FakeClock as AppClock
from testkit.support import rows
from testkit.synapse import Synapse, SynapseNotFound, find_python

WAIT_SECONDS = 5.0
POLL_EVERY = 0.005
DELIVERY = DeliverySettings(workers=2, poll_interval_seconds=0.02)


class RecordedSleeps:
    """`TelegramSender(sleep=...)`: records each wait and moves the server's clock by it."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.calls: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)
        self.clock.advance(seconds)
        await asyncio.sleep(0)


@dataclass
class RunningBot:
    api: FakeBotApi
    app: App
    channel: TelegramChannel
    settings: Settings
    server_clock: FakeClock
    sleeps: RecordedSleeps
    ops: OpsServer | None = None  # started with `ops=...`
    stop: asyncio.Event = field(default_factory=asyncio.Event)
    task: asyncio.Task[None] | None = None

    # ---- waiting for the bot ------------------------------------------------------
    async def until(
        self, condition: Callable[[], Any], what: str, within: float = WAIT_SECONDS
    ) -> Any:
        """Poll `condition` until it is truthy and return its value; fail after `within` s."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        while True:
            value = condition()
            if value:
                return value
            if self.task is not None and self.task.done():
                self.task.result()  # raises what stopped the channel
                raise AssertionError(f"the channel stopped while waiting for {what}")
            if loop.time() > deadline:
                raise AssertionError(f"timed out after {within}s waiting for {what}")
            await asyncio.sleep(POLL_EVERY)

    async def until_db(
        self, condition: Callable[[], Awaitable[Any]], what: str, within: float = WAIT_SECONDS
    ) -> Any:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        while True:
            value = await condition()
            if value:
                return value
            if loop.time() > deadline:
                raise AssertionError(f"timed out after {within}s waiting for {what}")
            await asyncio.sleep(POLL_EVERY)

    async def messages(self, chat_id: int, n: int) -> list[BotMessage]:
        """The bot's messages in `chat_id` once there are at least `n`."""
        return await self.until(
            lambda: (m := self.api.messages_to(chat_id)) and len(m) >= n and m,
            f"{n} bot message(s) in chat {chat_id} (have {self.api.texts_to(chat_id)})",
        )

    async def message_with(self, chat_id: int, text: str) -> BotMessage:
        """The first bot message in `chat_id` whose text or caption contains `text`."""

        def found() -> BotMessage | None:
            for message in self.api.messages_to(chat_id):
                if text in (message.text or message.caption or ""):
                    return message
            return None

        return await self.until(found, f"a message with {text!r} in chat {chat_id}")

    async def edited(self, message: BotMessage, times: int) -> BotMessage:
        await self.until(
            lambda: len(message.edits) >= times,
            f"message {message.message_id} edited {times} time(s) (now {message.text!r})",
        )
        return message

    async def answered(self, query_id: str) -> dict[str, Any]:
        return await self.until(
            lambda: self.api.queries[query_id].answer, f"callback query {query_id} answered"
        )

    # ---- what the resident does ---------------------------------------------------
    def resident(self, name: str, language_code: str | None = "de") -> User:
        return self.api.add_user(name, language_code=language_code)

    def press(self, user_id: int, message: BotMessage, label: str) -> str:
        """Press the button labelled `label` on `message`; returns the callback query id."""
        rows_ = (message.reply_markup or {}).get("inline_keyboard", [])
        for row in rows_:
            for button in row:
                if button["text"] == label:
                    return self.api.press_button(
                        user_id, message.message_id, button["callback_data"]
                    )
        raise AssertionError(f"no button {label!r} on {message.text!r}: {message.buttons}")

    # ---- what the database holds -----------------------------------------------------
    async def items(self) -> list[FeedbackItem]:
        return await rows(self.app.db, FeedbackItem)

    async def contact(self, user_id: int) -> Contact:
        (contact,) = await rows(self.app.db, Contact, Contact.user_id == str(user_id))
        return contact

    async def blocked(self, user_id: int) -> bool:
        """Whether the resident's contact exists and is marked as having blocked the bot."""
        found = await rows(self.app.db, Contact, Contact.user_id == str(user_id))
        return bool(found) and found[0].blocked_at is not None


StartBot = Callable[..., Awaitable[RunningBot]]


@pytest.fixture
def proxy(tmp_path: Path) -> Iterator[ProxyServer]:
    """A real outbound proxy (proxy.py) on a free loopback port, for the proxy tests."""
    server = ProxyServer(tmp_path)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
async def start_bot(
    settings: Settings, clock: AppClock, tmp_path: Path
) -> AsyncIterator[StartBot]:
    """Start the real bot against a fresh fake server; `telegram_changes` adjust settings,
    `request` replaces the channel's HTTP backend for Bot API calls (e.g. other timeouts),
    `reach_as` is the host name the bot is given for the server (it listens on 127.0.0.1),
    `deliver` runs the outbox delivery beside the channel."""
    running: list[RunningBot] = []

    async def start(
        request: BaseRequest | None = None,
        reach_as: str | None = None,
        *,
        deliver: bool = False,
        ops: str = "",
        **telegram_changes: Any,
    ) -> RunningBot:
        server_clock = FakeClock()
        api = FakeBotApi(DEFAULT_TOKEN, clock=server_clock)
        await api.start("127.0.0.1", 0)
        origin = f"http://{reach_as}:{api.port}" if reach_as else api.url
        telegram = replace(
            settings.telegram,
            token=DEFAULT_TOKEN,
            base_url=api.base_url.replace(api.url, origin, 1),
            base_file_url=api.base_file_url.replace(api.url, origin, 1),
            **telegram_changes,
        )
        full = replace(settings, telegram=telegram, delivery=DELIVERY, ops=OpsSettings(ops))
        db = Database(f"sqlite+aiosqlite:///{tmp_path}/e2e-{len(running)}.db")
        await db.create_all()
        sleeps = RecordedSleeps(server_clock)

        def telegram_channel(app: App) -> TelegramChannel:
            channel = TelegramChannel(telegram, app, request=request)
            channel.sender = TelegramSender(
                channel.application.bot,
                sleep=sleeps,
                count=partial(app.count_send, Platform.TELEGRAM),
            )
            return channel

        wired = await bootstrap(
            full,
            clock=clock,
            db=db,
            migrate=False,
            channels=[telegram_channel],
            limits={},
            ops=bool(ops),
        )
        (channel,) = wired.channels
        assert isinstance(channel, TelegramChannel)
        app = wired.app
        bot = RunningBot(api, app, channel, full, server_clock, sleeps, wired.ops)
        running.append(bot)
        bot.task = asyncio.create_task(
            run(wired, bot.stop, deliver=deliver, schedule=False), name="telegram-e2e"
        )
        menus = 1 + sum(len(code) == 2 for code in app.router.catalogues.languages)
        await bot.until(
            lambda: bot.api.count("setMyCommands", 200) >= menus and channel.application.running,
            "the channel to register its commands and start",
        )
        return bot

    yield start
    for bot in running:
        bot.stop.set()
        try:
            if bot.task is not None:
                await asyncio.wait_for(bot.task, 10)
        finally:
            await bot.app.close()
            await bot.api.stop()


@pytest.fixture
async def bot(start_bot: StartBot) -> RunningBot:
    """The bot with config.example.toml, running against a fake Bot API server."""
    return await start_bot()


@pytest.fixture(scope="session")
def synapse(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Synapse]:
    """One real Synapse for the session (testkit/synapse.py), for the Matrix tests and the
    tests of several processes; each test registers its own bot and people."""
    try:
        python = find_python()
    except SynapseNotFound as error:
        if os.environ.get("CI"):
            pytest.fail(f"CI must run the Matrix tests: {error}")
        pytest.skip(str(error))
    server = Synapse(tmp_path_factory.mktemp("synapse"), python)
    server.start()
    server.admin = server.register("admin", admin=True)  # type: ignore[attr-defined]
    try:
        yield server
    finally:
        server.stop()
