"""Bot API method implementations with Telegram's validation order and error texts.

Each handler takes the server and decoded :class:`Params` and returns the ``result`` value
or raises :class:`ApiError`.  Handlers are synchronous except getUpdates (long polling).
"""

from __future__ import annotations

import itertools
import struct
from typing import TYPE_CHECKING, Any

from . import errors as E
from .errors import ApiError, bad, forbidden, too_many
from .params import Params, Upload
from .state import JSON, Chat, StoredFile
from .textparse import parse, utf16_len

if TYPE_CHECKING:
    from .server import FakeBotApi

MAX_UPLOAD = 50 * 1024 * 1024
CHAT_ACTIONS = frozenset(
    {
        "typing",
        "upload_photo",
        "record_video",
        "upload_video",
        "record_voice",
        "upload_voice",
        "upload_document",
        "choose_sticker",
        "find_location",
        "record_video_note",
        "upload_video_note",
    }
)


def resolve_chat(api: FakeBotApi, p: Params) -> Chat:
    value = p.raw.get("chat_id")
    if value is None or value == "":
        raise bad("chat_id is empty")
    chat: Chat | None
    if isinstance(value, str) and value.startswith("@"):
        chat = api.chat_by_username.get(value[1:].lower())
    else:
        try:
            chat = api.chats.get(int(value))
        except (TypeError, ValueError):
            chat = None
    if chat is None:
        raise bad(E.CHAT_NOT_FOUND)
    return chat


def check_reachable(chat: Chat) -> None:
    """Private chats with deactivated/blocking users refuse every send with 403."""
    user = chat.user
    if user is not None:
        if user.deactivated:
            raise forbidden(E.DEACTIVATED)
        if user.blocked:
            raise forbidden(E.BLOCKED)


def flood(api: FakeBotApi, chat: Chat, count_global: bool) -> None:
    retry = api.limits.check(chat.id, chat.type, count_global)
    if retry is not None:
        raise too_many(retry)


def message_text(
    p: Params, key: str, limit: int, too_long: str, required: bool
) -> tuple[str, list[JSON]]:
    raw = p.string(key)
    if not raw:
        if required:
            raise bad(E.TEXT_EMPTY)
        return "", []
    ents_key = "entities" if key == "text" else "caption_entities"
    plain, ents = parse(raw, p.string("parse_mode"), p.obj(ents_key))
    if required and not plain:
        raise bad(E.TEXT_EMPTY)
    if utf16_len(plain) > limit:
        raise bad(too_long)
    return plain, ents


def inline_markup(p: Params) -> JSON | None:
    """Validate reply_markup; return what Telegram echoes (only inline keyboards)."""
    markup = p.obj("reply_markup", "can't parse reply keyboard markup JSON object")
    if markup is None:
        return None
    if not isinstance(markup, dict):
        raise bad("can't parse reply keyboard markup JSON object")
    rows = markup.get("inline_keyboard")
    if rows is None:
        return None
    if not isinstance(rows, list) or not all(isinstance(r, list) for r in rows):
        raise bad('field "inline_keyboard" of the InlineKeyboardMarkup must be an Array')
    for button in itertools.chain.from_iterable(rows):
        if not isinstance(button, dict) or "text" not in button:
            raise bad(
                "can't parse inline keyboard button: Text buttons are unallowed in "
                "the inline keyboard"
            )
        data = button.get("callback_data")
        if data is not None and not 1 <= len(str(data).encode("utf-8")) <= 64:
            raise bad(E.BUTTON_DATA_INVALID)
        if len(button) < 2:
            raise bad(
                "can't parse inline keyboard button: Text buttons are unallowed in "
                "the inline keyboard"
            )
    rows = [r for r in rows if r]
    return {"inline_keyboard": rows} if rows else None


def reply_target(api: FakeBotApi, p: Params, chat: Chat) -> JSON | None:
    params = p.obj("reply_parameters")
    if isinstance(params, dict):
        mid, allow = params.get("message_id"), bool(params.get("allow_sending_without_reply"))
    else:
        mid, allow = p.integer("reply_to_message_id"), p.flag("allow_sending_without_reply")
    if mid is None:
        return None
    replied = api.message(chat.id, int(mid))
    if replied is None:
        if allow:
            return None
        raise bad(E.REPLY_NOT_FOUND)
    return api.reply_snapshot(replied)


def deliver(
    api: FakeBotApi,
    p: Params,
    chat: Chat,
    extra: JSON,
    method: str,
    file: StoredFile | None = None,
) -> JSON:
    """Common tail of send*: reply lookup, markup, flood control, store."""
    replied = reply_target(api, p, chat)
    markup = inline_markup(p)
    flood(api, chat, count_global=True)
    if replied is not None:
        extra["reply_to_message"] = replied
    if markup is not None:
        extra["reply_markup"] = markup
    msg = api.new_message(chat, api.bot_user, extra)
    raw = p.obj("reply_markup")
    client = raw if isinstance(raw, dict) and "inline_keyboard" not in raw else None
    api.record_bot_message(msg, method, file, client)
    return msg


