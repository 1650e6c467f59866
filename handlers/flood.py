"""Flood protection: more than N messages a minute from one person get one warning, then
silence until the minute has passed, so a flood never turns into a flood of answers."""

from __future__ import annotations

import enum
from collections import deque
from datetime import datetime, timedelta

from handlers.clock import Clock

WINDOW = timedelta(minutes=1)


class Verdict(enum.Enum):
    ACCEPT = "accept"
    WARN = "warn"
    DROP = "drop"


class FloodGuard:
    def __init__(self, clock: Clock, per_minute: int) -> None:
        self._clock = clock
        self._per_minute = per_minute
        self._seen: dict[str, deque[datetime]] = {}
        self._warned: dict[str, datetime] = {}
        self._last_sweep: datetime | None = None

    def check(self, sender: str) -> Verdict:
        """Count one message from `sender` and say whether to handle it."""
        now = self._clock.now()
        self._sweep(now)
        times = self._seen.setdefault(sender, deque())
        while times and now - times[0] >= WINDOW:
            times.popleft()
        if len(times) < self._per_minute:
            times.append(now)
            return Verdict.ACCEPT
        warned = self._warned.get(sender)
        if warned is not None and now - warned < WINDOW:
            return Verdict.DROP
        self._warned[sender] = now
        return Verdict.WARN

    def _sweep(self, now: datetime) -> None:
        """Forget senders quiet for a minute, so memory follows the active senders only."""
        if self._last_sweep is not None and now - self._last_sweep < WINDOW:
            return
        self._last_sweep = now
        for sender in [s for s, t in self._seen.items() if not t or now - t[-1] >= WINDOW]:
            del self._seen[sender]
            self._warned.pop(sender, None)
