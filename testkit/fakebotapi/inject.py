"""User-side actions: what real people do to the bot (write, press, block, leave).

Kept apart from :mod:`state` so each module stays small; :class:`FakeBotApi` inherits it.
"""

from __future__ import annotations

import secrets

from .state import JSON, CallbackQuery, Chat, User, World
from .textparse import utf16_len


class Injector(World):
    """Inject updates exactly as a user's client would produce them."""

    def block_user(self, user_id: int, blocked: bool = True) -> None:
        """Block (or unblock) the bot; Telegram then emits a my_chat_member update."""
        user = self.users[user_id]
        if user.blocked == blocked:
            return
        user.blocked = blocked
        chat = self.chats.get(user_id)
        if chat is not None:
            old, new = ("member", "kicked") if blocked else ("kicked", "member")
            member: JSON = {"user": self.bot_user, "status": new}
            if blocked:
                member["until_date"] = 0
            self.enqueue(
                "my_chat_member",
                {
                    "chat": chat.json,
                    "from": user.json(),
                    "date": int(self.wall()),
                    "old_chat_member": {
                        "user": self.bot_user,
                        "status": old,
                        **({"until_date": 0} if not blocked else {}),
                    },
                    "new_chat_member": member,
                },
            )

    def unblock_user(self, user_id: int) -> None:
        self.block_user(user_id, blocked=False)

    def deactivate_user(self, user_id: int) -> None:
        """Mark the account deleted: sends answer 403 "user is deactivated"."""
        self.users[user_id].deactivated = True

    def _user_chat(self, user_id: int, chat_id: int | None) -> tuple[User, Chat]:
        user = self.users[user_id]
        if user.deactivated:
            raise ValueError("deactivated users cannot send messages")
        chat = self.chats.get(user_id if chat_id is None else chat_id)
        if chat is None or user_id not in chat.members:
            raise ValueError(f"user {user_id} is not in chat {chat_id}")
        if chat.type == "private" and user.blocked:
            self.block_user(user_id, blocked=False)  # "Restart bot" unblocks
        return user, chat

    def _inject(
        self, user_id: int, chat_id: int | None, extra: JSON, reply_to_message_id: int | None
    ) -> JSON:
        user, chat = self._user_chat(user_id, chat_id)
        if reply_to_message_id is not None:
            replied = self.message(chat.id, reply_to_message_id)
            if replied is None:
                raise ValueError(f"no message {reply_to_message_id} in chat {chat.id}")
            extra["reply_to_message"] = self.reply_snapshot(replied)
        msg = self.new_message(chat, user.json(), extra)
        self.enqueue("message", msg)
        return msg

    def inject_text(
        self,
        user_id: int,
        text: str,
        chat_id: int | None = None,
        reply_to_message_id: int | None = None,
    ) -> JSON:
        """A user types ``text``; commands get a bot_command entity at offset 0."""
        extra: JSON = {"text": text}
        if text.startswith("/"):
            cmd = text.split(maxsplit=1)[0]
            extra["entities"] = [{"offset": 0, "length": utf16_len(cmd), "type": "bot_command"}]
        return self._inject(user_id, chat_id, extra, reply_to_message_id)

    def inject_message(self, user_id: int, content: JSON, chat_id: int | None = None) -> int:
        """A message whose content (``{"poll": {...}}``, ...) is taken as given, e.g. as an
        older or another Bot API server words it; returns its update_id."""
        self._inject(user_id, chat_id, dict(content), None)
        return self._next_update_id

    def edit_text(self, user_id: int, message_id: int, text: str) -> JSON:
        """The user changes the text of a message they sent; Telegram sends edited_message."""
        user, chat = self._user_chat(user_id, None)
        original = self.message(chat.id, message_id)
        if original is None or original.get("from", {}).get("id") != user.id:
            raise ValueError(f"user {user_id} sent no message {message_id}")
        original["text"] = text
        edited = {**original, "edit_date": int(self.wall())}
        self.enqueue("edited_message", edited)
        return edited

    def inject_photo(
        self,
        user_id: int,
        data: bytes,
        chat_id: int | None = None,
        caption: str | None = None,
        width: int = 1280,
        height: int = 960,
        reply_to_message_id: int | None = None,
    ) -> JSON:
        """A user sends a photo: stored bytes, several PhotoSize entries."""
        sizes, _ = self.photo_sizes(data, width, height)
        extra: JSON = {"photo": sizes}
        if caption is not None:
            extra["caption"] = caption
        return self._inject(user_id, chat_id, extra, reply_to_message_id)

    def inject_document(
        self,
        user_id: int,
        data: bytes,
        file_name: str = "file.bin",
        mime_type: str = "application/octet-stream",
        chat_id: int | None = None,
        caption: str | None = None,
        reply_to_message_id: int | None = None,
    ) -> JSON:
        """A user sends a document; its bytes become downloadable via getFile."""
        f = self._file(data, "document", file_name, mime_type, "." + file_name.rsplit(".")[-1])
        extra: JSON = {"document": self.document_json(f)}
        if caption is not None:
            extra["caption"] = caption
        return self._inject(user_id, chat_id, extra, reply_to_message_id)

    def press_button(
        self, user_id: int, message_id: int, callback_data: str, chat_id: int | None = None
    ) -> str:
        """Press an inline button of a bot message; returns the callback query id."""
        user, chat = self._user_chat(user_id, chat_id)
        bot_msg = self._bot_messages.get((chat.id, message_id))
        if bot_msg is None or bot_msg.deleted:
            raise ValueError(f"no bot message {message_id} in chat {chat.id}")
        if callback_data not in bot_msg.callback_data:
            raise ValueError(f"message {message_id} has no button with {callback_data!r}")
        qid = str(secrets.randbits(63))
        self.queries[qid] = CallbackQuery(
            qid, user_id, chat.id, message_id, callback_data, self.clock()
        )
        self.enqueue(
            "callback_query",
            {
                "id": qid,
                "from": user.json(),
                "message": dict(bot_msg.json),
                "chat_instance": str(abs(chat.id) * 7919 + self.bot_id),
                "data": callback_data,
            },
        )
        return qid

    def age_callback_query(self, query_id: str, seconds: float) -> None:
        """Pretend the press happened ``seconds`` earlier (for "query is too old")."""
        self.queries[query_id].created -= seconds
