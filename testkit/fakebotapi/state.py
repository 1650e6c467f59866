"""In-memory world of the fake Bot API: users, chats, messages, files, updates, records.

Everything is keyed for O(1) lookup and stored as ready-to-serialise Bot API dicts, so a
request costs one dict build and no copies of histories (the server is benchmarked at
1,000+ updates per second).
"""

from __future__ import annotations

import asyncio
import itertools
import secrets
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Any

from .limits import Clock

JSON = dict[str, Any]
DEFAULT_ALLOWED = frozenset(
    {
        "message",
        "edited_message",
        "channel_post",
        "edited_channel_post",
        "inline_query",
        "chosen_inline_result",
        "callback_query",
        "shipping_query",
        "pre_checkout_query",
        "poll",
        "poll_answer",
        "my_chat_member",
        "chat_join_request",
        "business_connection",
        "business_message",
        "edited_business_message",
        "deleted_business_messages",
        "message_reaction_count",
        "purchased_paid_media",
        "removed_chat_boost",
        "chat_boost",
    }
)
MAX_DOWNLOAD = 20 * 1024 * 1024


@dataclass(slots=True)
class User:
    """A Telegram user; ``blocked``/``deactivated`` drive the 403 answers."""

    id: int
    first_name: str
    last_name: str | None = None
    username: str | None = None
    language_code: str | None = None
    blocked: bool = False
    deactivated: bool = False

    def json(self) -> JSON:
        data: JSON = {"id": self.id, "is_bot": False, "first_name": self.first_name}
        for key in ("last_name", "username", "language_code"):
            if getattr(self, key) is not None:
                data[key] = getattr(self, key)
        return data


@dataclass(slots=True)
class Chat:
    """A chat; private chats share the user's id, as in Telegram."""

    id: int
    type: str
    json: JSON
    members: set[int] = field(default_factory=set)
    user: User | None = None


@dataclass(slots=True)
class StoredFile:
    """An uploaded or injected file; photo sizes share one ``data`` object (no copies)."""

    file_id: str
    file_unique_id: str
    data: bytes
    kind: str
    file_path: str
    file_name: str | None = None
    mime_type: str | None = None

    @property
    def size(self) -> int:
        return len(self.data)


@dataclass(slots=True)
class BotMessage:
    """A message the bot sent, as the recipient currently sees it, plus its edit history."""

    chat_id: int
    message_id: int
    json: JSON
    method: str
    file: StoredFile | None = None
    edits: list[JSON] = field(default_factory=list)
    deleted: bool = False
    # A reply keyboard or force_reply as sent: the recipient's app shows it, but Telegram
    # does not echo it in the Message.
    client_markup: JSON | None = None

    @property
    def text(self) -> str | None:
        return self.json.get("text")

    @property
    def caption(self) -> str | None:
        return self.json.get("caption")

    @property
    def reply_markup(self) -> JSON | None:
        return self.json.get("reply_markup")

    @property
    def buttons(self) -> list[list[str]]:
        """Inline button texts row by row, for "received X with buttons [..]" assertions."""
        rows = (self.reply_markup or {}).get("inline_keyboard", [])
        return [[b.get("text", "") for b in row] for row in rows]

    @property
    def callback_data(self) -> list[str]:
        rows = (self.reply_markup or {}).get("inline_keyboard", [])
        return [b["callback_data"] for row in rows for b in row if "callback_data" in b]

    @property
    def data(self) -> bytes | None:
        """Bytes of the attached document/photo, if any."""
        return self.file.data if self.file else None


@dataclass(slots=True)
class CallbackQuery:
    """A button press; ``created`` is on the server clock so tests can age it."""

    id: str
    user_id: int
    chat_id: int
    message_id: int
    data: str
    created: float
    answered: bool = False
    answer: JSON | None = None


