"""Proactive Telegram sends for the delivery loop: one attempt, errors as `SendError`s.

Direct replies retry in place (`TelegramSender.call`); the outbox instead records each
failure and decides itself when to try again, so nothing here retries or sleeps.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import partial
from typing import TypeVar

from telegram import Bot
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TelegramError

from bot.sending import RateLimited, Rejected, TemporaryFailure, Unreachable
from bot.telegram_send import keyboard, retry_after_seconds, split_text
from handlers.messages import Reply

T = TypeVar("T")


class TelegramOutgoing:
    def __init__(self, bot: Bot) -> None:
        self._bot = bot

    async def send_once(self, chat_id: str, reply: Reply, *, is_group: bool) -> None:
        """Send `reply` as text message(s), the buttons on the last piece."""
        markup = keyboard(reply)
        pieces = split_text(reply.text)
        for index, piece in enumerate(pieces):
            last = index == len(pieces) - 1
            await attempt(
                partial(
                    self._bot.send_message, chat_id, piece, reply_markup=markup if last else None
                )
            )


async def attempt(request: Callable[[], Awaitable[T]]) -> T:
    """One Bot API call, its failure translated for the delivery loop."""
    try:
        return await request()
    except RetryAfter as error:
        raise RateLimited(retry_after_seconds(error)) from error
    except Forbidden as error:
        raise Unreachable(error.message) from error
    except BadRequest as error:
        raise Rejected(error.message) from error
    except NetworkError as error:  # timeouts, 5xx, lost connections
        raise TemporaryFailure(f"{type(error).__name__}: {error.message}") from error
    except TelegramError as error:
        raise Rejected(f"{type(error).__name__}: {error.message}") from error
