"""Two delivery workers on one PostgreSQL database: 2,000 messages, none sent twice.

Each worker has its own engine and connection pool, as two processes would; they share
nothing but the database (claims with FOR UPDATE SKIP LOCKED).
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter

import pytest
from sqlmodel import select

from bot.delivery.loop import Delivery
from handlers.messages import Reply
from handlers.settings import DeliverySettings
from storage.db import Database
from storage.models import OutboxMessage
from storage.outbox import NewMessage, OutboxStore
from testkit.support import FakeClock

pytestmark = [pytest.mark.e2e, pytest.mark.postgres]

MESSAGES = 2_000


class RecordingSender:
    def __init__(self, name: str, record: list[tuple[str, str, str]]) -> None:
        self.name = name
        self.record = record

    async def send_once(self, chat_id: str, reply: Reply, *, is_group: bool, key: str) -> None:
        await asyncio.sleep(0)  # let the other worker run in between
        self.record.append((self.name, chat_id, reply.text))


async def test_two_workers_send_2000_messages_once_each(
    fresh_postgres_database: str, clock: FakeClock
) -> None:
    setup = Database(fresh_postgres_database)
    await setup.create_all()
    await OutboxStore(setup).enqueue(
        [
            NewMessage(f"k{n:04d}", "telegram", f"chat-{n}", {"text": f"k{n:04d}"}, clock.now())
            for n in range(MESSAGES)
        ],
        clock.now(),
    )
    sent: list[tuple[str, str, str]] = []
    engines = [Database(fresh_postgres_database) for _ in range(2)]
    stop = asyncio.Event()
    deliveries = [
        Delivery(
            OutboxStore(db),
            {"telegram": RecordingSender(f"w{n}", sent)},
            {},
            clock,
            settings=DeliverySettings(workers=4, poll_interval_seconds=0.05),
            claim_batch=100,
        )
        for n, db in enumerate(engines)
    ]
    assert deliveries[0].worker_id != deliveries[1].worker_id
    tasks = [asyncio.create_task(d.run(stop)) for d in deliveries]
    try:
        deadline = time.monotonic() + 60
        while len(sent) < MESSAGES:
            assert time.monotonic() < deadline, f"only {len(sent)} sent"
            assert not any(t.done() for t in tasks), [t.result() for t in tasks if t.done()]
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.3)  # time for a duplicate to show
    finally:
        stop.set()
        await asyncio.gather(*tasks)
        for db in engines:
            await db.dispose()

    texts = Counter(text for _, _, text in sent)
    assert len(sent) == MESSAGES
    assert set(texts) == {f"k{n:04d}" for n in range(MESSAGES)}
    assert max(texts.values()) == 1
    by_worker = Counter(name for name, _, _ in sent)
    assert by_worker["w0"] > 0 and by_worker["w1"] > 0  # both really worked
    try:
        states = Counter(
            await setup.run(lambda session: session.exec(select(OutboxMessage.state)).all())
        )
    finally:
        await setup.dispose()
    assert states == Counter({"sent": MESSAGES})
