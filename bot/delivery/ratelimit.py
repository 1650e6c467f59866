"""Telegram's flood limits, enforced before sending rather than discovered through 429s.

Overall: at most `per_second` proactive messages a second, evenly spaced (no initial burst).
Per private chat: one message every `private_interval` seconds. Per group: `group_per_minute`
messages a minute, also evenly spaced. Direct replies book their slot before they go out
(`book_direct`) and wait at most a fraction of a second for it; bulk sends make room for them
instead of tipping the total over the platform's limit. Time is a monotonic float from an
injected clock.
"""

from __future__ import annotations

from collections.abc import Callable

Monotonic = Callable[[], float]
FORGET_AFTER = 120.0  # seconds after which an idle chat's slot is forgotten
# A send this late (share of the overall interval) keeps the pace's grid: timers fire a
# millisecond or so after the slot, and pacing from "now" would lose that on every message.
LATE_TOLERANCE = 0.25
# A direct reply waits for a booked slot at most this long, about three slots at 30/s (else
# it goes at once): only a crowd of direct replies, or a platform-wide wait (`defer_all`),
# reaches it, and then replies are not held back to the broadcast pace.
DIRECT_MAX_WAIT = 0.1


class ChatLimits:
    def __init__(
        self,
        *,
        per_second: float = 30.0,
        private_interval: float = 1.0,
        group_per_minute: float = 20.0,
        headroom: float = 0.97,
        clock: Monotonic,
    ) -> None:
        self.overall_interval = 1.0 / (per_second * headroom)
        self.private_interval = private_interval / headroom
        self.group_interval = 60.0 / (group_per_minute * headroom)
        self._clock = clock
        self._next_overall = 0.0
        self._next_chat: dict[str, float] = {}
        self._last_sweep = 0.0

    def ready_at(self, chat_id: str) -> float:
        """The earliest moment a proactive message to `chat_id` may start."""
        return max(self._next_overall, self._next_chat.get(chat_id, 0.0))

    def chat_ready_at(self, chat_id: str) -> float:
        return self._next_chat.get(chat_id, 0.0)

    def take(self, chat_id: str, is_group: bool) -> None:
        """Use the slot of a proactive message that starts now."""
        now = self._clock()
        self._use_overall(now)
        self._use_chat(chat_id, is_group, now)

    def book_direct(self, chat_id: str, is_group: bool) -> float:
        """Book the overall slot of a direct message about to go out; returns the seconds to
        wait for it (0 while the pace has room, else a fraction of a second).

        The proactive messages' next slot moves back instead, so a direct reply never waits
        behind a broadcast; counted before it is sent, it cannot tip the total over the limit
        the way a message counted after it was sent can, while its request is on the way
        and the pace goes on sending.
        """
        now = self._clock()
        start = max(self._next_overall, now)
        if start - now > DIRECT_MAX_WAIT:
            # Replies alone are over the pace: they go at once (an interactive bot is never
            # capped at the broadcast rate) and the proactive messages wait for them.
            self._next_overall = start + self.overall_interval
            self._use_chat(chat_id, is_group, now)
            return 0.0
        self._next_overall = start + self.overall_interval
        self._use_chat(chat_id, is_group, now)
        return start - now

    def defer_chat(self, chat_id: str, seconds: float) -> None:
        """The platform said wait (429): nothing more to this chat for `seconds`."""
        until = self._clock() + seconds
        self._next_chat[chat_id] = max(self._next_chat.get(chat_id, 0.0), until)

    def defer_all(self, seconds: float) -> None:
        self._next_overall = max(self._next_overall, self._clock() + seconds)

    def _use_overall(self, now: float) -> None:
        """The next overall slot is one interval after this one: after the slot that was due
        if this send is only a little late, so the pace keeps its rate, else after now."""
        start = self._next_overall
        if now - start > self.overall_interval * LATE_TOLERANCE:
            start = now
        self._next_overall = start + self.overall_interval

    def _use_chat(self, chat_id: str, is_group: bool, now: float) -> None:
        interval = self.group_interval if is_group else self.private_interval
        self._next_chat[chat_id] = max(self._next_chat.get(chat_id, 0.0), now) + interval
        if now - self._last_sweep > FORGET_AFTER:
            self._last_sweep = now
            for chat, ready in list(self._next_chat.items()):
                if ready < now:
                    del self._next_chat[chat]
