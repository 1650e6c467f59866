"""The inbox: Telegram updates taken in by webhook when several bot processes share one
PostgreSQL (on SQLite the one process keeps them on PTB's queue).

A webhook answers Telegram only once its update is stored here (`add`, `add_and_step`), so
that a process that dies afterwards loses nothing Telegram was told was received. The update
id is the key: Telegram delivering an update again finds it and adds nothing.

One chat, one line: of a chat's waiting updates only the oldest may be handled, and only by
its owner, the process that received it (`step` claims it, counting the attempt). A later
update of the chat waits, in its own process, until the one before is marked handled
(`set_handled`, which also drops the content and, when another process's update waits,
notifies every process on `NOTICES` with the chat's key, so that its owner goes on at once).
So each process handles the updates the proxy gave it, each chat's in order, and no two
processes handle one chat at the same time. A turn stores its replies (`answer`) in the
transaction that commits its changes (`storage.db.Database.turn`); an update claimed again
with its replies stored was handled, and only its replies are still to be sent. An update
whose owner is gone (it stopped, or died: `release` by the process that notices) has no
owner, and the next process to look claims it.

Handled rows stay `KEEP_HANDLED` for the deduplication, then go (`delete_handled`). The
statements that claim and notify are PostgreSQL's (FOR UPDATE, pg_notify): the inbox is only
used there.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Executable,
    Integer,
    String,
    bindparam,
    delete,
    func,
    text,
    type_coerce,
)
from sqlmodel import Session, col, select

from storage.db import Database
from storage.inbox_models import InboxUpdate
from storage.types import UTCDateTime
from storage.upsert import cached_insert

# Telegram gives up on an update it could not deliver after a day; a row kept that long
# recognises every repeat.
KEEP_HANDLED = timedelta(days=1, hours=1)
NOTICES = "mitreden_inbox"  # the channel of "an update of this chat is done" (payload: chat)


@dataclass(frozen=True, slots=True)
class Taken:
    """An update claimed for handling."""

    update_id: int
    payload: dict[str, Any]
    attempts: int  # 1 the first time; more when a process stopped in the middle of it
    replies: list[dict[str, Any]] | None = None  # stored by its turn, not yet sent


@dataclass(frozen=True, slots=True)
class Step:
    """What a process is to do next in one chat: handle `taken`, or wait (`waiting`: it owns
    a later update of the chat, whose turn has not come), or nothing (neither)."""

    taken: Taken | None
    waiting: bool


@dataclass(frozen=True, slots=True)
class InboxStatus:
    pending: int
    oldest_received_at: datetime | None


def _add(insert: Callable[..., Any]) -> Executable:
    return insert(InboxUpdate).on_conflict_do_nothing(index_elements=["update_id"])


# Claim the chat's oldest waiting update if it is ours or nobody's (the row lock makes two
# processes that look at once take turns, and the second finds it claimed), and say whether we
# own a later one of the chat.
_STEP = text(
    """
    WITH head AS (
        SELECT update_id FROM inbox_update
        WHERE chat_key = :chat AND handled_at IS NULL
        ORDER BY update_id LIMIT 1
        FOR UPDATE
    ), claimed AS (
        UPDATE inbox_update AS u SET owner = :me, attempts = u.attempts + 1
        FROM head
        WHERE u.update_id = head.update_id AND (u.owner = :me OR u.owner IS NULL)
        RETURNING u.update_id, u.payload, u.attempts, u.replies
    )
    SELECT claimed.update_id, claimed.payload, claimed.attempts, claimed.replies,
           EXISTS (SELECT 1 FROM inbox_update
                   WHERE chat_key = :chat AND handled_at IS NULL AND owner = :me) AS waiting
    FROM (SELECT 1) AS one LEFT JOIN claimed ON true
    """
).columns(update_id=BigInteger, payload=JSON, attempts=Integer, replies=JSON, waiting=Boolean)

# Notified only when a waiting update of the chat is another process's or nobody's: this
# process's own next one is taken by its line without being told.
_SET_HANDLED = text(
    f"""
    UPDATE inbox_update AS u SET handled_at = :now, payload = NULL, replies = NULL
    WHERE u.update_id = :row
    RETURNING CASE WHEN EXISTS (
        SELECT 1 FROM inbox_update AS w
        WHERE w.chat_key = u.chat_key AND w.handled_at IS NULL AND w.update_id <> u.update_id
          AND w.owner IS DISTINCT FROM u.owner
    ) THEN pg_notify('{NOTICES}', u.chat_key) END
    """
).bindparams(bindparam("now", type_=UTCDateTime()))

_ANSWER = text("UPDATE inbox_update SET replies = :replies WHERE update_id = :row").bindparams(
    bindparam("replies", type_=JSON)
)

_RELEASE = text(
    f"""
    UPDATE inbox_update SET owner = NULL
    WHERE owner = :owner AND handled_at IS NULL
    RETURNING chat_key, pg_notify('{NOTICES}', chat_key)
    """
).columns(chat_key=String)

_HEADS = text(
    """
    SELECT DISTINCT ON (chat_key) chat_key, owner FROM inbox_update
    WHERE handled_at IS NULL
    ORDER BY chat_key, update_id
    LIMIT :limit
    """
).columns(chat_key=String, owner=String)


class InboxStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def add(
        self,
        update_id: int,
        chat_key: str,
        payload: dict[str, Any],
        now: datetime,
        owner: str | None = None,
    ) -> None:
        """Store an update received by `owner` (None: by a process that is stopping, and the
        next to look claims it); one already there, handled or not, is left alone."""
        await self._db.run(
            lambda session: _insert(session, update_id, chat_key, payload, now, owner)
        )

    async def add_and_step(
        self, update_id: int, chat_key: str, payload: dict[str, Any], now: datetime, me: str
    ) -> Step:
        """Store an update received by `me` (owned by it; one already there is left alone)
        and `step` in the chat, in one transaction: committed when this returns."""

        def work(session: Session) -> Step:
            _insert(session, update_id, chat_key, payload, now, owner=me)
            return _step(session, chat_key, me)

        return await self._db.run(work)

    async def step(
        self, chat_key: str, me: str, handled: int | None = None, now: datetime | None = None
    ) -> Step:
        """Claim the chat's oldest waiting update for `me` if it is `me`'s or nobody's.
        `handled`: the update `me` just finished, marked handled at `now` first, in the same
        transaction (`set_handled`)."""

        def work(session: Session) -> Step:
            if handled is not None:
                assert now is not None
                _mark_handled(session, handled, now)
            return _step(session, chat_key, me)

        return await self._db.run(work)

    async def set_handled(self, update_id: int, now: datetime) -> None:
        """The update is handled: its content is dropped, its id kept for `KEEP_HANDLED`,
        and the processes are told its chat may go on when another one's update waits."""
        await self._db.run(lambda session: _mark_handled(session, update_id, now))

    async def answer(self, update_id: int, replies: list[dict[str, Any]]) -> None:
        """Store what the update's turn answers, to be sent; inside the turn's transaction
        (`Database.turn`) it commits with the turn's changes."""
        await self._db.run(
            lambda session: session.connection().execute(
                _ANSWER, {"row": update_id, "replies": replies}
            )
        )

    async def release(self, owner: str) -> list[str]:
        """Give up `owner`'s waiting updates (it stopped or died), telling every process.

        Returns:
            The chats they are in.
        """

        def work(session: Session) -> list[str]:
            rows = session.connection().execute(_RELEASE, {"owner": owner})
            return sorted({str(row[0]) for row in rows})

        return await self._db.run(work)

    async def list_heads(self, limit: int) -> list[tuple[str, str | None]]:
        """(chat, owner of its oldest waiting update) for chats with updates waiting."""

        def work(session: Session) -> list[tuple[str, str | None]]:
            rows = session.connection().execute(_HEADS, {"limit": limit})
            return [(str(chat), owner) for chat, owner in rows]

        return await self._db.run(work)

    async def get_status(self) -> InboxStatus:
        """How many updates wait, and since when the oldest."""
        query = select(
            func.count(), func.min(type_coerce(col(InboxUpdate.received_at), UTCDateTime))
        ).where(col(InboxUpdate.handled_at).is_(None))

        def work(session: Session) -> InboxStatus:
            count, oldest = session.exec(query).one()
            return InboxStatus(int(count), oldest)

        return await self._db.run(work)

    async def delete_handled(self, before: datetime) -> int:
        """Forget updates handled before `before`; returns how many."""
        statement = delete(InboxUpdate).where(col(InboxUpdate.handled_at) < before)
        return await self._db.run(
            lambda session: session.connection().execute(statement).rowcount or 0
        )


def _insert(
    session: Session,
    update_id: int,
    chat_key: str,
    payload: dict[str, Any],
    now: datetime,
    owner: str | None = None,
) -> None:
    session.connection().execute(
        cached_insert(session, _add),
        {
            "update_id": update_id,
            "chat_key": chat_key,
            "payload": payload,
            "received_at": now,
            "owner": owner,
            "attempts": 0,
        },
    )


def _step(session: Session, chat_key: str, me: str) -> Step:
    update_id, payload, attempts, replies, waiting = (
        session.connection().execute(_STEP, {"chat": chat_key, "me": me}).one()
    )
    if update_id is None:
        return Step(None, bool(waiting))
    taken = Taken(int(update_id), dict(payload or {}), int(attempts), replies)
    return Step(taken, bool(waiting))


def _mark_handled(session: Session, update_id: int, now: datetime) -> None:
    session.connection().execute(_SET_HANDLED, {"row": update_id, "now": now})
