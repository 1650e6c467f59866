"""The delivery loop with a recording sender: order, limits, retries, 403, 429, shutdown.

The wall clock (due times, back-off) is a FakeClock the test moves; pacing runs on the real
monotonic clock with intervals of a few milliseconds, so every test takes well under a second.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from typing import Any

import pytest

from bot.delivery.loop import Delivery
from bot.delivery.ratelimit import ChatLimits
from bot.delivery.sending import RateLimited, Rejected, SendError, TemporaryFailure, Unreachable
from handlers.messages import Reply
from handlers.settings import DeliverySettings
from storage.db import Database
from storage.models import OutboxMessage, OutboxState
from storage.outbox import NewMessage, OutboxStore
from testkit.support import FakeClock, rows

PRIVATE_INTERVAL = 0.02


class RecordingSender:
    """A ProactiveSender that records every attempt and raises what the test queued."""

    def __init__(self, delay: float = 0.0) -> None:
        self.delay = delay
        self.attempts: list[tuple[float, str, str]] = []
        self.sent: list[tuple[float, str, str]] = []
        self.errors: dict[str, list[SendError]] = {}
        self.gate: asyncio.Event | None = None
        self.in_flight = 0
        self.keys: list[str] = []  # the idempotency key of each attempt

    def fail(self, chat_id: str, *errors: SendError) -> None:
        self.errors.setdefault(chat_id, []).extend(errors)

    async def send_once(self, chat_id: str, reply: Reply, *, is_group: bool, key: str) -> None:
        self.attempts.append((time.monotonic(), chat_id, reply.text))
        self.keys.append(key)
        queued = self.errors.get(chat_id)
        if queued:
            raise queued.pop(0)
        self.in_flight += 1
        try:
            if self.gate is not None:
                await self.gate.wait()
            await asyncio.sleep(self.delay)
        finally:
            self.in_flight -= 1
        self.sent.append((time.monotonic(), chat_id, reply.text))

    def texts_to(self, chat_id: str) -> list[str]:
        return [text for _, chat, text in self.sent if chat == chat_id]


class Harness:
    def __init__(self, db: Database, clock: FakeClock) -> None:
        self.db = db
        self.clock = clock
        self.outbox = OutboxStore(db)
        self.sender = RecordingSender()
        self.unreachable: list[tuple[str, str]] = []
        self.stop = asyncio.Event()
        self.task: asyncio.Task[None] | None = None
        self.delivery: Delivery | None = None

    async def on_unreachable(self, platform: str, chat_id: str) -> None:
        self.unreachable.append((platform, chat_id))

    async def enqueue(self, *messages: tuple[str, str], is_group: bool = False) -> None:
        """(key, chat) pairs, text = key, due now."""
        await self.outbox.enqueue(
            [
                NewMessage(key, "telegram", chat, {"text": key}, self.clock.now(), is_group)
                for key, chat in messages
            ],
            self.clock.now(),
        )

    def start(self, *, limits: ChatLimits | str | None = "default", **delivery: Any) -> Delivery:
        if limits == "default":
            limits = ChatLimits(
                per_second=1000,
                private_interval=PRIVATE_INTERVAL,
                group_per_minute=60 / 0.05,
                headroom=1.0,
                clock=time.monotonic,
            )
        assert not isinstance(limits, str)
        settings: dict[str, Any] = {
            "poll_interval_seconds": 0.05,
            "claim_lease_seconds": 600.0,
            **delivery,
        }
        self.delivery = Delivery(
            self.outbox,
            {"telegram": self.sender},
            {"telegram": limits} if limits is not None else {},
            self.clock,
            settings=DeliverySettings(**settings),
            on_unreachable=self.on_unreachable,
        )
        self.task = asyncio.create_task(self.delivery.run(self.stop))
        return self.delivery

    async def until(self, condition: Callable[[], Any], what: str, within: float = 5.0) -> Any:
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
                raise AssertionError(f"timed out waiting for {what}")
            await asyncio.sleep(0.005)

    async def states(self) -> dict[str, OutboxMessage]:
        return {row.idempotency_key: row for row in await rows(self.db, OutboxMessage)}

    async def all_in(self, *states: str) -> bool:
        return all(row.state in states for row in (await self.states()).values())

    async def shutdown(self) -> None:
        self.stop.set()
        if self.task is not None:
            await asyncio.wait_for(self.task, 5)


@pytest.fixture
async def harness(backend: Database, clock: FakeClock) -> AsyncIterator[Harness]:
    h = Harness(backend, clock)
    try:
        yield h
    finally:
        await h.shutdown()


@pytest.fixture
def backend_url(tmp_path: Any) -> str:
    """SQLite only here; the store contract runs on both backends in test_outbox.py."""
    return f"sqlite+aiosqlite:///{tmp_path}/delivery.db"


async def test_every_row_is_sent_once_in_each_chats_order(harness: Harness) -> None:
    chats = ["a", "b", "c"]
    await harness.enqueue(*[(f"{chat}-{n}", chat) for n in range(5) for chat in chats])
    harness.start()

    await harness.until(lambda: len(harness.sender.sent) == 15, "15 sends")
    await harness.until(lambda: harness.all_in(OutboxState.SENT), "every row marked sent")
    for chat in chats:
        assert harness.sender.texts_to(chat) == [f"{chat}-{n}" for n in range(5)]
        times = [t for t, c, _ in harness.sender.attempts if c == chat]
        gaps = [b - a for a, b in itertools.pairwise(times)]
        assert min(gaps) >= PRIVATE_INTERVAL * 0.5  # the per-chat spacing (loose: timers)
    assert harness.delivery is not None and harness.delivery.stats.sent == 15
    await asyncio.sleep(0.1)
    assert len(harness.sender.attempts) == 15  # nothing more afterwards


async def test_without_limits_a_chat_still_gets_its_rows_in_order(harness: Harness) -> None:
    harness.sender.delay = 0.01
    await harness.enqueue(*[(f"m-{n:02d}", "solo") for n in range(12)])
    harness.start(limits=None, workers=4)

    await harness.until(lambda: len(harness.sender.sent) == 12, "12 sends")
    assert harness.sender.texts_to("solo") == [f"m-{n:02d}" for n in range(12)]


async def test_rows_enqueued_later_go_out_on_wake_up(harness: Harness) -> None:
    delivery = harness.start(poll_interval_seconds=30.0)
    await asyncio.sleep(0.05)
    await harness.enqueue(("late", "a"))
    started = time.monotonic()
    delivery.wake()

    await harness.until(lambda: harness.sender.sent, "the late row")
    assert time.monotonic() - started < 1.0


async def test_429_makes_only_that_chat_wait(harness: Harness) -> None:
    harness.sender.fail("limited", RateLimited(0.3))
    await harness.enqueue(("limited-1", "limited"), ("limited-2", "limited"))
    await harness.enqueue(*[(f"other-{n}", f"other-{n}") for n in range(5)])
    harness.start()

    await harness.until(lambda: len(harness.sender.sent) == 7, "7 sends")
    first_attempt = harness.sender.attempts[0][0]
    others_done = max(t for t, chat, _ in harness.sender.sent if chat.startswith("other"))
    retried = [t for t, chat, _ in harness.sender.sent if chat == "limited"]
    assert others_done < first_attempt + 0.3  # the others did not wait
    assert retried[0] >= first_attempt + 0.3  # the limited chat waited retry_after
    assert harness.sender.texts_to("limited") == ["limited-1", "limited-2"]
    states = await harness.until(lambda: harness.states(), "rows")
    assert states["limited-1"].attempts == 1  # a 429 is not a failed attempt
    assert harness.delivery is not None and harness.delivery.stats.rate_limited == 1


async def test_an_account_wide_429_makes_every_chat_wait(harness: Harness) -> None:
    """A homeserver limits the user, not the room (Matrix M_LIMIT_EXCEEDED)."""
    harness.sender.fail("limited", RateLimited(0.3, whole_account=True))
    await harness.enqueue(("limited-1", "limited"))
    await harness.enqueue(*[(f"other-{n}", f"other-{n}") for n in range(3)])
    harness.start()

    await harness.until(lambda: len(harness.sender.sent) == 4, "4 sends")
    refused = min(t for t, chat, _ in harness.sender.attempts if chat == "limited")
    after = [t for t, _, _ in harness.sender.sent if t > refused]
    assert after and min(after) >= refused + 0.3  # nobody was sent to during the wait


async def test_unreachable_chat_is_skipped_and_reported(harness: Harness) -> None:
    harness.sender.fail("blocked", Unreachable("Forbidden: bot was blocked by the user"))
    await harness.enqueue(*[(f"blocked-{n}", "blocked") for n in range(3)])
    await harness.enqueue(("fine-1", "fine"), ("fine-2", "fine"))
    harness.start()

    await harness.until(lambda: harness.unreachable, "on_unreachable")
    await harness.until(
        lambda: harness.all_in(OutboxState.SENT, OutboxState.SKIPPED), "rows finished"
    )
    states = await harness.states()
    assert [states[f"blocked-{n}"].state for n in range(3)] == [OutboxState.SKIPPED] * 3
    assert "blocked" in (states["blocked-0"].last_error or "")
    assert harness.unreachable == [("telegram", "blocked")]
    assert [chat for _, chat, _ in harness.sender.attempts].count("blocked") == 1
    assert harness.sender.texts_to("fine") == ["fine-1", "fine-2"]


async def test_temporary_failures_back_off_exponentially_up_to_a_cap_then_die(
    harness: Harness, clock: FakeClock
) -> None:
    harness.sender.fail("flaky", *[TemporaryFailure("Bad Gateway")] * 5)
    await harness.enqueue(("flaky-1", "flaky"))
    t0 = clock.now()
    delivery = harness.start(backoff_start_seconds=10.0, backoff_cap_seconds=25.0, max_attempts=4)

    async def row() -> OutboxMessage:
        return (await harness.states())["flaky-1"]

    expected_delays = [10.0, 20.0, 25.0]  # start, doubled, capped
    for attempt, delay in enumerate(expected_delays, start=1):
        failed = await harness.until(
            lambda a=attempt: _with_attempts(row, a), f"attempt {attempt} recorded"
        )
        assert failed.state == OutboxState.FAILED
        assert failed.due_at == clock.now() + timedelta(seconds=delay)
        assert failed.last_error == "Bad Gateway"
        clock.advance(timedelta(seconds=delay - 1))
        delivery.wake()
        await asyncio.sleep(0.1)
        assert len(harness.sender.attempts) == attempt  # not before its time
        clock.advance(timedelta(seconds=1))
        delivery.wake()

    dead = await harness.until(lambda: _with_attempts(row, 4), "the fourth attempt")
    assert dead.state == OutboxState.DEAD
    assert clock.now() - t0 == timedelta(seconds=sum(expected_delays))
    assert len(harness.sender.attempts) == 4
    assert delivery.stats.failed == 3 and delivery.stats.dead == 1


async def _with_attempts(row: Callable[[], Any], attempts: int) -> OutboxMessage | None:
    current = await row()
    return current if current.attempts == attempts else None


async def test_a_temporary_failure_is_retried_and_then_sent(
    harness: Harness, clock: FakeClock
) -> None:
    harness.sender.fail("flaky", TemporaryFailure("timed out"))
    await harness.enqueue(("flaky-1", "flaky"))
    delivery = harness.start(backoff_start_seconds=5.0)

    await harness.until(lambda: harness.sender.attempts, "the first attempt")
    clock.advance(timedelta(seconds=5))
    delivery.wake()
    await harness.until(lambda: harness.sender.sent, "the retry")
    row = (await harness.states())["flaky-1"]
    assert (row.state, row.attempts) == (OutboxState.SENT, 2)
    # Both attempts carry the row's idempotency key, so the platform can drop a repeat.
    assert harness.sender.keys == ["flaky-1", "flaky-1"]


async def test_rejected_is_dead_at_once(harness: Harness, clock: FakeClock) -> None:
    harness.sender.fail("bad", Rejected("Bad Request: chat not found"))
    await harness.enqueue(("bad-1", "bad"), ("good-1", "good"))
    harness.start()

    await harness.until(
        lambda: harness.all_in(OutboxState.SENT, OutboxState.DEAD), "rows finished"
    )
    states = await harness.states()
    assert (states["bad-1"].state, states["bad-1"].attempts) == (OutboxState.DEAD, 1)
    assert states["bad-1"].last_error == "Bad Request: chat not found"
    clock.advance(timedelta(days=1))
    await asyncio.sleep(0.1)
    assert [chat for _, chat, _ in harness.sender.attempts].count("bad") == 1


async def test_a_platform_without_channel_is_dead(harness: Harness) -> None:
    await harness.outbox.enqueue(
        [NewMessage("m-1", "matrix", "!room", {"text": "hi"}, harness.clock.now())],
        harness.clock.now(),
    )
    harness.start()
    await harness.until(lambda: harness.all_in(OutboxState.DEAD), "the row dead")
    assert "matrix" in ((await harness.states())["m-1"].last_error or "")


async def test_stop_finishes_sends_in_flight_and_gives_the_rest_back(
    harness: Harness,
) -> None:
    harness.sender.gate = asyncio.Event()
    await harness.enqueue(*[(f"m-{n:02d}", f"chat-{n}") for n in range(30)])
    harness.start(workers=2, limits=ChatLimits(per_second=50, headroom=1.0, clock=time.monotonic))
    await harness.until(lambda: harness.sender.in_flight == 2, "two sends in flight")

    harness.stop.set()
    await asyncio.sleep(0.05)
    assert harness.task is not None and not harness.task.done()  # waits for the sends
    harness.sender.gate.set()
    await asyncio.wait_for(harness.task, 5)

    states = await harness.states()
    sent = {key for key, row in states.items() if row.state == OutboxState.SENT}
    assert {text for _, _, text in harness.sender.sent} == sent
    assert 2 <= len(sent) < 30
    for key, row in states.items():
        if key not in sent:
            assert row.state == OutboxState.PENDING, key
            assert (row.claimed_by, row.claimed_until) == (None, None), key


async def test_a_second_delivery_does_not_take_rows_another_holds(
    backend: Database, clock: FakeClock
) -> None:
    first, second = Harness(backend, clock), Harness(backend, clock)
    await first.enqueue(*[(f"m-{n:03d}", f"chat-{n}") for n in range(60)])
    first.start(limits=None)
    second.start(limits=None)
    try:
        await first.until(
            lambda: len(first.sender.sent) + len(second.sender.sent) == 60, "60 sends"
        )
        await asyncio.sleep(0.1)
    finally:
        await first.shutdown()
        await second.shutdown()
    texts = [text for _, _, text in first.sender.sent + second.sender.sent]
    assert sorted(texts) == [f"m-{n:03d}" for n in range(60)]


async def test_the_loop_does_not_spin_while_rows_are_held(
    harness: Harness, clock: FakeClock
) -> None:
    """Rows due but leased (in flight here, or held by a crashed process) are not 'due now'."""
    calls = 0
    real_claim = harness.outbox.claim_due

    async def counting_claim(*args: Any, **kwargs: Any) -> list[OutboxMessage]:
        nonlocal calls
        calls += 1
        return await real_claim(*args, **kwargs)

    harness.outbox.claim_due = counting_claim  # type: ignore[method-assign]
    await harness.enqueue(("held", "x"))
    await real_claim(clock.now(), limit=10, worker="crashed", lease=timedelta(seconds=60))
    harness.start(poll_interval_seconds=0.1)

    await asyncio.sleep(0.5)
    assert calls <= 10  # about one look a poll interval, not a busy loop
    assert harness.sender.attempts == []
