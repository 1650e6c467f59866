"""ChatLimits: Telegram's flood limits kept before sending, on a clock the test moves."""

from __future__ import annotations

import itertools

import pytest

from bot.delivery.ratelimit import DIRECT_MAX_WAIT, ChatLimits


class Monotonic:
    """A monotonic float clock that only moves when told."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def send_when_ready(limits: ChatLimits, clock: Monotonic, chat: str, is_group: bool) -> float:
    """What the delivery loop does: wait until the chat may receive, then take the slot."""
    clock.now = max(clock.now, limits.ready_at(chat))
    limits.take(chat, is_group)
    return clock.now


@pytest.fixture
def clock() -> Monotonic:
    return Monotonic()


def test_overall_pace_is_even_from_the_first_message(clock: Monotonic) -> None:
    limits = ChatLimits(per_second=30, headroom=0.97, clock=clock)
    times = [send_when_ready(limits, clock, f"chat-{n}", False) for n in range(100)]

    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert min(gaps) >= 1 / (30 * 0.97) - 1e-9  # no initial burst
    in_first_second = [t for t in times if t < times[0] + 1.0]
    assert len(in_first_second) <= 30


def test_one_private_chat_gets_at_most_one_message_a_second(clock: Monotonic) -> None:
    limits = ChatLimits(per_second=30, clock=clock)
    times = [send_when_ready(limits, clock, "resident", False) for _ in range(5)]

    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert min(gaps) >= 1.0
    assert max(gaps) < 1.1  # and not much slower than that


def test_a_group_gets_at_most_twenty_a_minute(clock: Monotonic) -> None:
    limits = ChatLimits(per_second=30, group_per_minute=20, clock=clock)
    times = [send_when_ready(limits, clock, "-100group", True) for _ in range(45)]

    for start in times:
        assert len([t for t in times if start <= t < start + 60.0]) <= 20
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert min(gaps) >= 60 / 20


def test_other_chats_are_not_held_up_by_a_busy_one(clock: Monotonic) -> None:
    limits = ChatLimits(per_second=30, clock=clock)
    limits.take("busy", False)

    assert limits.chat_ready_at("busy") > clock.now + 1.0 - 1e-9
    assert limits.ready_at("other") == pytest.approx(clock.now + limits.overall_interval)


def test_defer_chat_only_delays_that_chat(clock: Monotonic) -> None:
    limits = ChatLimits(per_second=30, clock=clock)
    limits.defer_chat("limited", 7.0)

    assert limits.ready_at("limited") == pytest.approx(clock.now + 7.0)
    assert limits.ready_at("other") <= clock.now
    # A shorter wait later does not shorten the one in force.
    limits.defer_chat("limited", 2.0)
    assert limits.chat_ready_at("limited") == pytest.approx(clock.now + 7.0)


def test_defer_all_delays_everyone(clock: Monotonic) -> None:
    limits = ChatLimits(per_second=30, clock=clock)
    limits.defer_all(3.0)

    assert limits.ready_at("a") == pytest.approx(clock.now + 3.0)
    assert limits.ready_at("b") == pytest.approx(clock.now + 3.0)


def test_direct_replies_never_wait_but_push_proactive_sends_later(clock: Monotonic) -> None:
    limits = ChatLimits(per_second=30, clock=clock)
    before = limits.ready_at("someone-else")

    for _ in range(10):  # ten replies at the same instant: none waits beyond a few slots
        assert limits.book_direct("resident", False) <= DIRECT_MAX_WAIT

    assert limits.ready_at("someone-else") >= before + 10 * limits.overall_interval - 1e-9
    assert limits.chat_ready_at("resident") > clock.now


def test_an_idle_chat_is_forgotten(clock: Monotonic) -> None:
    limits = ChatLimits(per_second=30, clock=clock)
    limits.take("old", False)
    clock.advance(500.0)
    limits.take("new", False)

    assert "old" not in limits._next_chat
    assert limits.chat_ready_at("old") == 0.0


def test_a_direct_reply_books_the_next_slot_ahead_of_a_broadcast(clock: Monotonic) -> None:
    limits = ChatLimits(per_second=30, headroom=1.0, clock=clock)
    assert limits.book_direct("alice", is_group=False) == 0.0  # room: at once
    for n in range(5):  # a broadcast has booked the next slots
        send_when_ready(limits, clock, f"chat-{n}", False)
    wait = limits.book_direct("bob", is_group=False)
    assert 0.0 < wait <= 1 / 30 + 1e-9  # at most one slot, ahead of the next broadcast send
    assert limits.ready_at("chat-9") >= clock.now + wait + 1 / 30 - 1e-9


def test_a_crowd_of_direct_replies_is_not_held_to_the_broadcast_pace(clock: Monotonic) -> None:
    limits = ChatLimits(per_second=30, headroom=1.0, clock=clock)
    waits = [limits.book_direct(f"resident-{n}", is_group=False) for n in range(100)]
    assert max(waits) <= 0.1 + 1e-9  # never more than DIRECT_MAX_WAIT
    assert waits[-1] == 0.0  # past it, replies go at once
    assert limits.ready_at("someone-else") >= clock.now + 99 / 30  # proactive sends wait
