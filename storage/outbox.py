"""The outbox: everything the bot sends on its own, durable and sent once.

Rows are enqueued with an idempotency key (enqueueing the same key twice is a no-op), claimed
by a delivery worker for a lease (PostgreSQL: `FOR UPDATE SKIP LOCKED`, so several processes
can share one database), and marked sent, failed (retried later), dead or skipped.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from sqlalchemy import Executable, case, func, or_, type_coerce, update
from sqlalchemy.orm import defer
from sqlmodel import Session, col, select

from storage.db import Database
from storage.models import OutboxMessage, OutboxState
from storage.types import UTCDateTime
from storage.upsert import cached_insert

WAITING = (OutboxState.PENDING, OutboxState.FAILED)
ENQUEUE_CHUNK = 500


@dataclass(frozen=True, slots=True)
class NewMessage:
    key: str
    platform: str
    chat_id: str
    payload: dict[str, Any]
    due_at: datetime
    is_group: bool = False
    contact_id: int | None = None
    reference: str | None = None  # the feedback item the message is about


@dataclass(frozen=True, slots=True)
class Progress:
    waiting: int = 0
    sent: int = 0
    dead: int = 0
    skipped: int = 0
    by_state: dict[str, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return self.waiting + self.sent + self.dead + self.skipped


@dataclass(slots=True)
class Backlog:
    """What waits or was given up, of one kind of message on one platform."""

    kind: str
    platform: str
    queued: int = 0  # waiting for a later due time (or for a retry after a failed attempt)
    due: int = 0  # waiting and due: the running bot sends these now
    dead: int = 0  # given up; `retry_dead` queues them again


@dataclass(frozen=True, slots=True)
class DeadMessage:
    """A message given up, described without its content: the payload may quote a
    resident's text (a new item, as posted to its working group), and is never read here."""

    id: int
    kind: str
    platform: str
    recipient: str  # "contact 12" for a resident, else the chat (a group's, an administrator's)
    reference: str | None  # the feedback item it is about
    attempts: int
    last_error: str
    created_at: datetime


_EVENT_KEY = re.compile(r"ev\d+")


def kind_of(key: str) -> str:
    """What a message is, read from its idempotency key: the key's first part ("item-new",
    "resident", "announcement", "digest", "escalation", "report"), and "event" for every
    message about an event (keys `ev<id>:...`)."""
    first = key.partition(":")[0]
    return "event" if _EVENT_KEY.fullmatch(first) else first


class OutboxStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def enqueue(self, messages: Sequence[NewMessage], now: datetime) -> int:
        """Add messages; keys already present are left alone. Returns how many were new."""
        added = 0
        for start in range(0, len(messages), ENQUEUE_CHUNK):
            chunk = messages[start : start + ENQUEUE_CHUNK]
            added += await self._db.run(partial(add_messages, messages=chunk, now=now))
        return added

    async def claim_due(
        self,
        now: datetime,
        *,
        limit: int,
        worker: str,
        lease: timedelta,
        platforms: Collection[str] | None = None,
    ) -> list[OutboxMessage]:
        """Take up to `limit` due rows for `worker` until `now + lease`, oldest due first;
        only rows to `platforms` when given.

        A row whose lease ran out (its worker died) is due again: that is how a crash loses
        nothing.
        """
        due = (
            select(col(OutboxMessage.id))
            .where(
                col(OutboxMessage.state).in_(WAITING),
                col(OutboxMessage.due_at) <= now,
                or_(
                    col(OutboxMessage.claimed_until).is_(None),
                    col(OutboxMessage.claimed_until) < now,
                ),
            )
            .order_by(col(OutboxMessage.due_at), col(OutboxMessage.id))
            .limit(limit)
        )
        if platforms is not None:
            due = due.where(col(OutboxMessage.platform).in_(list(platforms)))
        if self._db.is_postgres:
            due = due.with_for_update(skip_locked=True)
        # One statement, so that on SQLite too no two workers can pick the same rows.
        claim = (
            update(OutboxMessage)
            .where(col(OutboxMessage.id).in_(due.scalar_subquery()))
            .values(claimed_by=worker, claimed_until=now + lease)
            .returning(OutboxMessage)
        )
        rows = await self._db.run(lambda session: list(session.exec(claim).scalars().all()))
        rows.sort(key=lambda row: (row.due_at, row.id))
        return rows

    async def set_sent(
        self, message_id: int, now: datetime, platform_message_id: str | None = None
    ) -> None:
        await self._finish(
            message_id,
            state=OutboxState.SENT,
            sent_at=now,
            sent_message_id=platform_message_id,
            attempts=col(OutboxMessage.attempts) + 1,
        )

    async def set_failed(self, message_id: int, error: str, retry_at: datetime) -> None:
        """One attempt failed; the row is due again at `retry_at`."""
        await self._finish(
            message_id,
            state=OutboxState.FAILED,
            last_error=error[:1000],
            due_at=retry_at,
            attempts=col(OutboxMessage.attempts) + 1,
        )

    async def set_dead(self, message_id: int, error: str) -> None:
        await self._finish(
            message_id,
            state=OutboxState.DEAD,
            last_error=error[:1000],
            attempts=col(OutboxMessage.attempts) + 1,
        )

    async def release(self, message_ids: Sequence[int], worker: str) -> None:
        """Give `worker`'s claimed rows back unsent (on shutdown), so they go out at once
        after restart; a row another process claimed meanwhile stays its own."""
        if not message_ids:
            return
        statement = (
            update(OutboxMessage)
            .where(
                col(OutboxMessage.id).in_(list(message_ids)),
                col(OutboxMessage.claimed_by) == worker,
            )
            .values(claimed_by=None, claimed_until=None)
        )
        await self._db.run(lambda session: session.exec(statement))

    async def extend_claims(self, message_ids: Sequence[int], worker: str, until: datetime) -> int:
        """Prolong `worker`'s lease on those rows it still holds and that still wait.

        Returns:
            How many it still holds. A row right before it is sent that is no longer held
            must not be sent here: its lease ran out (this process's loop lagged behind the
            renewals) and another process claimed it.
        """
        if not message_ids:
            return 0
        statement = (
            update(OutboxMessage)
            .where(
                col(OutboxMessage.id).in_(list(message_ids)),
                col(OutboxMessage.claimed_by) == worker,
                col(OutboxMessage.state).in_(WAITING),
            )
            .values(claimed_until=until)
        )
        return await self._db.run(lambda session: session.exec(statement).rowcount or 0)

    async def skip_chat(self, platform: str, chat_id: str, reason: str) -> int:
        """Skip every waiting row of a chat that cannot receive (403). Returns how many."""
        statement = (
            update(OutboxMessage)
            .where(
                col(OutboxMessage.platform) == platform,
                col(OutboxMessage.chat_id) == chat_id,
                col(OutboxMessage.state).in_(WAITING),
            )
            .values(state=OutboxState.SKIPPED, last_error=reason, claimed_until=None)
        )
        return await self._db.run(lambda session: session.exec(statement).rowcount)

    async def next_due_at(self, platforms: Collection[str] | None = None) -> datetime | None:
        """When the earliest waiting row (to `platforms`, when given) can next be claimed:
        its due time, or the end of its lease if a worker holds it (so that a held row does
        not look due at once)."""
        claimable_at = case(
            (
                col(OutboxMessage.claimed_until) > col(OutboxMessage.due_at),
                OutboxMessage.claimed_until,
            ),
            else_=col(OutboxMessage.due_at),
        )
        query = select(func.min(type_coerce(claimable_at, UTCDateTime))).where(
            col(OutboxMessage.state).in_(WAITING)
        )
        if platforms is not None:
            query = query.where(col(OutboxMessage.platform).in_(list(platforms)))
        return await self._db.run(lambda session: session.exec(query).one())

    async def progress(self, key_prefix: str) -> Progress:
        """How the rows whose key starts with `key_prefix` stand."""
        query = (
            select(OutboxMessage.state, func.count())
            .where(col(OutboxMessage.idempotency_key).startswith(key_prefix))
            .group_by(col(OutboxMessage.state))
        )
        rows = await self._db.run(lambda session: session.exec(query).all())
        counts = {str(state): int(count) for state, count in rows}
        return Progress(
            waiting=sum(counts.get(state, 0) for state in WAITING),
            sent=counts.get(OutboxState.SENT, 0),
            dead=counts.get(OutboxState.DEAD, 0),
            skipped=counts.get(OutboxState.SKIPPED, 0),
            by_state=counts,
        )

    async def count_by_state(self) -> dict[str, int]:
        """How many messages are in each state (states without any are left out)."""
        query = select(OutboxMessage.state, func.count()).group_by(col(OutboxMessage.state))

        def work(session: Session) -> dict[str, int]:
            return {str(state): int(count) for state, count in session.exec(query).all()}

        return await self._db.run(work)

    async def list_backlog(self, now: datetime) -> list[Backlog]:
        """The waiting and dead messages by kind and platform (kinds without any are left
        out), sorted by kind and platform. Sent and skipped rows are not read."""
        query = select(
            OutboxMessage.idempotency_key,
            OutboxMessage.platform,
            OutboxMessage.state,
            col(OutboxMessage.due_at) <= now,
        ).where(col(OutboxMessage.state).in_([*WAITING, OutboxState.DEAD]))

        def work(session: Session) -> list[Backlog]:
            found: dict[tuple[str, str], Backlog] = {}
            for key, platform, state, is_due in session.exec(query):
                kind = kind_of(key)
                row = found.get((kind, platform)) or found.setdefault(
                    (kind, platform), Backlog(kind, platform)
                )
                if state == OutboxState.DEAD:
                    row.dead += 1
                elif is_due:
                    row.due += 1
                else:
                    row.queued += 1
            return [found[key] for key in sorted(found)]

        return await self._db.run(work)

    async def list_dead(self, limit: int) -> tuple[list[DeadMessage], int]:
        """The `limit` dead messages given up last (newest first), and how many there are."""
        # Not the payload: it may quote a resident's text, and is not needed to say what failed.
        # (`payload` is a column; SQLModel's annotation hides that from mypy.)
        query = (
            select(OutboxMessage)
            .options(defer(OutboxMessage.payload))  # type: ignore[arg-type]
            .where(OutboxMessage.state == OutboxState.DEAD)
            .order_by(col(OutboxMessage.id).desc())
            .limit(limit)
        )
        total = select(func.count()).where(OutboxMessage.state == OutboxState.DEAD)

        def work(session: Session) -> tuple[list[DeadMessage], int]:
            dead = [
                DeadMessage(
                    id=row.id or 0,
                    kind=kind_of(row.idempotency_key),
                    platform=row.platform,
                    recipient=(
                        f"contact {row.contact_id}"
                        if row.contact_id is not None and not row.is_group
                        else f"{row.platform}:{row.chat_id}"
                    ),
                    reference=row.reference,
                    attempts=row.attempts,
                    last_error=row.last_error or "",
                    created_at=row.created_at,
                )
                for row in session.exec(query)
            ]
            return dead, int(session.exec(total).one())

        return await self._db.run(work)

    async def retry_dead(
        self, now: datetime, message_ids: Sequence[int] | None = None
    ) -> list[int]:
        """Queue dead messages again, due at once and with every attempt to come: all of them
        (`message_ids` None) or those among `message_ids` that are dead.

        Returns:
            The ids queued again, in order.
        """
        statement = (
            update(OutboxMessage)
            .where(col(OutboxMessage.state) == OutboxState.DEAD)
            .values(
                state=OutboxState.PENDING,
                due_at=now,
                attempts=0,
                claimed_by=None,
                claimed_until=None,
            )
            .returning(col(OutboxMessage.id))
        )
        if message_ids is not None:
            statement = statement.where(col(OutboxMessage.id).in_(list(message_ids)))
        return sorted(await self._db.run(lambda session: list(session.exec(statement).scalars())))

    async def get_by_key(self, key: str) -> OutboxMessage | None:
        query = select(OutboxMessage).where(OutboxMessage.idempotency_key == key)
        return await self._db.run(lambda session: session.exec(query).first())

    async def _finish(self, message_id: int, **values: Any) -> None:
        statement = (
            update(OutboxMessage)
            .where(col(OutboxMessage.id) == message_id)
            .values(claimed_by=None, claimed_until=None, **values)
        )
        await self._db.run(lambda session: session.exec(statement))


def add_messages(session: Session, messages: Sequence[NewMessage], now: datetime) -> int:
    """Enqueue within the caller's transaction, so a change and the messages it causes are
    committed together. Returns how many keys were new."""
    if not messages:
        return 0
    rows = [
        {
            "idempotency_key": m.key,
            "platform": m.platform,
            "chat_id": m.chat_id,
            "is_group": m.is_group,
            "contact_id": m.contact_id,
            "reference": m.reference,
            "payload": m.payload,
            "due_at": m.due_at,
            "state": OutboxState.PENDING,
            "attempts": 0,
            "created_at": now,
        }
        for m in messages
    ]
    # A list of rows goes out as one multi-row INSERT (SQLAlchemy's "insertmanyvalues").
    statement = cached_insert(session, _enqueue)
    return len(session.connection().execute(statement, rows).all())


def _enqueue(insert: Callable[..., Any]) -> Executable:
    """Insert new keys, skip known ones; RETURNING yields a row per inserted message (see
    storage.db, `cached`: every new item and event change enqueues)."""
    return (
        insert(OutboxMessage)
        .on_conflict_do_nothing(index_elements=["idempotency_key"])
        .returning(col(OutboxMessage.id))
    )
