"""Feedback items as the working groups handle them: pending lists, changes with their
history and the messages they cause, committed together."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, bindparam, func, tuple_, update
from sqlmodel import Session, col, select

from storage.db import Database
from storage.links import LinkStore
from storage.models import (
    OPEN_STATES,
    Attachment,
    BotMessage,
    Contact,
    FeedbackItem,
    ItemEvent,
    OutboxMessage,
)
from storage.outbox import NewMessage, add_messages


def is_open() -> ColumnElement[bool]:
    """`state IN ('received', 'in_progress')` with the values written into the SQL.

    The open-item indexes are partial on exactly this condition; with bound parameters
    neither SQLite nor PostgreSQL (generic plans) can tell the index applies.
    """
    values = [str(state) for state in OPEN_STATES]
    return col(FeedbackItem.state).in_(
        bindparam("open_states", values, expanding=True, literal_execute=True)
    )


class ItemChanged(Exception):
    """The item is no longer in the state the change was decided on (someone was faster)."""


@dataclass(frozen=True, slots=True)
class PendingPage:
    items: list[FeedbackItem]
    next_after: tuple[datetime, int] | None  # where the next page starts, if there is one


@dataclass(frozen=True, slots=True)
class ItemSummaryCounts:
    by_field: dict[str, int]
    by_state: dict[str, int]
    waits: list[float]  # seconds from submission to first answer, per answered item

    @property
    def total(self) -> int:
        return sum(self.by_field.values())


@dataclass(frozen=True, slots=True)
class Change:
    """One change to an item, as the history records it."""

    actor: str
    action: str
    actor_name: str | None = None
    state: str | None = None
    group_key: str | None = None
    text: str | None = None


class ItemStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def get_item(self, reference: str) -> FeedbackItem | None:
        query = select(FeedbackItem).where(FeedbackItem.reference == reference.upper())
        return await self._db.run(lambda session: session.exec(query).first())

    async def get_author(self, item: FeedbackItem) -> Contact | None:
        """The item's author; of linked contacts (/link), the one seen last and reachable."""
        if item.contact_id is None:
            return None
        return await LinkStore(self._db).get_current_contact(item.contact_id)

    async def get_attachments(self, attachment_ids: Sequence[int]) -> list[Attachment]:
        """Stored files by id, in the order asked for (missing ones left out)."""
        query = select(Attachment).where(col(Attachment.id).in_(list(attachment_ids)))
        found = {a.id: a for a in await self._db.run(lambda session: session.exec(query).all())}
        return [found[i] for i in attachment_ids if i in found]

    async def list_attachment_ids(self, item_id: int) -> list[int]:
        query = select(Attachment.id).where(Attachment.item_id == item_id)
        ids = await self._db.run(lambda session: session.exec(query).all())
        return sorted(i for i in ids if i is not None)

    async def list_history(self, item_id: int) -> list[ItemEvent]:
        query = select(ItemEvent).where(ItemEvent.item_id == item_id).order_by(col(ItemEvent.id))
        return await self._db.run(lambda session: list(session.exec(query).all()))

    async def list_pending(
        self,
        *,
        groups: Sequence[str] | None,
        field_key: str | None = None,
        after: tuple[datetime, int] | None = None,
        limit: int = 10,
    ) -> PendingPage:
        """Open items by first-answer due date, so overdue ones come first.

        Keyset pagination on (answer_due_at, id) keeps every page an index range scan,
        however many items there are: the row comparison is a range start on both engines,
        where the equivalent OR of two conditions is only a filter.
        """
        query = select(FeedbackItem).where(is_open())
        if groups is not None:
            query = query.where(col(FeedbackItem.group_key).in_(list(groups)))
        if field_key is not None:
            query = query.where(FeedbackItem.field_key == field_key)
        if after is not None:
            # A plain tuple on the right is bound with the columns' types (UTCDateTime).
            query = query.where(
                tuple_(col(FeedbackItem.answer_due_at), col(FeedbackItem.id)) > after
            )
        query = query.order_by(col(FeedbackItem.answer_due_at), col(FeedbackItem.id))
        query = query.limit(limit + 1)
        items = await self._db.run(lambda session: list(session.exec(query).all()))
        more = len(items) > limit
        items = items[:limit]
        last = items[-1] if items else None
        next_after = (
            (last.answer_due_at, last.id)
            if more and last is not None and last.answer_due_at and last.id
            else None
        )
        return PendingPage(items, next_after)

    async def apply(
        self,
        reference: str,
        change: Change,
        now: datetime,
        *,
        expected_state: str | None = None,
        values: dict[str, Any] | None = None,
        outgoing: Sequence[NewMessage] = (),
    ) -> FeedbackItem:
        """Change an item, record the change in its history and queue the messages it causes,
        all in one transaction.

        Raises:
            ItemChanged: the item is gone or no longer in `expected_state`.
        """
        conditions = [col(FeedbackItem.reference) == reference]
        if expected_state is not None:
            conditions.append(col(FeedbackItem.state) == expected_state)
        statement = (
            update(FeedbackItem)
            .where(*conditions)
            .values(updated_at=now, **(values or {}))
            .returning(FeedbackItem)
        )

        def work(session: Session) -> FeedbackItem:
            item = session.exec(statement).scalars().first()
            if item is None:
                raise ItemChanged(reference)
            assert item.id is not None
            _record(session, item.id, change, now)
            add_messages(session, outgoing, now)
            return item

        return await self._db.run(work)

    async def list_overdue(self, now: datetime, *, limit: int = 500) -> list[FeedbackItem]:
        """Open items past their first-answer date, not yet answered nor escalated."""
        query = (
            select(FeedbackItem)
            .where(
                is_open(),
                col(FeedbackItem.answer_due_at) < now,
                col(FeedbackItem.first_answered_at).is_(None),
                col(FeedbackItem.escalated_at).is_(None),
            )
            .order_by(col(FeedbackItem.answer_due_at), col(FeedbackItem.id))
            .limit(limit)
        )
        return await self._db.run(lambda session: list(session.exec(query).all()))

    async def next_answer_due(self, after: datetime) -> datetime | None:
        """The earliest first-answer date after `after` of an open, unanswered item."""
        query = select(func.min(FeedbackItem.answer_due_at)).where(
            is_open(),
            col(FeedbackItem.first_answered_at).is_(None),
            col(FeedbackItem.escalated_at).is_(None),
            col(FeedbackItem.answer_due_at) >= after,
        )
        return await self._db.run(lambda session: session.exec(query).one())

    async def list_created_between(
        self, start: datetime, end: datetime, groups: Sequence[str] | None = None
    ) -> list[FeedbackItem]:
        query = select(FeedbackItem).where(
            col(FeedbackItem.created_at) >= start, col(FeedbackItem.created_at) < end
        )
        if groups is not None:
            query = query.where(col(FeedbackItem.group_key).in_(list(groups)))
        query = query.order_by(col(FeedbackItem.id))
        return await self._db.run(lambda session: list(session.exec(query).all()))

    async def summarize(
        self, start: datetime, end: datetime, groups: Sequence[str] | None = None
    ) -> ItemSummaryCounts:
        """Counts by field and by state of the items created in [start, end), and how long
        each answered one waited for its first answer (seconds), aggregated in SQL."""
        where = [col(FeedbackItem.created_at) >= start, col(FeedbackItem.created_at) < end]
        if groups is not None:
            where.append(col(FeedbackItem.group_key).in_(list(groups)))

        def work(session: Session) -> ItemSummaryCounts:
            counts: dict[str, dict[str, int]] = {}
            for name, column in (("field", FeedbackItem.field_key), ("state", FeedbackItem.state)):
                rows = session.exec(
                    select(column, func.count()).where(*where).group_by(col(column))
                )
                counts[name] = {str(key): int(n) for key, n in rows.all()}
            answered = session.exec(
                select(FeedbackItem.created_at, FeedbackItem.first_answered_at).where(
                    *where, col(FeedbackItem.first_answered_at).is_not(None)
                )
            )
            waits = [
                (answered_at - created).total_seconds()
                for created, answered_at in answered.all()
                if answered_at is not None
            ]
            return ItemSummaryCounts(counts["field"], counts["state"], waits)

        return await self._db.run(work)

    async def count_open(self, group_key: str, now: datetime) -> tuple[int, int]:
        """(open items, of which overdue) of one group."""
        base = select(func.count()).where(col(FeedbackItem.group_key) == group_key, is_open())
        overdue = base.where(
            col(FeedbackItem.answer_due_at) < now, col(FeedbackItem.first_answered_at).is_(None)
        )

        def work(session: Session) -> tuple[int, int]:
            return session.exec(base).one(), session.exec(overdue).one()

        return await self._db.run(work)

    async def count_by_state(self) -> dict[str, int]:
        """How many items are in each state (states without any are left out)."""
        query = select(FeedbackItem.state, func.count()).group_by(col(FeedbackItem.state))

        def work(session: Session) -> dict[str, int]:
            return {str(state): int(count) for state, count in session.exec(query).all()}

        return await self._db.run(work)

    async def reference_for_message(
        self, platform: str, chat_id: str, message_id: str
    ) -> str | None:
        """The item a message of the bot was about, for replies to it: a notification from
        the outbox, or a direct answer that named the item (kept in `bot_message`)."""
        query = select(OutboxMessage.reference).where(
            OutboxMessage.platform == platform,
            OutboxMessage.chat_id == chat_id,
            OutboxMessage.sent_message_id == message_id,
        )
        answered = select(BotMessage.reference).where(
            BotMessage.platform == platform,
            BotMessage.chat_id == chat_id,
            BotMessage.message_id == message_id,
        )

        def work(session: Session) -> str | None:
            return session.exec(query).first() or session.exec(answered).first()

        return await self._db.run(work)


def _record(session: Session, item_id: int, change: Change, now: datetime) -> None:
    session.add(
        ItemEvent(
            item_id=item_id,
            at=now,
            actor=change.actor,
            actor_name=change.actor_name,
            action=change.action,
            state=change.state,
            group_key=change.group_key,
            text=change.text,
        )
    )
