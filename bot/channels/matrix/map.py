"""Matrix events → `Incoming`, and `Reply` → message contents, as pure functions.

Matrix has no buttons that every client shows, so choices go out as a numbered list; the
resident answers with the number or the label (`ChoiceMemory`, the one part here that keeps
state, in the database, maps that back to the button's payload). Commands may start with "/"
or with "!" (Element keeps "/" for its own commands).
Files are described here but downloaded by the channel, which knows the size limit.
"""

from __future__ import annotations

from collections.abc import Sequence
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
from handlers.clock import Clock
from handlers.messages import (
    UNDECRYPTABLE,
    ChatId,
    Choice,
    Incoming,
    Platform,
    Reply,
    UserId,
    parse_command,
    reply_from_record,
    reply_record,
)
from storage.bot_messages import KEEP, KEEP_HANDLED, PROMPT, BotMessageStore, SentMessage
from storage.items.feedback import find_reference


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
    event: Event, room_id: str, *, is_group: bool, display_name: str = "", bot_id: str = ""
) -> tuple[Incoming, FileToFetch | None] | None:
    """The `Incoming` for a message event (and the file it carries); None for events the bot
    ignores (state changes, reactions, its own echoes are filtered by the channel).

    `bot_id` is the bot's own user id, for the link to a direct chat with it."""
    base = Incoming(
        platform=Platform.MATRIX,
        user_id=UserId(event.sender),
        chat_id=ChatId(room_id),
        display_name=display_name,
        is_group=is_group,
        message_id=event.event_id,
        private_link=private_link(bot_id),
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
        caption = media_caption(content)
        if caption and reply_to:
            caption = strip_reply_fallback(caption)
        return replace(base, text=caption, reply_to=reply_to), wanted
    if isinstance(event, StickerEvent):
        return replace(base, unsupported="sticker"), None
    msgtype = content.get("msgtype")
    if event.source.get("type") == "m.room.message" and msgtype:
        return replace(base, unsupported=str(msgtype)), None  # m.location, unknown types
    return None


def private_link(bot_id: str) -> str | None:
    """A link that shows the bot's account in any Matrix client, with "send a message" on it."""
    return f"https://matrix.to/#/{bot_id}" if bot_id else None


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


def media_caption(content: dict[str, Any]) -> str:
    """What the person wrote with a file: the `body` of a media event that names its file in
    `filename` and says something else in `body` (the Matrix spec's media captions); "" for
    a file sent without words, whose body is only its name."""
    body, name = content.get("body"), content.get("filename")
    if not isinstance(body, str) or not isinstance(name, str) or not name or body == name:
        return ""
    return body


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
    *,
    caption: str | None = None,
) -> dict[str, Any]:
    """An m.image or m.file message for an uploaded file (encrypted rooms get `file`). A
    caption is the `body`, with `filename` naming the file (the Matrix spec's media
    captions); without one, the body is the file's name."""
    content: dict[str, Any] = {
        "msgtype": "m.image" if kind == "photo" else "m.file",
        "body": caption or file_name,
        "filename": file_name,
        "info": {"mimetype": mime_type, "size": size},
    }
    if encryption is not None:
        content["file"] = {"url": url, **encryption}
    else:
        content["url"] = url
    return content


class ChoiceMemory:
    """The choices the bot offered in rooms and the items its answers named, kept in the
    database (`storage.bot_messages`) so that a restart forgets neither.

    In a direct chat the last prompt of the room counts (as on the console). In a group room
    several item cards stand side by side, so a typed choice counts only as a reply to the
    message that offered it: a notification's card, or the bot's own answer (the state menu,
    an `!item` card, `!pending`'s next page). An answer in a direct chat that names one item
    (the confirmation with its reference, a status answer) is kept with that item, so that a
    reply to it reaches the working group; in group rooms only notifications name items (as
    on Telegram), so that a coordinator's remark on the bot's answer never reaches a resident.
    With them it keeps which messages it answered, for the batch a restart hands over again.
    """

    def __init__(self, store: BotMessageStore, clock: Clock) -> None:
        self._store = store
        self._clock = clock

    async def offered(
        self,
        room_id: str,
        sent: Sequence[tuple[str | None, Reply]],
        *,
        is_group: bool,
        answering: str | None,
    ) -> None:
        """Keep what the replies to the event `answering` (or a proactive message, None)
        offered and named, each with the id of its event (None if it was not sent), and that
        `answering` was answered. In a direct chat a turn without choices ends the room's
        prompt."""
        messages: list[SentMessage] = []
        if is_group:
            messages = [
                SentMessage(event_id, _pairs(reply.choices))
                for event_id, reply in sent
                if event_id and reply.choices
            ]
        else:
            last = next((reply.choices for _, reply in reversed(sent) if reply.choices), ())
            messages.append(SentMessage(PROMPT, _pairs(last)))
            for event_id, reply in sent:
                reference = find_reference(reply.text) if answering and event_id else None
                if event_id and reference:
                    messages.append(SentMessage(event_id, reference=reference))
        if messages or answering:
            await self._store.add_messages(
                Platform.MATRIX, room_id, messages, self._clock.now(), answering=answering
            )

    async def answering(self, room_id: str, event_id: str, replies: list[Reply]) -> None:
        """The event is handled and these are its replies, to be sent (see `answered`)."""
        records = [reply_record(reply) for reply in replies]
        await self._store.add_answer(
            Platform.MATRIX, room_id, event_id, records, self._clock.now()
        )

    async def answered(self, room_id: str, event_ids: Sequence[str]) -> dict[str, list[Reply]]:
        """Those of the events that were handled already (before a restart, or by the
        process that led before), each with its replies that may not have been sent yet
        (`answering`; empty when they were sent)."""
        handled = await self._store.list_handled(Platform.MATRIX, room_id, event_ids)
        return {
            event_id: [reply_from_record(record) for record in records or []]
            for event_id, records in handled.items()
        }

    async def resolve(self, incoming: Incoming) -> Incoming:
        """`incoming` with the payload of the choice it types, if it types one. A file's
        caption types none: it describes the file."""
        if incoming.command or incoming.payload or incoming.edited or not incoming.text.strip():
            return incoming
        if incoming.attachments or incoming.unsupported:
            return incoming
        if incoming.is_group and not incoming.reply_to:
            return incoming
        offered = incoming.reply_to if incoming.is_group else PROMPT
        assert offered is not None
        choices = await self._store.get_choices(incoming.platform, incoming.chat_id, offered)
        if not choices:
            return incoming
        payload = match_typed(incoming.text, choices)
        if payload is None:
            return incoming
        return replace(incoming, payload=payload, text="", reply_to=None)

    async def forget_old(self) -> int:
        """Drop what was offered longer ago than `KEEP` and the answered events older than
        `KEEP_HANDLED`; returns how many rows went."""
        now = self._clock.now()
        return await self._store.delete_before(now - KEEP, now - KEEP_HANDLED)


def _pairs(choices: Sequence[Choice]) -> tuple[tuple[str, str], ...]:
    return tuple((choice.label, choice.payload) for choice in choices)
