"""Proactive Telegram sends for the delivery loop: one attempt, errors as `SendError`s.

Direct replies retry in place (`TelegramSender.call`); the outbox instead records each
failure and decides itself when to try again, so nothing here retries or sleeps.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any, TypeVar

from telegram import Bot, InputFile, Message
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TelegramError

from bot.channels.telegram.api import BotApi
from bot.channels.telegram.parts import (
    MAX_CAPTION,
    UploadedFiles,
    as_markup,
    keyboard,
    split_text,
    utf16_length,
    without_none,
)
from bot.channels.telegram.send import retry_after_seconds
from bot.delivery.sending import RateLimited, Rejected, TemporaryFailure, Unreachable
from handlers.messages import Attachment, Reply

T = TypeVar("T")


class TelegramOutgoing:
    def __init__(self, bot: Bot) -> None:
        self._bot = bot
        self._api = BotApi.of(bot)
        self._uploads = UploadedFiles()

    async def send_once(self, chat_id: str, reply: Reply, *, is_group: bool) -> str | None:
        """Send `reply`: text (split at 4,096), buttons on its last piece, then the files; a
        text that fits a caption rides on the first file. Returns the first message's id."""
        markup = keyboard(reply)
        first: int | None = None
        as_caption = bool(reply.files) and utf16_length(reply.text) <= MAX_CAPTION
        if not as_caption:
            pieces = split_text(reply.text)
            for index, piece in enumerate(pieces):
                last = index == len(pieces) - 1
                values = without_none(
                    chat_id=chat_id, text=piece, reply_markup=markup if last else None
                )
                message = await attempt(partial(self._api.call, "sendMessage", values))
                first = first or int(message["message_id"])
        for index, file in enumerate(reply.files):
            with_text = as_caption and index == 0
            message_id = await self._send_file(
                chat_id, file, reply.text if with_text else None, markup if with_text else None
            )
            first = first or message_id
        return str(first) if first is not None else None

    async def _send_file(
        self,
        chat_id: str,
        file: Attachment,
        caption: str | None,
        markup: dict[str, Any] | None,
    ) -> int:
        """Send one file as a document (through the `Bot`: it uploads); returns its id."""

        async def send_document(document: str | InputFile) -> Message:
            request = partial(
                self._bot.send_document,
                chat_id,
                document,
                caption=caption,
                reply_markup=as_markup(markup),
            )
            return await attempt(request)

        message = await self._uploads.send(file, send_document)
        assert message is not None  # `attempt` raises rather than return nothing
        return message.message_id


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
