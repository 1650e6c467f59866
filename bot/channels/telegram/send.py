"""Reply → Bot API calls, with Telegram's error policy.

429 waits `retry_after` and tries again; timeouts and 5xx back off exponentially; 403 means
the person blocked the bot (or is gone) and is reported once, never retried; other 400s are
logged with their context and dropped, because sending the same request again cannot help.
"""

from __future__ import annotations

import asyncio
import logging
import warnings
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from datetime import timedelta
from functools import partial
from typing import Any, TypeVar

from telegram import Bot, InputFile, Message
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TelegramError

from bot.channels.telegram.api import BotApi
from bot.channels.telegram.parts import (
    MAX_CAPTION,
    MAX_TEXT,
    UploadedFiles,
    as_markup,
    keyboard,
    new_message_markup,
    split_text,
    utf16_length,
    without_none,
)
from handlers.messages import Attachment, Reply

logger = logging.getLogger(__name__)

T = TypeVar("T")
MAX_CALLBACK_TEXT = 200
BACKOFF_START, BACKOFF_CAP = 0.5, 30.0
EDITS_REMEMBERED = 10_000  # messages whose latest edited text is kept (oldest forgotten)

Sleep = Callable[[float], Awaitable[None]]
Pace = Callable[[str], Awaitable[None]]  # waits for the slot of one new message to a chat
OnUnreachable = Callable[[str], Awaitable[None]]


class Unreachable(Exception):
    """The chat cannot receive messages (403): the bot was blocked or the user is gone."""


def retry_after_seconds(error: RetryAfter) -> float:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        value: Any = error.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


