"""The outbox delivered to a fake Bot API server with Telegram's flood limits switched on.

Everything is checked from the server's own log (`api.sent_log`): what arrived, when, and
what was refused.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections import Counter, defaultdict
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from telegram import Bot

from bot.app import App, bootstrap
from bot.channels.telegram.send import TelegramSender
from bot.config import Settings
from bot.delivery.loop import Delivery
from bot.delivery.ratelimit import DIRECT_MAX_WAIT, ChatLimits
from handlers.messages import Platform
from handlers.settings import DeliverySettings
from storage.contacts import ContactKey
from storage.db import Database
from storage.models import Contact, OutboxMessage, OutboxState
from storage.outbox import NewMessage
from testkit.fakebotapi import DEFAULT_TOKEN, CallRecord, FakeBotApi
from testkit.support import rows

pytestmark = pytest.mark.e2e


@dataclass
class World:
    api: FakeBotApi
    bot: Bot
    app: App
    limits: ChatLimits
    stop: asyncio.Event = field(default_factory=asyncio.Event)
    task: asyncio.Task[None] | None = None
    delivery: Delivery | None = None

    def start(self, **delivery: Any) -> Delivery:
        settings: dict[str, Any] = {"workers": 4, "poll_interval_seconds": 0.1, **delivery}
        self.delivery = Delivery(
            self.app.store.outbox,
            {Platform.TELEGRAM: TelegramSender(self.bot)},
            {Platform.TELEGRAM: self.limits},
            self.app.clock,
            settings=DeliverySettings(**settings),
            on_unreachable=self.app.mark_unreachable,
        )
        self.task = asyncio.create_task(self.delivery.run(self.stop))
        return self.delivery

    async def enqueue(self, messages: list[tuple[str, str, bool]]) -> None:
        """(key, chat, is_group); the text is the key, so the log tells who got what."""
        now = self.app.clock.now()
        await self.app.store.outbox.enqueue(
            [
                NewMessage(key, Platform.TELEGRAM, chat, {"text": key}, now, is_group=group)
                for key, chat, group in messages
            ],
            now,
        )

    async def until(self, condition: Callable[[], Any], what: str, within: float) -> Any:
        deadline = time.monotonic() + within
        while True:
            value = condition()
            if asyncio.iscoroutine(value):
                value = await value
            if value:
                return value
            if self.task is not None and self.task.done():
                self.task.result()
                raise AssertionError(f"delivery stopped while waiting for {what}")
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out after {within}s waiting for {what}")
            await asyncio.sleep(0.02)

    def sends(self) -> list[CallRecord]:
        return self.api.calls("sendMessage")

    def delivered(self) -> list[CallRecord]:
        return self.api.calls("sendMessage", status=200)

    async def outbox(self) -> dict[str, OutboxMessage]:
        return {r.idempotency_key: r for r in await rows(self.app.db, OutboxMessage)}


@pytest.fixture
async def world(settings: Settings, tmp_path: Path) -> AsyncIterator[World]:
    api = FakeBotApi(DEFAULT_TOKEN, limits=True)
    await api.start("127.0.0.1", 0)
    bot = Bot(DEFAULT_TOKEN, base_url=api.base_url, base_file_url=api.base_file_url)
    await bot.initialize()
    db = Database(f"sqlite+aiosqlite:///{tmp_path}/delivery-e2e.db")
    await db.create_all()
    app = (await bootstrap(settings, db=db, migrate=False, channels=())).app
    limits = ChatLimits(
        per_second=30, private_interval=1.0, group_per_minute=20, clock=time.monotonic
    )
    w = World(api, bot, app, limits)
    try:
        yield w
    finally:
        w.stop.set()
        if w.task is not None:
            await asyncio.wait_for(w.task, 10)
        await bot.shutdown()
        await app.close()
        await api.stop()


def max_in_window(times: list[float], window: float) -> int:
    times = sorted(times)
    return max(
        (sum(1 for t in times[i:] if t < start + window) for i, start in enumerate(times)),
        default=0,
    )


async def test_a_broadcast_keeps_every_limit_and_sends_each_message_once(world: World) -> None:
    api = world.api
    users = [api.add_user(f"R{n}") for n in range(100)]
    groups = [api.add_group(f"AG {n}", [users[n].id]) for n in range(2)]
    messages = [(f"m{n:03d}-a", str(u.id), False) for n, u in enumerate(users)]
    messages += [(f"m{n:03d}-b", str(u.id), False) for n, u in enumerate(users[:10])]
    messages += [(f"m{n:03d}-c", str(u.id), False) for n, u in enumerate(users[:4])]
    messages += [(f"g{n}-{k}", str(g.id), True) for n, g in enumerate(groups) for k in range(3)]
    assert len(messages) == 120
    resident = api.add_user("Direct")
    await world.enqueue(messages)
    world.start()

    # Halfway through, a resident writes and the bot answers directly: not queued behind
    # the broadcast, but counted, so the broadcast makes room for it.
    await world.until(lambda: len(world.delivered()) >= 45, "45 sends", within=10)
    started = time.monotonic()
    assert world.limits.book_direct(str(resident.id), False) <= DIRECT_MAX_WAIT
    await world.bot.send_message(resident.id, "direct answer")
    assert time.monotonic() - started < 1.0

    await world.until(lambda: len(world.delivered()) >= 121, "121 messages", within=20)
    await world.until(lambda: _all_in(world, OutboxState.SENT), "every row marked sent", within=5)

    log = world.sends()
    assert [r for r in log if r.status != 200] == []  # not one 429
    texts = Counter(r.text for r in log)
    assert texts == Counter([key for key, _, _ in messages] + ["direct answer"])
    assert max_in_window([r.t for r in log], 1.0) <= 30
    by_chat: dict[Any, list[float]] = defaultdict(list)
    for record in log:
        by_chat[record.chat_id].append(record.t)
    for user in users:
        times = by_chat[user.id]
        gaps = [b - a for a, b in itertools.pairwise(times)]
        assert all(gap >= 1.0 for gap in gaps), (user.id, gaps)
    for group in groups:
        times = by_chat[group.id]
        assert len(times) == 3
        gaps = [b - a for a, b in itertools.pairwise(times)]
        assert all(gap >= 60 / 20 for gap in gaps), (group.id, gaps)
        assert max_in_window(times, 60.0) <= 20
    # Each chat got its messages in the order they were queued.
    for n, user in enumerate(users[:4]):
        assert api.texts_to(user.id) == [f"m{n:03d}-a", f"m{n:03d}-b", f"m{n:03d}-c"]


async def _all_in(world: World, *states: str) -> bool:
    return all(r.state in states for r in (await world.outbox()).values())


async def test_a_user_who_blocked_the_bot_is_marked_and_skipped(world: World) -> None:
    api = world.api
    blocked, fine = api.add_user("Blocked"), api.add_user("Fine")
    for user in (blocked, fine):
        await world.app.store.contacts.get_or_add_contact(
            ContactKey(Platform.TELEGRAM, str(user.id), str(user.id), user.first_name),
            world.app.clock.now(),
        )
    api.block_user(blocked.id)
    await world.enqueue(
        [(f"blocked-{n}", str(blocked.id), False) for n in range(3)]
        + [(f"fine-{n}", str(fine.id), False) for n in range(2)]
    )
    world.start()

    await world.until(
        lambda: _all_in(world, OutboxState.SENT, OutboxState.SKIPPED), "rows done", within=10
    )
    refused = api.calls("sendMessage", status=403)
    assert [r.chat_id for r in refused] == [blocked.id]  # tried once, not for every row
    assert api.texts_to(fine.id) == ["fine-0", "fine-1"]
    outbox = await world.outbox()
    assert {outbox[f"blocked-{n}"].state for n in range(3)} == {OutboxState.SKIPPED}
    (contact,) = await rows(world.app.db, Contact, Contact.user_id == str(blocked.id))
    assert contact.blocked_at is not None
    assert await world.app.store.contacts.count_reachable(subscribed_only=False) == 1


async def test_a_502_is_retried_after_a_short_backoff_and_delivered(world: World) -> None:
    user = world.api.add_user("Unlucky")
    world.api.fail_next(1, status=502, method="sendMessage")
    await world.enqueue([("once", str(user.id), False)])
    world.start(backoff_start_seconds=0.2)

    await world.until(lambda: _all_in(world, OutboxState.SENT), "the retry", within=10)
    statuses = [r.status for r in world.sends()]
    assert statuses == [502, 200]
    assert world.api.texts_to(user.id) == ["once"]
    row = (await world.outbox())["once"]
    assert row.attempts == 2
    assert row.last_error is not None and "Bad Gateway" in row.last_error
