"""What a `Reply` becomes in the Bot API: text in pieces Telegram accepts, choices as an
inline keyboard, documents uploaded once (`bot.channels.telegram.send` sends them)."""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable

from telegram import ForceReply, InlineKeyboardButton, InlineKeyboardMarkup, InputFile, Message

from handlers.messages import Attachment, Reply

MAX_TEXT = 4096
MAX_CAPTION = 1024


def utf16_length(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def file_caption(text: str | None) -> str | None:
    """A file's own caption as Telegram takes it: at most 1,024 UTF-16 units, a longer one
    (a Matrix resident's, say) cut with "…"; None for none."""
    if not text:
        return None
    if utf16_length(text) <= MAX_CAPTION:
        return text
    return split_text(text, MAX_CAPTION - 1)[0] + "…"


def split_text(text: str, limit: int = MAX_TEXT) -> list[str]:
    """Cut `text` into pieces Telegram accepts, preferring line breaks, then spaces."""
    pieces: list[str] = []
    rest = text
    while utf16_length(rest) > limit:
        cut = limit
        while utf16_length(rest[:cut]) > limit:
            cut -= 1
        window = rest[:cut]
        at = max(window.rfind("\n"), window.rfind(" "))
        cut = at + 1 if at > cut // 2 else cut
        pieces.append(rest[:cut].rstrip())
        rest = rest[cut:]
    if rest.strip() or not pieces:
        pieces.append(rest)
    return pieces


def keyboard(reply: Reply) -> InlineKeyboardMarkup | None:
    """The reply's choices as an inline keyboard, `choice_columns` buttons a row."""
    if not reply.choices:
        return None
    width = max(1, reply.choice_columns)
    buttons = [InlineKeyboardButton(c.label, callback_data=c.payload) for c in reply.choices]
    return InlineKeyboardMarkup([buttons[i : i + width] for i in range(0, len(buttons), width)])


def new_message_markup(reply: Reply) -> InlineKeyboardMarkup | ForceReply | None:
    """The buttons of a new message, or Telegram's reply field when an answer is expected."""
    if reply.expects_reply and not reply.choices:
        return ForceReply()
    return keyboard(reply)


class UploadedFiles:
    """Each file is uploaded once; later sends of the same file name Telegram's file_id.

    A file is known by the id it has on Telegram already (a resident's photo) or else by the
    SHA-256 of its bytes (an event's documents, sent to every registrant)."""

    def __init__(self) -> None:
        self._file_ids: dict[str, str] = {}

    async def send(
        self,
        attachment: Attachment,
        send_document: Callable[[str | InputFile], Awaitable[Message | None]],
    ) -> Message | None:
        """`send_document` with the file_id when known, else with the bytes to upload."""
        key = attachment.platform_file_id or hashlib.sha256(attachment.data).hexdigest()
        known = self._file_ids.get(key)
        message = await send_document(
            known or InputFile(attachment.data, filename=attachment.file_name)
        )
        if message is not None and known is None and message.document is not None:
            self._file_ids[key] = message.document.file_id
        return message