@dataclass(slots=True)
class CallRecord:
    """One Bot API call the server accepted (status 200) or refused."""

    t: float
    method: str
    chat_id: int | str | None
    message_id: int | None
    text: str | None
    status: int
    error_code: int | None = None
    description: str | None = None

    def json(self) -> JSON:
        return {k: getattr(self, k) for k in self.__slots__}


class World:
    """State plus user-side injection helpers; :class:`FakeBotApi` adds HTTP on top."""

    def __init__(self, token: str, clock: Clock = time.monotonic, wall: Clock = time.time) -> None:
        self.token = token
        self.clock = clock
        self.wall = wall
        self.bot_id = int(token.split(":", 1)[0]) if token.split(":", 1)[0].isdigit() else 1
        self.bot_user: JSON = {
            "id": self.bot_id,
            "is_bot": True,
            "first_name": "Fake Bot",
            "username": "fake_bot",
        }
        self.users: dict[int, User] = {}
        self.chats: dict[int, Chat] = {}
        self.chat_by_username: dict[str, Chat] = {}
        self.files: dict[str, StoredFile] = {}
        self.files_by_path: dict[str, StoredFile] = {}
        self.queries: dict[str, CallbackQuery] = {}
        self.photo_sets: dict[str, list[JSON]] = {}
        self.updates: deque[JSON] = deque()
        self.allowed_updates: frozenset[str] = DEFAULT_ALLOWED
        self.sent_log: list[CallRecord] = []
        self.stats_counter: Counter[tuple[str, int]] = Counter()
        self._messages: dict[tuple[int, int], JSON] = {}
        self._bot_messages: dict[tuple[int, int], BotMessage] = {}
        self._conv: dict[int, list[BotMessage]] = {}
        self._next_mid: dict[int, int] = {}
        self._ids = itertools.count(1)
        self._next_update_id = 100_000
        self._poll_waiter: asyncio.Future[None] | None = None

    # ---- ids and files -------------------------------------------------------------
    def _file(
        self,
        data: bytes,
        kind: str,
        file_name: str | None = None,
        mime_type: str | None = None,
        ext: str = "",
    ) -> StoredFile:
        n = next(self._ids)
        prefix = {"photo": "AgACAgIAAxk", "document": "BQACAgIAAxk"}.get(kind, "CAACAgIAAxk")
        file_id = f"{prefix}{n:07d}{secrets.token_urlsafe(12)}"
        folder = "photos" if kind == "photo" else "documents"
        stored = StoredFile(
            file_id, f"AQAD{n:07d}", data, kind, f"{folder}/file_{n}{ext}", file_name, mime_type
        )
        self.files[file_id] = stored
        self.files_by_path[stored.file_path] = stored
        return stored

    def document_json(self, f: StoredFile) -> JSON:
        doc: JSON = {"file_id": f.file_id, "file_unique_id": f.file_unique_id, "file_size": f.size}
        if f.file_name:
            doc["file_name"] = f.file_name
        if f.mime_type:
            doc["mime_type"] = f.mime_type
        return doc

    def photo_sizes(self, data: bytes, width: int, height: int) -> tuple[list[JSON], StoredFile]:
        """Telegram's thumbnails (90/320/800/1280 px long side, capped by the original)."""
        sizes: list[JSON] = []
        biggest = self._file(data, "photo", ext=".jpg")
        longest = max(width, height, 1)
        for side in (90, 320, 800):
            if side < longest:
                f = self._file(data, "photo", ext=".jpg")  # thumbnails keep full bytes
                sizes.append(
                    {
                        "file_id": f.file_id,
                        "file_unique_id": f.file_unique_id,
                        "file_size": f.size,
                        "width": width * side // longest,
                        "height": height * side // longest,
                    }
                )
        sizes.append(
            {
                "file_id": biggest.file_id,
                "file_unique_id": biggest.file_unique_id,
                "file_size": biggest.size,
                "width": width,
                "height": height,
            }
        )
        for size in sizes:
            self.photo_sets[size["file_id"]] = sizes
        return sizes, biggest

    # ---- users and chats -----------------------------------------------------------
    def add_user(
        self,
        first_name: str = "Test",
        user_id: int | None = None,
        username: str | None = None,
        last_name: str | None = None,
        language_code: str | None = "de",
        private_chat: bool = True,
    ) -> User:
        """Create a user and (by default) the private chat that exists once they /start."""
        uid = user_id if user_id is not None else 100_000_000 + next(self._ids)
        user = User(uid, first_name, last_name, username, language_code)
        self.users[uid] = user
        if private_chat:
            cj = {
                k: v
                for k, v in user.json().items()
                if k in ("id", "first_name", "last_name", "username")
            }
            cj["type"] = "private"
            self.chats[uid] = Chat(uid, "private", cj, {uid}, user)
        return user

    def add_group(
        self,
        title: str,
        member_ids: list[int] | tuple[int, ...] = (),
        supergroup: bool = False,
        chat_id: int | None = None,
        username: str | None = None,
    ) -> Chat:
        """Create a group or supergroup (``-100...`` ids) the bot is a member of."""
        n = next(self._ids)
        cid = (
            chat_id
            if chat_id is not None
            else (-(1_000_000_000_000 + n) if supergroup else -(500_000_000 + n))
        )
        cj: JSON = {"id": cid, "title": title, "type": "supergroup" if supergroup else "group"}
        if username:
            cj["username"] = username
        chat = Chat(cid, cj["type"], cj, set(member_ids))
        self.chats[cid] = chat
        if username:
            self.chat_by_username[username.lower()] = chat
        return chat

    # ---- updates ---------------------------------------------------------------------
    def enqueue(self, kind: str, obj: JSON) -> int | None:
        """Queue an update unless allowed_updates filters it out (as Telegram does)."""
        if kind not in self.allowed_updates:
            return None
        self._next_update_id += 1
        self.updates.append({"update_id": self._next_update_id, kind: obj})
        waiter = self._poll_waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)
        return self._next_update_id

    def new_message(self, chat: Chat, sender: JSON, extra: JSON) -> JSON:
        """Allocate a message id in ``chat`` and store the Bot API Message dict."""
        mid = self._next_mid.get(chat.id, 0) + 1
        self._next_mid[chat.id] = mid
        msg: JSON = {
            "message_id": mid,
            "from": sender,
            "chat": chat.json,
            "date": int(self.wall()),
        }
        msg.update(extra)
        self._messages[(chat.id, mid)] = msg
        return msg

    def message(self, chat_id: int, message_id: int) -> JSON | None:
        return self._messages.get((chat_id, message_id))

    def reply_snapshot(self, msg: JSON) -> JSON:
        """Telegram nests replied-to messages one level deep only."""
        snap = dict(msg)
        snap.pop("reply_to_message", None)
        return snap

    # ---- the conversation as seen by recipients ------------------------------------
    def record_bot_message(
        self, msg: JSON, method: str, file: StoredFile | None, client_markup: JSON | None = None
    ) -> None:
        bm = BotMessage(
            msg["chat"]["id"], msg["message_id"], msg, method, file, client_markup=client_markup
        )
        self._bot_messages[(bm.chat_id, bm.message_id)] = bm
        self._conv.setdefault(bm.chat_id, []).append(bm)

    def bot_message(self, chat_id: int, message_id: int) -> BotMessage | None:
        return self._bot_messages.get((chat_id, message_id))

    def messages_to(self, chat_id: int, include_deleted: bool = False) -> list[BotMessage]:
        """The bot's messages in ``chat_id`` in send order, with edits applied."""
        return [m for m in self._conv.get(chat_id, ()) if include_deleted or not m.deleted]

    def texts_to(self, chat_id: int) -> list[str | None]:
        """Current text (or caption) of each visible bot message in ``chat_id``."""
        return [m.text if m.text is not None else m.caption for m in self.messages_to(chat_id)]

    def last_message(self, chat_id: int) -> BotMessage | None:
        msgs = self.messages_to(chat_id)
        return msgs[-1] if msgs else None
