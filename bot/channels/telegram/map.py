"""Telegram `Update` → `Incoming`, as a pure function (no network, no clock).

Files are described here but downloaded by the channel, which knows the size limit.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from telegram import MaybeInaccessibleMessage, Message, MessageEntity, Update, User

from handlers.messages import ChatId, Incoming, Platform, UserId, parse_command

# Message kinds the bot cannot use, in the order Telegram's Message exposes them.
UNSUPPORTED_KINDS = (
    "sticker",
    "voice",
    "video_note",
    "video",
    "audio",
    "animation",
    "location",
    "venue",
    "contact",
    "poll",
    "dice",
    "game",
    "story",
)

# The `start` parameter of the deep link a group chat gets instead of a resident's own data:
# the private chat opens and Telegram sends "/start group", which greets as /start does.
START_FROM_GROUP = "group"


@dataclass(frozen=True, slots=True)
class FileToFetch:
    """A photo or document a resident sent, still on Telegram's servers."""

    kind: str
    file_id: str
    file_name: str
    mime_type: str
    size: int | None


def to_incoming(update: Update, bot_username: str = "") -> Incoming | None:
    """The `Incoming` for an update from a person; None for updates the bot ignores."""
    link = private_link(bot_username)
    query = update.callback_query
    if query is not None:
        message = query.message
        if message is None or query.data is None:
            return None
        return _from(query.from_user, message, payload=query.data, private_link=link)
    message = update.message or update.edited_message
    if message is None or message.from_user is None or message.from_user.is_bot:
        return None
    incoming = _from(
        message.from_user,
        message,
        private_link=link,
        text=message.text or message.caption or "",
        unsupported=unsupported_kind(message),
        reply_to=_replied_to(message),
        quoted_text=_quoted_text(message),
        edited=update.edited_message is not None,
    )
    if message.text and _starts_with_command(message):
        command = parse_command(message.text)
        if command is not None:
            addressed = message.text.split(None, 1)[0].partition("@")[2]
            if addressed and bot_username and addressed.lower() != bot_username.lower():
                return None  # a command for another bot in the same group
            return _replace(incoming, command=command.name, args=command.args)
    return incoming


def private_link(bot_username: str) -> str | None:
    """The deep link that opens the private chat with the bot; None while its name is unknown."""
    if not bot_username:
        return None
    return f"https://t.me/{bot_username}?start={START_FROM_GROUP}"


def files_to_fetch(message: Message | None) -> list[FileToFetch]:
    """The photo (largest size only) or document of a message."""
    if message is None:
        return []
    if message.photo:
        largest = max(message.photo, key=lambda size: size.width * size.height)
        return [
            FileToFetch(
                "photo",
                largest.file_id,
                f"photo-{largest.file_unique_id}.jpg",
                "image/jpeg",
                largest.file_size,
            )
        ]
    document = message.document
    if document is not None:
        return [
            FileToFetch(
                "document",
                document.file_id,
                document.file_name or f"document-{document.file_unique_id}",
                document.mime_type or "application/octet-stream",
                document.file_size,
            )
        ]
    return []


def unsupported_kind(message: Message) -> str | None:
    for kind in UNSUPPORTED_KINDS:
        if getattr(message, kind, None):
            return kind
    return None


def _starts_with_command(message: Message) -> bool:
    entities = message.entities or ()
    return any(e.type == MessageEntity.BOT_COMMAND and e.offset == 0 for e in entities)


def _replace(incoming: Incoming, **changes: object) -> Incoming:
    return replace(incoming, **changes)  # type: ignore[arg-type]


def _replied_to(message: Message) -> str | None:
    """The id of the bot's own message this one replies to (Telegram's "reply" gesture)."""
    original = message.reply_to_message
    if original is None or original.from_user is None or not original.from_user.is_bot:
        return None
    return str(original.message_id)


def _quoted_text(message: Message) -> str | None:
    """The text of the bot's message this one replies to (Telegram sends it along)."""
    original = message.reply_to_message
    if _replied_to(message) is None or original is None:
        return None
    return original.text or original.caption


def _from(user: User, message: MaybeInaccessibleMessage, **fields: Any) -> Incoming:
    """An `Incoming` from `user` about `message` (in its chat), with the other `fields`."""
    return Incoming(
        platform=Platform.TELEGRAM,
        user_id=UserId(str(user.id)),
        chat_id=ChatId(str(message.chat.id)),
        display_name=_display_name(user),
        language_code=user.language_code,
        is_group=message.chat.type != "private",
        message_id=str(message.message_id),
        **fields,
    )


def _display_name(user: User) -> str:
    """The name as Telegram shows it: first and last name, else @username, else none.
    (PTB's `full_name` is None for the empty first name Telegram allows.)"""
    full = " ".join(part for part in (user.first_name, user.last_name) if part)
    return full or (f"@{user.username}" if user.username else "")
