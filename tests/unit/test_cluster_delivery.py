"""Several processes on one PostgreSQL share the outbox, but a Matrix message can only go out
where the Matrix sync runs, in the leading process: elsewhere the delivery leaves Matrix rows
to it (neither claiming them nor waking up for them), and sends Telegram's as usual."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from bot.app import deliverable
from handlers.messages import Platform
from storage.db import Database
from storage.outbox import NewMessage, OutboxStore
from testkit.support import FakeClock


class Leading:
    """What `deliverable` asks of the lead."""

    def __init__(self, leads: bool) -> None:
        self.is_leader = leads


class Channel:
    def __init__(self, platform: str, leader_only: bool) -> None:
        self.platform = platform
        self.leader_only = leader_only


def test_matrix_rows_are_for_the_leader_telegram_rows_for_everyone() -> None:
    channels: Any = [Channel(Platform.TELEGRAM, False), Channel(Platform.MATRIX, True)]
    senders = {Platform.TELEGRAM: object(), Platform.MATRIX: object()}
    leader, follower = Leading(True), Leading(False)
    assert deliverable(channels, leader, senders)() == {Platform.TELEGRAM, Platform.MATRIX}
    assert deliverable(channels, follower, senders)() == {Platform.TELEGRAM}
    follower.is_leader = True  # the lead moved here
    assert deliverable(channels, follower, senders)() == {Platform.TELEGRAM, Platform.MATRIX}


async def test_a_follower_neither_claims_nor_waits_for_matrix_rows(
    backend: Database, clock: FakeClock
) -> None:
    outbox = OutboxStore(backend)
    now = clock.now()
    await outbox.enqueue(
        [
            NewMessage("m", Platform.MATRIX, "!room:example.org", {"text": "m"}, now),
            NewMessage("t", Platform.TELEGRAM, "42", {"text": "t"}, now + timedelta(minutes=5)),
        ],
        now,
    )
    telegram_only = [Platform.TELEGRAM]
    assert await outbox.next_due_at(telegram_only) == now + timedelta(minutes=5)
    lease = timedelta(seconds=60)
    claimed = await outbox.claim_due(
        now + timedelta(minutes=5), limit=10, worker="w", lease=lease, platforms=telegram_only
    )
    assert [row.idempotency_key for row in claimed] == ["t"]
    everything = await outbox.claim_due(now, limit=10, worker="w", lease=lease)
    assert [row.idempotency_key for row in everything] == ["m"]