class TelegramSender:
    def __init__(
        self,
        bot: Bot,
        *,
        max_attempts: int = 5,
        sleep: Sleep = asyncio.sleep,
        pace: Pace | None = None,
    ) -> None:
        self.bot = bot
        self.api = BotApi.of(bot)
        self._pace = pace
        self._max_attempts = max_attempts
        self._sleep = sleep
        self._uploads = UploadedFiles()
        # (chat, message) → the text this sender last edited into that message
        self._edited: OrderedDict[tuple[str, str], str] = OrderedDict()

    async def call(
        self, method: str, chat_id: str, request: Callable[[], Awaitable[T]]
    ) -> T | None:
        """Run one Bot API call under the error policy; None when it could not be done.

        Raises:
            Unreachable: on 403, so the caller can mark the contact.
        """
        delay = BACKOFF_START
        for attempt in range(1, self._max_attempts + 1):
            try:
                return await request()
            except RetryAfter as error:
                wait = retry_after_seconds(error)
                logger.warning(
                    "telegram 429 on %s to chat %s, waiting %.0fs", method, chat_id, wait
                )
                await self._sleep(wait)
            except Forbidden as error:
                logger.info("telegram 403 on %s to chat %s: %s", method, chat_id, error.message)
                raise Unreachable(chat_id) from error
            except BadRequest as error:
                if "not modified" in error.message.lower():
                    return None
                logger.error("telegram 400 on %s to chat %s: %s", method, chat_id, error.message)
                return None
            except NetworkError as error:  # timeouts, 5xx, connection errors
                if attempt == self._max_attempts:
                    break
                logger.warning(
                    "telegram %s on %s to chat %s (attempt %d), retrying in %.1fs",
                    type(error).__name__,
                    method,
                    chat_id,
                    attempt,
                    delay,
                )
                await self._sleep(delay)
                delay = min(delay * 2, BACKOFF_CAP)
            except TelegramError as error:
                logger.error("telegram error on %s to chat %s: %s", method, chat_id, error)
                return None
        logger.error(
            "telegram %s to chat %s failed after %d attempts", method, chat_id, self._max_attempts
        )
        return None

    async def send(self, chat_id: str, reply: Reply) -> None:
        """Send one reply as new message(s): text pieces, then files."""
        markup = new_message_markup(reply)
        caption_fits = reply.files and utf16_length(reply.text) <= MAX_CAPTION
        if not caption_fits:
            pieces = split_text(reply.text) if reply.text else []
            for index, piece in enumerate(pieces):
                last = index == len(pieces) - 1
                values = without_none(
                    chat_id=chat_id, text=piece, reply_markup=markup if last else None
                )
                request = partial(self.api.call, "sendMessage", values)
                if self._pace is not None:
                    await self._pace(chat_id)
                await self.call("sendMessage", chat_id, request)
        for index, attachment in enumerate(reply.files):
            first = index == 0 and bool(caption_fits)
            await self.send_file(
                chat_id, attachment, reply.text if first else None, markup if first else None
            )

    async def send_file(
        self,
        chat_id: str,
        attachment: Attachment,
        caption: str | None,
        markup: dict[str, Any] | None,
    ) -> None:
        """Upload a file once; later sends of the same bytes reuse Telegram's file_id."""

        async def send_document(document: str | InputFile) -> Message | None:
            if self._pace is not None:
                await self._pace(chat_id)
            request = partial(
                self.bot.send_document,
                chat_id,
                document,
                caption=caption,
                reply_markup=as_markup(markup),
            )
            return await self.call("sendDocument", chat_id, request)

        await self._uploads.send(attachment, send_document)

    async def answer_button(
        self,
        chat_id: str,
        message_id: str,
        query_id: str,
        replies: list[Reply],
        pressed_text: str | None = None,
        pressed_has_text: bool = True,
    ) -> None:
        """Answer a pressed button: the callback first, the prompt edited in place, the rest sent.

        A notice becomes the callback's passing hint; the first reply that replaces the prompt
        is written into the pressed message, which also takes its keyboard away. A notice
        that is a `refusal` (someone who may not press it) leaves the message as it is: its
        buttons still hold for the others in the chat.
        `pressed_text` is the message's text as the person saw it when pressing: if this
        sender has edited the message since (a fast double press), its keyboard belongs to
        the newer question and stays. A pressed message without text (a file with a caption,
        such as the event reminder with its calendar file) cannot take a new text: its
        keyboard is taken away and the reply comes as a new message.
        """
        notice = next((r for r in replies if r.notice), None)
        text = notice.text[:MAX_CALLBACK_TEXT] if notice is not None else None
        answer = without_none(callback_query_id=query_id, text=text)
        await self.call(
            "answerCallbackQuery", chat_id, partial(self.api.call, "answerCallbackQuery", answer)
        )
        take_keyboard_away = partial(
            self.api.call,
            "editMessageReplyMarkup",
            {"chat_id": chat_id, "message_id": int(message_id)},
        )
        if (
            notice is not None
            and not notice.refusal
            and self._still_shows(chat_id, message_id, pressed_text)
        ):
            # A button that no longer applies: take the stale keyboard away.
            await self.call("editMessageReplyMarkup", chat_id, take_keyboard_away)
        edited = False
        if not pressed_has_text and any(r.replaces_prompt for r in replies):
            edited = True  # nothing to write into; the reply goes out as a new message
            await self.call("editMessageReplyMarkup", chat_id, take_keyboard_away)
        for reply in replies:
            if reply is notice:
                continue
            if (
                reply.replaces_prompt
                and not edited
                and not reply.files
                and utf16_length(reply.text) <= MAX_TEXT
            ):
                edited = True
                values = without_none(
                    chat_id=chat_id,
                    message_id=int(message_id),
                    text=reply.text,
                    reply_markup=keyboard(reply),
                )
                result = await self.call(
                    "editMessageText", chat_id, partial(self.api.call, "editMessageText", values)
                )
                if isinstance(result, dict) and isinstance(result.get("text"), str):
                    self._remember_edit(chat_id, message_id, result["text"])
            else:
                await self.send(chat_id, reply)

    def _still_shows(self, chat_id: str, message_id: str, pressed_text: str | None) -> bool:
        """Whether the pressed message still shows what the person pressed on."""
        written = self._edited.get((chat_id, message_id))
        return written is None or pressed_text is None or written == pressed_text

    def _remember_edit(self, chat_id: str, message_id: str, text: str) -> None:
        key = (chat_id, message_id)
        self._edited[key] = text
        self._edited.move_to_end(key)
        while len(self._edited) > EDITS_REMEMBERED:
            self._edited.popitem(last=False)
