"""What the bot's own messages offered and named, for the answers to them, and which
messages from people it has answered.

A channel without buttons (Matrix) lists choices as numbers and maps a typed number back to
the button it stands for; a reply to the bot's message about an item belongs to that item.
Both must hold across restarts, so they are kept here rather than in memory: per chat the
current prompt, and per message the choices of a card in a group chat and the item a
message to a resident named. Besides, the ids of the messages the bot answered: Matrix
saves its sync position only after a whole batch, and a bot killed in between gets the batch
again; on PostgreSQL each with the replies of its turn until they were sent (`add_answer`).
Rows older than `KEEP` (`KEEP_HANDLED`) are deleted (`delete_before`), so the tables
hold the last months' (days') messages, not the bot's whole history.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Executable, bindparam, delete
from sqlmodel import Session, col, select

from storage.db import Database, cached
from storage.models import BotMessage, HandledMessage
from storage.upsert import cached_insert

PROMPT = ""  # the message id under which a chat's current prompt is kept
# How long an answer to a message can still find what it offered and named: a coordinator
# may reply to a card weeks later, a resident to a confirmation.
KEEP = timedelta(days=90)
# A batch comes again only after a crash, at the restart; a week covers a long outage.
KEEP_HANDLED = timedelta(days=7)


@dataclass(frozen=True, slots=True)
class SentMessage:
    """One message the bot sent into a chat (or, as `PROMPT`, the chat's current prompt)."""

    message_id: str
    choices: tuple[tuple[str, str], ...] = ()  # (label, payload) in the order offered
    reference: str | None = None  # the item the message was about

    @property
    def matters(self) -> bool:
        return bool(self.choices) or self.reference is not None


class BotMessageStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def get_choices(
        self, platform: str, chat_id: str, message_id: str = PROMPT
    ) -> list[tuple[str, str]]:
        """The (label, payload) pairs the message offered; the chat's current prompt by
        default. Empty when it offered none or is no longer kept."""
        key = {"platform": platform, "chat_id": chat_id, "message_id": message_id}

        def work(session: Session) -> Any:
            return session.connection().execute(cached(_choices), key).scalar()

        choices = await self._db.run(work)
        return [(str(label), str(payload)) for label, payload in choices or []]

    async def list_handled(
        self, platform: str, chat_id: str, message_ids: Sequence[str]
    ) -> dict[str, list[dict[str, Any]] | None]:
        """Those of `message_ids` (a person's messages in the chat) that were handled, each
        with its replies if they are still to be sent (`add_answer`), else None."""
        query = select(HandledMessage.message_id, HandledMessage.replies).where(
            HandledMessage.platform == platform,
            HandledMessage.chat_id == chat_id,
            col(HandledMessage.message_id).in_(list(message_ids)),
        )

        def work(session: Session) -> dict[str, list[dict[str, Any]] | None]:
            rows = session.exec(query)
            return {message_id: None if r is None else list(r) for message_id, r in rows}

        return await self._db.run(work)

    async def add_answer(
        self,
        platform: str,
        chat_id: str,
        message_id: str,
        replies: list[dict[str, Any]],
        now: datetime,
    ) -> None:
        """The person's message is handled and `replies` (`handlers.messages.reply_record`)
        are to be sent; inside the turn's transaction they commit with its changes.
        `add_messages` with `answering` marks them sent."""
        row = {
            "platform": platform,
            "chat_id": chat_id,
            "message_id": message_id,
            "handled_at": now,
            "replies": replies,
        }
        await self._db.run(
            lambda session: session.connection().execute(cached_insert(session, _add_handled), row)
        )

    async def add_messages(
        self,
        platform: str,
        chat_id: str,
        messages: Sequence[SentMessage],
        now: datetime,
        *,
        answering: str | None = None,
    ) -> None:
        """Keep what the messages offered and named, replacing what was kept under the same
        ids; one that offers and names nothing deletes its row (so a prompt without choices
        ends the chat's prompt). `answering`: the person's message they answered, which is
        kept as handled."""

        chat = {"platform": platform, "chat_id": chat_id}

        def work(session: Session) -> None:
            db = session.connection()
            if answering is not None:
                handled = {**chat, "message_id": answering, "handled_at": now, "replies": None}
                db.execute(cached_insert(session, _add_handled), handled)
            for message in messages:
                key = {**chat, "message_id": message.message_id}
                if not message.matters:
                    db.execute(cached(_delete_message), key)
                    continue
                choices = [list(choice) for choice in message.choices]
                kept = {"choices": choices, "reference": message.reference, "created_at": now}
                db.execute(cached_insert(session, _keep_message), {**key, **kept})

        await self._db.run(work)

    async def delete_before(self, before: datetime, handled_before: datetime) -> int:
        """Forget the bot's messages kept since before `before`, and the handled messages
        since before `handled_before`. Returns how many rows went."""

        def work(session: Session) -> int:
            sent = session.exec(delete(BotMessage).where(col(BotMessage.created_at) < before))
            handled = session.exec(
                delete(HandledMessage).where(col(HandledMessage.handled_at) < handled_before)
            )
            return sent.rowcount + handled.rowcount

        return await self._db.run(work)


# The statements of every Matrix message (see storage.db, `cached`); values are parameters.


def _choices() -> Executable:
    return select(BotMessage.choices).where(
        col(BotMessage.platform) == bindparam("platform"),
        col(BotMessage.chat_id) == bindparam("chat_id"),
        col(BotMessage.message_id) == bindparam("message_id"),
    )


def _add_handled(insert: Callable[..., Any]) -> Executable:
    """Keep a message as handled, with the replies still to be sent (None: all sent)."""
    statement = insert(HandledMessage)
    return statement.on_conflict_do_update(
        index_elements=["platform", "chat_id", "message_id"],
        set_={"replies": statement.excluded.replies},
    )


def _delete_message() -> Executable:
    return delete(BotMessage).where(
        col(BotMessage.platform) == bindparam("platform"),
        col(BotMessage.chat_id) == bindparam("chat_id"),
        col(BotMessage.message_id) == bindparam("message_id"),
    )


def _keep_message(insert: Callable[..., Any]) -> Executable:
    """Keep a message's choices and reference, replacing what was kept under its id."""
    statement = insert(BotMessage)
    return statement.on_conflict_do_update(
        index_elements=["platform", "chat_id", "message_id"],
        set_={
            "choices": statement.excluded.choices,
            "reference": statement.excluded.reference,
            "created_at": statement.excluded.created_at,
        },
    )
