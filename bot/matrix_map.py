"""Matrix events → `Incoming`, and `Reply` → message contents, as pure functions.

Matrix has no buttons that every client shows, so choices go out as a numbered list; the
resident answers with the number or the label (`ChoiceMemory` maps that back to the button's
payload). Commands may start with "/" or with "!" (Element keeps "/" for its own commands).
Files are described here but downloaded by the channel, which knows the size limit.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, replace
from typing import Any

from nio import (
    Event,
    MegolmEvent,
    RoomEncryptedFile,
    RoomEncryptedImage,
    RoomEncryptedMedia,
    RoomMessageEmote,
    RoomMessageFile,
    RoomMessageImage,
    RoomMessageMedia,
    RoomMessageNotice,
    RoomMessageText,
    StickerEvent,
)

from handlers.choices import match_typed
from handlers.messages import (
    UNDECRYPTABLE,
    ChatId,
    Choice,
    Incoming,
    Platform,
    Reply,
    UserId,
    parse_command,
)

MEMORY_SIZE = 2000  # remembered prompts (rooms and group messages), oldest forgotten first


@dataclass(frozen=True, slots=True)
class FileToFetch:
    """An image or file a resident sent, still on the homeserver (maybe encrypted)."""

    kind: str  # "photo" or "document"
    url: str  # mxc://...
    file_name: str
    mime_type: str
    size: int | None
    encryption: dict[str, Any] | None = None  # key, iv, hashes of an encrypted attachment


def to_incoming(
    event: Event, room_id: str, *, is_group: bool, display_name: str = ""
) -> tuple[Incoming, FileToFetch | None] | None:
    """The `Incoming` for a message event (and the file it carries); None for events the bot
    ignores (state changes, reactions, its own echoes are filtered by the channel)."""
    base = Incoming(
        platform=Platform.MATRIX,
        user_id=UserId(event.sender),
        chat_id=ChatId(room_id),
        display_name=display_name,
        is_group=is_group,
        message_id=event.event_id,
    )
    content = event.source.get("content", {})
    if not isinstance(content, dict):
        return None
    if "m.new_content" in content:
        return _edit(base, content)
    reply_to = in_reply_to(content)
    if isinstance(event, MegolmEvent):
        return replace(base, unsupported=UNDECRYPTABLE), None
    if isinstance(event, RoomMessageText | RoomMessageNotice | RoomMessageEmote):
        if isinstance(event, RoomMessageNotice):
            return None  # notices are bots talking; answering them could start a loop
        text = strip_reply_fallback(event.body) if reply_to else event.body
        incoming = replace(base, text=text, reply_to=reply_to)
        command = parse_command("/" + text[1:] if text.startswith("!") else text)
        if command is not None:
            return replace(incoming, command=command.name, args=command.args), None
        return incoming, None
    if isinstance(event, RoomMessageMedia | RoomEncryptedMedia):
        wanted = file_to_fetch(event)
        if wanted is None:
            return replace(base, unsupported=str(content.get("msgtype", "media"))), None
        return replace(base, reply_to=reply_to), wanted
    if isinstance(event, StickerEvent):
        return replace(base, unsupported="sticker"), None
    msgtype = content.get("msgtype")
    if event.source.get("type") == "m.room.message" and msgtype:
        return replace(base, unsupported=str(msgtype)), None  # m.location, unknown types
    return None


def _edit(base: Incoming, content: dict[str, Any]) -> tuple[Incoming, None] | None:
    """A change to an earlier text (`m.replace`): the new text, for the original's id."""
    relates = content.get("m.relates_to") or {}
    new = content.get("m.new_content")
    if not isinstance(relates, dict) or relates.get("rel_type") != "m.replace":
        return None
    if not isinstance(new, dict) or not isinstance(new.get("body"), str):
        return None
    original = relates.get("event_id")
    if not isinstance(original, str):
        return None
    return replace(base, text=new["body"], edited=True, message_id=original), None


