"""Reply → Bot API calls, with Telegram's one error policy, for direct replies and the outbox.

`attempt` says what one call ended in, in the delivery loop's terms: 429 is `RateLimited`
(after Telegram's `retry_after`), 403 `Unreachable` (the person blocked the bot or is gone),
400 `Rejected` (the same request cannot succeed), a timeout, a 5xx or a lost connection
`TemporaryFailure`. The outbox takes that as it is (`send_once`, one attempt: the delivery
loop records the failure and decides itself when to try again). A direct reply is retried
in place (`send`, `answer_button`, `call`): a 429 waits `retry_after`, temporary failures
back off exponentially, a 403 is raised once as `Unreachable`, a 400 is logged with its
context and dropped.

Every call goes through python-telegram-bot's `Bot` methods. Each new message of a direct
reply first takes its slot of the overall pace (`pace`); a file is uploaded once and sent
by Telegram's file_id after that, for replies and the outbox alike.
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

from telegram import Bot, ForceReply, InlineKeyboardMarkup, InputFile, Message
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TelegramError, TimedOut

from bot.channels.telegram.parts import (
    MAX_CAPTION,
    MAX_TEXT,
    UploadedFiles,
    file_caption,
    keyboard,
    new_message_markup,
    split_text,
    utf16_length,
)
from bot.delivery.sending import (
    CountSend,
    RateLimited,
    Rejected,
    SendError,
    TemporaryFailure,
    Unreachable,
    send_result,
)
from handlers.messages import Attachment, Reply

logger = logging.getLogger(__name__)

T = TypeVar("T")
MAX_CALLBACK_TEXT = 200
BACKOFF_START, BACKOFF_CAP = 0.5, 30.0
EDITS_REMEMBERED = 10_000  # messages whose latest edited text is kept (oldest forgotten)

Sleep = Callable[[float], Awaitable[None]]
Pace = Callable[[str], Awaitable[None]]  # waits for the slot of one new message to a chat
# (method, chat_id, request) → the request's result: one attempt, or retried in place
Run = Callable[[str, str, Callable[[], Awaitable[Any]]], Awaitable[Any]]
Markup = InlineKeyboardMarkup | ForceReply | None


def retry_after_seconds(error: RetryAfter) -> float:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        value: Any = error.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


async def attempt(request: Callable[[], Awaitable[T]]) -> T:
    """One Bot API call; its failure as the `SendError` that says what to do about it.

    Raises:
        RateLimited: 429, with Telegram's `retry_after`.
        Unreachable: 403.
        Rejected: 400 and any other refusal that a repeat cannot change.
        TemporaryFailure: a timeout, a 5xx, a lost connection.
    """
    try:
        return await request()
    except RetryAfter as error:
        raise RateLimited(retry_after_seconds(error)) from error
    except Forbidden as error:
        raise Unreachable(error.message) from error
    except BadRequest as error:  # before NetworkError: PTB derives it from that
        raise Rejected(error.message) from error
    except NetworkError as error:  # timeouts, 5xx, lost connections
        raise TemporaryFailure(
            f"{type(error).__name__}: {error.message}", timeout=isinstance(error, TimedOut)
        ) from error
    except TelegramError as error:
        raise Rejected(f"{type(error).__name__}: {error.message}") from error


class TelegramSender:
    """Sends `Reply` values to chats; `send_once` is the delivery loop's `ProactiveSender`.
    `count` is told how each Bot API call ended (`/metrics`)."""

    def __init__(
        self,
        bot: Bot,
        *,
        max_attempts: int = 5,
        sleep: Sleep = asyncio.sleep,
        pace: Pace | None = None,
        count: CountSend = lambda result: None,
    ) -> None:
        self.bot = bot
        self._pace = pace
        self._count = count
        self._max_attempts = max_attempts
        self._sleep = sleep
        self._uploads = UploadedFiles()
        # (chat, message) → the text this sender last edited into that message
        self._edited: OrderedDict[tuple[str, str], str] = OrderedDict()

    async def send_once(
        self, chat_id: str, reply: Reply, *, is_group: bool, key: str
    ) -> str | None:
        """One attempt at a proactive message, or a `SendError`; the delivery loop paces it
        and decides about retries. (Telegram takes no idempotency `key`.) Returns the first
        message's id."""
        return await self._send(chat_id, reply, self._once)

    async def send(self, chat_id: str, reply: Reply) -> str | None:
        """A direct reply: each new message paced, each call retried in place. Returns the
        first message's id, None when nothing went out.

        Raises:
            Unreachable: on 403, so the caller can mark the contact.
        """
        return await self._send(chat_id, reply, self._paced)

    async def call(
        self, method: str, chat_id: str, request: Callable[[], Awaitable[T]]
    ) -> T | None:
        """Run one Bot API call of a direct reply, retried in place; None when it could not
        be done.

        Raises:
            Unreachable: on 403, so the caller can mark the contact.
        """
        delay = BACKOFF_START
        for number in range(1, self._max_attempts + 1):
            try:
                return await self._attempt(request)
            except RateLimited as error:
                logger.warning(
                    "telegram 429 on %s to chat %s, waiting %.0fs", method, chat_id, error.seconds
                )
                await self._sleep(error.seconds)
            except Unreachable as error:
                logger.info("telegram 403 on %s to chat %s: %s", method, chat_id, error)
                raise
            except Rejected as error:
                if isinstance(error.__cause__, BadRequest):
                    if "not modified" not in str(error).lower():
                        logger.error("telegram 400 on %s to chat %s: %s", method, chat_id, error)
                else:
                    logger.error("telegram error on %s to chat %s: %s", method, chat_id, error)
                return None
            except TemporaryFailure as error:
                if number == self._max_attempts:
                    break
                logger.warning(
                    "telegram %s on %s to chat %s (attempt %d), retrying in %.1fs",
                    error,
                    method,
                    chat_id,
                    number,
                    delay,
                )
                await self._sleep(delay)
                delay = min(delay * 2, BACKOFF_CAP)
        logger.error(
            "telegram %s to chat %s failed after %d attempts", method, chat_id, self._max_attempts
        )
        return None

    async def _paced(
        self, method: str, chat_id: str, request: Callable[[], Awaitable[T]]
    ) -> T | None:
        """A new message of a direct reply: its slot of the overall pace, then the call."""
        if self._pace is not None:
            await self._pace(chat_id)
        return await self.call(method, chat_id, request)

    async def _once(self, method: str, chat_id: str, request: Callable[[], Awaitable[T]]) -> T:
        return await self._attempt(request)

    async def _attempt(self, request: Callable[[], Awaitable[T]]) -> T:
        """`attempt`, counted by how it ended."""
        try:
            result = await attempt(request)
        except SendError as error:
            self._count(send_result(error))
            raise
        self._count("ok")
        return result

    async def _send(self, chat_id: str, reply: Reply, run: Run) -> str | None:
        """Text (split at 4,096), buttons on its last piece, then the files, each with its own
        caption (what the resident wrote with it). A text that fits a caption rides on the
        first file, unless that file has a caption of its own: the resident's words stay
        under their file as they wrote them."""
        markup = new_message_markup(reply)
        first: Message | None = None
        own = bool(reply.files) and bool(reply.files[0].caption)
        caption_fits = (
            bool(reply.files)
            and utf16_length(reply.text) <= MAX_CAPTION
            and not (own and reply.text)
        )
        if not caption_fits:
            pieces = split_text(reply.text) if reply.text else []
            for index, piece in enumerate(pieces):
                last = index == len(pieces) - 1
                request = partial(
                    self.bot.send_message, chat_id, piece, reply_markup=markup if last else None
                )
                message = await run("sendMessage", chat_id, request)
                first = first or message
        for index, attachment in enumerate(reply.files):
            with_text = caption_fits and index == 0
            caption = reply.text if with_text and reply.text else file_caption(attachment.caption)
            message = await self._send_file(
                chat_id, attachment, caption, markup if with_text else None, run
            )
            first = first or message
        return str(first.message_id) if first is not None else None

    async def _send_file(
        self, chat_id: str, attachment: Attachment, caption: str | None, markup: Markup, run: Run
    ) -> Message | None:
        """Upload a file once; later sends of the same bytes reuse Telegram's file_id."""

        async def send_document(document: str | InputFile) -> Message | None:
            request = partial(
                self.bot.send_document, chat_id, document, caption=caption, reply_markup=markup
            )
            message: Message | None = await run("sendDocument", chat_id, request)
            return message

        return await self._uploads.send(attachment, send_document)

    async def answer_button(
        self,
        chat_id: str,
        message_id: str,
        query_id: str | None,
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
        keyboard is taken away and the reply comes as a new message. `query_id` None: the
        callback was answered before (replies sent again after a process died; Telegram
        refuses a late answer), and only the message is seen to.
        """
        notice = next((r for r in replies if r.notice), None)
        if query_id is not None:
            text = notice.text[:MAX_CALLBACK_TEXT] if notice is not None else None
            answer = partial(self.bot.answer_callback_query, query_id, text=text)
            await self.call("answerCallbackQuery", chat_id, answer)
        take_keyboard_away = partial(
            self.bot.edit_message_reply_markup, chat_id=chat_id, message_id=int(message_id)
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
                edit = partial(
                    self.bot.edit_message_text,
                    reply.text,
                    chat_id=chat_id,
                    message_id=int(message_id),
                    reply_markup=keyboard(reply),
                )
                result = await self.call("editMessageText", chat_id, edit)
                if isinstance(result, Message) and result.text is not None:
                    self._remember_edit(chat_id, message_id, result.text)
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
