"""What a channel's proactive send can end in, as the delivery loop needs to tell apart."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from handlers.messages import Reply


class SendError(Exception):
    """A proactive send did not go through."""


class RateLimited(SendError):
    """The platform asked to wait (Telegram 429, Matrix M_LIMIT_EXCEEDED). `whole_account`:
    the wait holds for every chat (a homeserver limits the user, Telegram limits the chat)."""

    def __init__(self, seconds: float, detail: str = "", *, whole_account: bool = False) -> None:
        super().__init__(detail or f"rate limited for {seconds:g}s")
        self.seconds = seconds
        self.whole_account = whole_account


class Unreachable(SendError):
    """The recipient cannot receive messages: blocked the bot, deactivated, left the room."""


class Rejected(SendError):
    """The platform refused this request for good (e.g. Telegram 400); retrying cannot help."""


class TemporaryFailure(SendError):
    """A timeout, a 5xx or a lost connection: worth trying again later. `timeout`: no
    answer came in time (told apart in the metrics)."""

    def __init__(self, detail: str, *, timeout: bool = False) -> None:
        super().__init__(detail)
        self.timeout = timeout


# How one call to a platform ended, as `mitreden_sends_total` counts it (bot.ops.metrics).
SEND_RESULTS = ("ok", "rate_limited", "unreachable", "rejected", "timeout", "temporary")
CountSend = Callable[[str], None]  # told one of SEND_RESULTS after every call


def send_result(error: SendError | None) -> str:
    """The `SEND_RESULTS` name for a call that ended in `error` (None: it went through)."""
    if error is None:
        return "ok"
    if isinstance(error, RateLimited):
        return "rate_limited"
    if isinstance(error, Unreachable):
        return "unreachable"
    if isinstance(error, TemporaryFailure):
        return "timeout" if error.timeout else "temporary"
    return "rejected"


class ProactiveSender(Protocol):
    """A channel as the delivery loop sees it: one attempt per call, errors as exceptions."""

    async def send_once(
        self, chat_id: str, reply: Reply, *, is_group: bool, key: str
    ) -> str | None:
        """Send `reply` once, or raise a `SendError`.

        `key` is the outbox row's idempotency key: a platform that deduplicates by
        transaction id (Matrix) derives a stable one from it, so a send repeated after a
        crash or a timeout arrives only once.

        Returns:
            The platform's id of the (first) message sent, when it has one.
        """
        ...