def send_message(api: FakeBotApi, p: Params) -> JSON:
    chat = resolve_chat(api, p)
    check_reachable(chat)
    text, ents = message_text(p, "text", 4096, E.TOO_LONG, required=True)
    extra: JSON = {"text": text}
    if ents:
        extra["entities"] = ents
    return deliver(api, p, chat, extra, "sendMessage")


def _caption(p: Params, extra: JSON) -> None:
    caption, ents = message_text(p, "caption", 1024, E.CAPTION_TOO_LONG, required=False)
    if caption:
        extra["caption"] = caption
        if ents:
            extra["caption_entities"] = ents


def _image_size(data: bytes) -> tuple[int, int]:
    """Read PNG/JPEG dimensions cheaply so PhotoSize widths look plausible."""
    if data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) >= 24:
        w, h = struct.unpack(">II", data[16:24])
        return int(w), int(h)
    i = 2
    while data[:2] == b"\xff\xd8" and i + 9 < len(data):
        if data[i] != 0xFF:
            break
        marker, seg = data[i + 1], struct.unpack(">H", data[i + 2 : i + 4])[0]
        if marker in (0xC0, 0xC1, 0xC2):
            h, w = struct.unpack(">HH", data[i + 5 : i + 9])
            return int(w), int(h)
        i += 2 + seg
    return 800, 600


def input_file(api: FakeBotApi, p: Params, name: str, kind: str) -> tuple[StoredFile, JSON]:
    """Accept a multipart upload or an existing file_id (re-send without upload)."""
    value = p.string(name)
    upload: Upload | None = p.files.get(name)
    if upload is None and value and value.startswith("attach://"):
        upload = p.files.get(value[9:])
    if upload is not None:
        if not upload.data:
            raise bad("file must be non-empty")
        if len(upload.data) > MAX_UPLOAD:
            raise ApiError(413, "Request Entity Too Large")
        if kind == "photo":
            sizes, biggest = api.photo_sizes(upload.data, *_image_size(upload.data))
            return biggest, {"photo": sizes}
        ext = "." + upload.filename.rsplit(".", 1)[-1] if upload.filename else ""
        f = api._file(upload.data, "document", upload.filename, upload.content_type, ext)
        return f, {"document": api.document_json(f)}
    if not value:
        raise bad(f"there is no {name} in the request")
    stored = api.files.get(value)
    if stored is None:
        raise bad(E.WRONG_FILE_ID)
    if stored.kind != kind:
        raise bad("type of file mismatch")
    if kind == "photo":
        return stored, {"photo": api.photo_sets[stored.file_id]}
    return stored, {"document": api.document_json(stored)}


def _send_file(api: FakeBotApi, p: Params, kind: str, method: str) -> JSON:
    chat = resolve_chat(api, p)
    check_reachable(chat)
    stored, extra = input_file(api, p, kind, kind)
    _caption(p, extra)
    return deliver(api, p, chat, extra, method, stored)


def send_document(api: FakeBotApi, p: Params) -> JSON:
    return _send_file(api, p, "document", "sendDocument")


def send_photo(api: FakeBotApi, p: Params) -> JSON:
    return _send_file(api, p, "photo", "sendPhoto")


def _editable(api: FakeBotApi, p: Params) -> tuple[Chat, Any]:
    if p.raw.get("inline_message_id"):
        raise bad(E.EDIT_NOT_FOUND)
    chat = resolve_chat(api, p)
    mid = p.integer("message_id")
    if mid is None:
        raise bad("message identifier is not specified")
    bm = api.bot_message(chat.id, mid)
    if bm is None or bm.deleted:
        if api.message(chat.id, mid) is not None:
            raise bad("message can't be edited")
        raise bad(E.EDIT_NOT_FOUND)
    return chat, bm


def _edit(api: FakeBotApi, p: Params, changes: JSON) -> JSON:
    chat, bm = _editable(api, p)
    markup = inline_markup(p)
    current = bm.json
    new = dict(current)
    new.update(changes)
    for key, value in changes.items():
        if value is None or value == []:
            new.pop(key, None)
    if markup is None:
        new.pop("reply_markup", None)
    else:
        new["reply_markup"] = markup
    keys = ("text", "entities", "caption", "caption_entities", "reply_markup")
    if all(new.get(k) == current.get(k) for k in keys):
        raise bad(E.NOT_MODIFIED)
    flood(api, chat, count_global=False)
    new["edit_date"] = int(api.wall())
    bm.edits.append(current)
    bm.json = new
    api._messages[(chat.id, bm.message_id)] = new
    return new


def edit_message_text(api: FakeBotApi, p: Params) -> JSON:
    _, bm = _editable(api, p)
    if "text" not in bm.json:
        raise bad("there is no text in the message to edit")
    text, ents = message_text(p, "text", 4096, E.TOO_LONG, required=True)
    return _edit(api, p, {"text": text, "entities": ents})


def edit_message_caption(api: FakeBotApi, p: Params) -> JSON:
    _editable(api, p)
    caption, ents = message_text(p, "caption", 1024, E.CAPTION_TOO_LONG, required=False)
    return _edit(api, p, {"caption": caption or None, "caption_entities": ents})


def edit_message_reply_markup(api: FakeBotApi, p: Params) -> JSON:
    return _edit(api, p, {})
