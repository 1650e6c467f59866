"""Telegram flood limits, modelled so tests can prove a bot honours them.

Telegram does not publish exact algorithms, only the guidance in the Bot FAQ:
"no more than one message per second" to a single chat (short bursts are tolerated),
"no more than 20 messages per minute" to a group, and "about 30 messages per second"
overall.  This module models that guidance as follows (all refusals consume nothing, so a
bot that waits ``retry_after`` seconds is guaranteed to get through):

* overall: sliding window, at most ``global_per_second`` (30) counted calls per 1 s;
* private chats: token bucket per chat, capacity ``private_burst`` (3), refilling at
  ``private_rate`` (1) token per second -> a burst of 3, then 1/s sustained;
* groups, supergroups and channels: sliding window, at most ``group_per_minute`` (20)
  counted calls per 60 s per chat.

What counts is decided by the caller (see ``server.py``): sent messages (sendMessage,
sendPhoto, sendDocument) count globally and per chat; edits count per chat only;
answerCallbackQuery, sendChatAction and reads count nowhere.

The clock is injectable (any callable returning monotonic seconds) so the limits are
unit-testable without sleeping; see :class:`FakeClock`.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable

Clock = Callable[[], float]


class FakeClock:
    """A manually advanced monotonic clock, so tests control time instead of sleeping."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        """Move time forward; negative values are refused because the clock is monotonic."""
        if seconds < 0:
            raise ValueError("monotonic clock cannot go backwards")
        self.now += seconds


def _retry_after(wait: float) -> int:
    """Telegram reports whole seconds and never 0, so round up and clamp at 1."""
    return max(1, math.ceil(wait - 1e-9))


class TokenBucket:
    """Bucket of ``capacity`` tokens refilled at ``rate`` per second (bursty 1 msg/s)."""

    __slots__ = ("capacity", "rate", "stamp", "tokens")

    def __init__(self, capacity: float, rate: float, now: float) -> None:
        self.capacity = capacity
        self.rate = rate
        self.tokens = capacity
        self.stamp = now

    def wait(self, now: float) -> float:
        """Seconds until one token is available (0.0 if available now); refills lazily."""
        if now > self.stamp:
            self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
            self.stamp = now
        if self.tokens >= 1.0 - 1e-9:
            return 0.0
        return (1.0 - self.tokens) / self.rate

    def take(self) -> None:
        """Consume one token; only call after :meth:`wait` returned 0."""
        self.tokens -= 1.0


class SlidingWindow:
    """At most ``limit`` events in any ``window`` seconds (exact, O(1) amortised)."""

    __slots__ = ("events", "limit", "window")

    def __init__(self, limit: int, window: float) -> None:
        self.limit = limit
        self.window = window
        self.events: deque[float] = deque()

    def wait(self, now: float) -> float:
        """Seconds until one more event fits into the window (0.0 if it fits now)."""
        events = self.events
        while events and events[0] <= now - self.window:
            events.popleft()
        if len(events) < self.limit:
            return 0.0
        return events[len(events) - self.limit] + self.window - now

    def take(self, now: float) -> None:
        """Record one event; only call after :meth:`wait` returned 0."""
        self.events.append(now)


class FloodLimits:
    """Per-bot flood control state; disabled by default so functional tests never see 429."""

    def __init__(
        self,
        clock: Clock = time.monotonic,
        enabled: bool = False,
        global_per_second: int = 30,
        private_burst: int = 3,
        private_rate: float = 1.0,
        group_per_minute: int = 20,
    ) -> None:
        self.clock = clock
        self.enabled = enabled
        self.private_burst = private_burst
        self.private_rate = private_rate
        self.group_per_minute = group_per_minute
        self.global_window = SlidingWindow(global_per_second, 1.0)
        self._private: dict[int, TokenBucket] = {}
        self._groups: dict[int, SlidingWindow] = {}

    def reset(self) -> None:
        """Forget all history, e.g. when a test switches limits on mid-run."""
        self.global_window.events.clear()
        self._private.clear()
        self._groups.clear()

    def _chat_limiter(
        self, chat_id: int, chat_type: str, now: float
    ) -> TokenBucket | SlidingWindow:
        if chat_type == "private":
            bucket = self._private.get(chat_id)
            if bucket is None:
                bucket = self._private[chat_id] = TokenBucket(
                    self.private_burst, self.private_rate, now
                )
            return bucket
        window = self._groups.get(chat_id)
        if window is None:
            window = self._groups[chat_id] = SlidingWindow(self.group_per_minute, 60.0)
        return window

    def check(self, chat_id: int, chat_type: str, count_global: bool = True) -> int | None:
        """Admit one message to ``chat_id`` or return ``retry_after`` seconds.

        All limits are checked before any is charged, so a refused call costs nothing.
        """
        if not self.enabled:
            return None
        now = self.clock()
        chat = self._chat_limiter(chat_id, chat_type, now)
        wait = chat.wait(now)
        if count_global:
            wait = max(wait, self.global_window.wait(now))
        if wait > 0:
            return _retry_after(wait)
        if isinstance(chat, TokenBucket):
            chat.take()
        else:
            chat.take(now)
        if count_global:
            self.global_window.take(now)
        return None