def file_to_fetch(event: Event) -> FileToFetch | None:
    """The image or file of a media event; None for audio and video."""
    content = event.source.get("content", {})
    info = content.get("info") or {}
    size = info.get("size") if isinstance(info.get("size"), int) else None
    body = str(content.get("filename") or content.get("body") or "")
    if isinstance(event, RoomMessageImage | RoomEncryptedImage):
        kind, mime, name = "photo", info.get("mimetype") or "image/jpeg", body or "image.jpg"
    elif isinstance(event, RoomMessageFile | RoomEncryptedFile):
        kind, mime = "document", info.get("mimetype") or "application/octet-stream"
        name = body or "document"
    else:
        return None
    if isinstance(event, RoomEncryptedMedia):
        encryption = {"key": event.key, "iv": event.iv, "hashes": event.hashes}
        return FileToFetch(kind, event.url, name, str(mime), size, encryption)
    return FileToFetch(kind, event.url, name, str(mime), size)


def in_reply_to(content: dict[str, Any]) -> str | None:
    relates = content.get("m.relates_to") or {}
    replied = relates.get("m.in_reply_to") if isinstance(relates, dict) else None
    event_id = replied.get("event_id") if isinstance(replied, dict) else None
    return str(event_id) if event_id else None


def strip_reply_fallback(body: str) -> str:
    """A reply's body without the quoted original ("> <@bot:server> ..." lines) before it."""
    lines = body.split("\n")
    if not lines or not lines[0].startswith(">"):
        return body
    index = 0
    while index < len(lines) and lines[index].startswith(">"):
        index += 1
    if index < len(lines) and not lines[index].strip():
        index += 1
    return "\n".join(lines[index:])


def render_text(reply: Reply) -> str:
    """The reply's text with its choices as a numbered list."""
    if not reply.choices:
        return reply.text
    options = "\n".join(f"{n}) {c.label}" for n, c in enumerate(reply.choices, start=1))
    return f"{reply.text}\n\n{options}" if reply.text else options


def text_content(reply: Reply) -> dict[str, Any]:
    return {"msgtype": "m.notice" if reply.notice else "m.text", "body": render_text(reply)}


def file_content(
    kind: str,
    file_name: str,
    mime_type: str,
    size: int,
    url: str,
    encryption: dict[str, Any] | None,
) -> dict[str, Any]:
    """An m.image or m.file message for an uploaded file (encrypted rooms get `file`)."""
    content: dict[str, Any] = {
        "msgtype": "m.image" if kind == "photo" else "m.file",
        "body": file_name,
        "filename": file_name,
        "info": {"mimetype": mime_type, "size": size},
    }
    if encryption is not None:
        content["file"] = {"url": url, **encryption}
    else:
        content["url"] = url
    return content


class ChoiceMemory:
    """The choices last offered, so that a typed number or label presses the button.

    In a direct chat the last prompt of the room counts (as on the console). In a group room
    several item cards stand side by side, so a typed choice counts only as a reply to the
    card that offered it.
    """

    def __init__(self, size: int = MEMORY_SIZE) -> None:
        self._size = size
        self._rooms: OrderedDict[str, tuple[Choice, ...]] = OrderedDict()
        self._messages: OrderedDict[str, tuple[Choice, ...]] = OrderedDict()

    def offered(self, room_id: str, event_id: str | None, replies: list[Reply]) -> None:
        """Remember what a turn (or a proactive message) offered; a turn without choices
        ends the room's prompt."""
        choices = next((r.choices for r in reversed(replies) if r.choices), ())
        _put(self._rooms, room_id, choices, self._size)
        if event_id and choices:
            _put(self._messages, event_id, choices, self._size)

    def resolve(self, incoming: Incoming) -> Incoming:
        """`incoming` with the payload of the choice it types, if it types one."""
        if incoming.command or incoming.payload or not incoming.text.strip():
            return incoming
        if incoming.is_group:
            choices = self._messages.get(incoming.reply_to or "", ())
        else:
            choices = self._rooms.get(incoming.chat_id, ())
        if not choices:
            return incoming
        payload = match_typed(incoming.text, [(c.label, c.payload) for c in choices])
        if payload is None:
            return incoming
        return replace(incoming, payload=payload, text="", reply_to=None)


def _put(
    memory: OrderedDict[str, tuple[Choice, ...]], key: str, value: tuple[Choice, ...], size: int
) -> None:
    memory.pop(key, None)
    if value:
        memory[key] = value
        while len(memory) > size:
            memory.popitem(last=False)
