"""The values that cross the boundary between the channels and the handlers.

A channel adapter turns a platform update into an `Incoming` and sends every `Reply` back in
its own way (inline keyboard, numbered list, ...). Ids are strings everywhere: Telegram's
integers become strings at the edge, so one contact table holds every platform.
"""

from __future__ import annotations

import base64
import enum
from dataclasses import asdict, dataclass, field
from typing import Any, NewType

UserId = NewType("UserId", str)
ChatId = NewType("ChatId", str)


class Platform(enum.StrEnum):
    TELEGRAM = "telegram"
    MATRIX = "matrix"
    CONSOLE = "console"


@dataclass(frozen=True, slots=True)
class Address:
    """Where a message can be delivered: one chat on one platform."""

    platform: Platform
    chat_id: ChatId


@dataclass(frozen=True, slots=True)
class Attachment:
    """A file a resident sent or the bot sends; `data` holds the bytes when they are at hand.
    `caption` is what the resident wrote with the file (their own words, shown under it)."""

    kind: str  # "photo" or "document"
    file_name: str
    mime_type: str
    data: bytes = b""
    platform_file_id: str | None = None
    stored_id: int | None = None  # the attachment row holding it, for outbox payloads
    caption: str | None = None

    @property
    def size(self) -> int:
        return len(self.data)


# `Incoming.unsupported` for a file over the configured size limit (not downloaded).
FILE_TOO_LARGE = "file_too_large"
# `Incoming.unsupported` for an encrypted message the bot could not decrypt (Matrix).
UNDECRYPTABLE = "undecryptable"


@dataclass(frozen=True, slots=True)
class Incoming:
    """One update from a person, whatever the channel.

    `command` is set for "/name args" texts (lower case, without the slash and any
    "@botname"); `payload` is set when a button was pressed; `unsupported` names a kind of
    message the bot cannot use (sticker, voice, location, ...); `edited` marks the new text
    of a message the person changed after sending it. `private_link` opens a private chat
    with the bot (a Telegram deep link, a matrix.to link to the bot's account): what a
    command about a person's own data answers in a group chat, where it must not show it.
    """

    platform: Platform
    user_id: UserId
    chat_id: ChatId
    text: str = ""
    display_name: str = ""
    language_code: str | None = None
    is_group: bool = False
    command: str | None = None
    args: tuple[str, ...] = ()
    payload: str | None = None
    attachments: tuple[Attachment, ...] = ()
    unsupported: str | None = None
    message_id: str | None = None
    reply_to: str | None = None  # the id of the bot's message this one answers
    quoted_text: str | None = None  # that message's text, where the platform passes it along
    edited: bool = False  # a change to an earlier message; `message_id` is that message's
    private_link: str | None = None  # None where the channel has no link to a private chat

    @property
    def address(self) -> Address:
        return Address(self.platform, self.chat_id)


@dataclass(frozen=True, slots=True)
class Choice:
    """A button: what the person sees and what comes back when they press it."""

    label: str
    payload: str


@dataclass(frozen=True, slots=True)
class Reply:
    """One message the bot sends back.

    `replaces_prompt` asks the channel to show this text in place of the message whose button
    was pressed (Telegram edits it, so an old keyboard cannot be pressed twice); channels that
    cannot edit send it as a new message. `notice` marks a short remark about a pressed button
    that a channel may show as a passing hint (Telegram's callback answer) instead of a message.
    `refusal` marks the answer to someone who may not do what they asked (a button on a card in
    a working group's chat pressed by someone who is not its coordinator): the buttons still
    hold for those who may, so the pressed message stays as it is. `expects_reply` asks for the
    next message as a reply to this one (Telegram's ForceReply).
    """

    text: str
    choices: tuple[Choice, ...] = ()
    files: tuple[Attachment, ...] = ()
    replaces_prompt: bool = False
    choice_columns: int = 1
    notice: bool = False
    expects_reply: bool = False
    refusal: bool = False


@dataclass(frozen=True, slots=True)
class ParsedCommand:
    name: str
    args: tuple[str, ...] = field(default_factory=tuple)
    rest: str = ""


def parse_command(text: str) -> ParsedCommand | None:
    """Split "/name@bot arg1 arg2" into its parts; None when `text` is not a command.

    `rest` keeps the text after the command verbatim, for commands whose argument is prose
    (`/reply F-2026-0001 Thank you ...`).
    """
    stripped = text.strip()
    if not stripped.startswith("/") or len(stripped) < 2:
        return None
    head, _, rest = stripped[1:].partition(" ")
    name = head.split("@", 1)[0].lower()
    if not name or not all(c.isalnum() or c == "_" for c in name):
        return None
    return ParsedCommand(name=name, args=tuple(rest.split()), rest=rest.strip())


def reply_to_payload(reply: Reply) -> dict[str, object]:
    """A reply as JSON for the outbox. Files are not embedded; they travel by reference."""
    payload: dict[str, object] = {"text": reply.text}
    if reply.choices:
        payload["choices"] = [[choice.label, choice.payload] for choice in reply.choices]
        payload["columns"] = reply.choice_columns
    stored = [file.stored_id for file in reply.files if file.stored_id is not None]
    if stored:
        payload["files"] = stored
    return payload


def reply_from_payload(payload: dict[str, object], files: tuple[Attachment, ...] = ()) -> Reply:
    """The reply an outbox payload stands for; `files` are the loaded `payload["files"]`."""
    raw_choices = payload.get("choices") or []
    assert isinstance(raw_choices, list)
    columns = payload.get("columns", 1)
    return Reply(
        text=str(payload.get("text", "")),
        choices=tuple(Choice(str(label), str(data)) for label, data in raw_choices),
        choice_columns=columns if isinstance(columns, int) else 1,
        files=files,
    )


def reply_record(reply: Reply) -> dict[str, Any]:
    """A reply whole, as JSON, files' bytes included (base64): for replies stored until they
    are sent (the Telegram inbox of several processes), unlike `reply_to_payload`."""
    record = asdict(reply)
    record["choices"] = [[choice.label, choice.payload] for choice in reply.choices]
    record["files"] = [
        {**asdict(file), "data": base64.b64encode(file.data).decode("ascii")}
        for file in reply.files
    ]
    return record


def reply_from_record(record: dict[str, Any]) -> Reply:
    """The reply `reply_record` wrote."""
    return Reply(
        **{
            **record,
            "choices": tuple(Choice(label, data) for label, data in record["choices"]),
            "files": tuple(
                Attachment(**{**file, "data": base64.b64decode(file["data"])})
                for file in record["files"]
            ),
        }
    )
