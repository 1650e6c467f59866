"""Feedback items: submission with reference and routing, and the resident's view of them."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Executable, bindparam, func, insert, update
from sqlmodel import Session, col, select

from storage.conversations import end_flow_at_version
from storage.db import Database, cached
from storage.groups import route
from storage.links import linked_ids_query
from storage.models import (
    Attachment,
    FeedbackItem,
    GroupChat,
    ItemEvent,
    ItemState,
    ReferenceCounter,
)
from storage.outbox import NewMessage, add_messages
from storage.upsert import cached_insert

Notify = Callable[[FeedbackItem, list[GroupChat], list[int]], list[NewMessage]]


@dataclass(frozen=True, slots=True)
class NewItem:
    contact_id: int
    kind: str
    field_key: str
    text: str
    language: str
    anonymous: bool
    platform: str


@dataclass(frozen=True, slots=True)
class ItemSummary:
    """An item as its author sees it in `/status` and `/mine`."""

    reference: str
    kind: str
    field_key: str
    group_key: str
    state: str
    created_at: datetime
    updated_at: datetime
    attachments: int
    answer_due_at: datetime | None = None  # the expected first-answer date
    first_answered_at: datetime | None = None


REFERENCE_PATTERN = re.compile(r"^F-\d{4}-\d{4,}$", re.IGNORECASE)


def format_reference(year: int, number: int) -> str:
    return f"F-{year}-{number:04d}"


def find_reference(text: str) -> str | None:
    """The one reference a text names, such as the bot's own message about an item; None
    when it names none or several (a list of items says nothing about which one)."""
    found = {match.upper() for match in re.findall(r"\bF-\d{4}-\d{4,}\b", text)}
    return found.pop() if len(found) == 1 else None


def is_reference(text: str) -> bool:
    """Whether `text` looks like a reference such as F-2026-0042 (any case)."""
    return bool(REFERENCE_PATTERN.match(text))


class FeedbackStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def add_item(
        self,
        new: NewItem,
        now: datetime,
        *,
        reference_year: int | None = None,
        conversation_version: int | None = None,
        notify: Notify | None = None,
    ) -> FeedbackItem | None:
        """Commit a new item with its reference, group, history and the files sent with it.

        When `conversation_version` is given, the item is only added if the contact's
        conversation is still at that version, and that conversation ends in the same
        transaction: a confirmation pressed twice, or replayed after a crash, adds one item.
        `reference_year` is the year in the city's time zone (default: the year of `now`).
        `notify` turns the stored item, its group's chats and its attachment ids into the
        messages that announce it; they are queued in the same transaction.

        Returns:
            The committed item, or None when the conversation had already moved on.

        Raises:
            UnknownField: the field of action does not exist.
        """

        def work(session: Session) -> FeedbackItem | None:
            db = session.connection()  # for the statements that return no model
            if conversation_version is not None:
                guard = {"contact": new.contact_id, "at_version": conversation_version}
                if not db.execute(cached(end_flow_at_version), guard).rowcount:
                    return None
            group = route(session, new.field_key)
            year = reference_year or now.year
            item = FeedbackItem(
                reference=format_reference(year, _next_number(session, year)),
                kind=new.kind,
                field_key=new.field_key,
                group_key=group.group_key,
                text=new.text,
                language=new.language,
                state=ItemState.RECEIVED,
                anonymous=new.anonymous,
                contact_id=new.contact_id,
                platform=new.platform,
                answer_due_at=now + timedelta(days=group.answer_days),
                created_at=now,
                updated_at=now,
            )
            session.add(item)
            session.flush()
            created = {
                "item_id": item.id,
                "at": now,
                "actor": "resident",
                "actor_name": None,
                "action": "created",
                "state": ItemState.RECEIVED,
                "group_key": group.group_key,
                "text": None,
            }
            db.execute(cached(_add_event), created)  # the first line of the item's history
            attached = db.execute(cached(_attach), {"contact": new.contact_id, "item": item.id})
            files = sorted(int(i) for i in attached.scalars().all())
            if notify is not None:
                chats = session.execute(cached(_chats_of), {"group": group.group_key})
                add_messages(session, notify(item, list(chats.scalars().all()), files), now)
            return item

        return await self._db.run(work)

    async def get_item_for_contact(self, contact_id: int, reference: str) -> ItemSummary | None:
        """The contact's own item with this reference; None for anyone else's."""
        items = await self._summaries(contact_id, reference=reference.upper(), limit=1)
        return items[0] if items else None

    async def list_items_for_contact(self, contact_id: int, limit: int = 20) -> list[ItemSummary]:
        """The contact's items, newest first."""
        return await self._summaries(contact_id, limit=limit)

    async def _summaries(
        self, contact_id: int, *, reference: str | None = None, limit: int
    ) -> list[ItemSummary]:
        # A resident's items from every platform linked to this contact (/link).
        query = select(FeedbackItem).where(
            col(FeedbackItem.contact_id).in_(linked_ids_query(contact_id))
        )
        if reference is not None:
            query = query.where(FeedbackItem.reference == reference)
        query = query.order_by(col(FeedbackItem.id).desc()).limit(limit)

        def work(session: Session) -> list[ItemSummary]:
            items = session.exec(query).all()
            counts = _attachment_counts(session, [item.id for item in items if item.id])
            return [
                ItemSummary(
                    reference=item.reference,
                    kind=item.kind,
                    field_key=item.field_key,
                    group_key=item.group_key,
                    state=item.state,
                    created_at=item.created_at,
                    updated_at=item.updated_at,
                    attachments=counts.get(item.id or 0, 0),
                    answer_due_at=item.answer_due_at,
                    first_answered_at=item.first_answered_at,
                )
                for item in items
            ]

        return await self._db.run(work)

    async def get_history(self, reference: str) -> list[ItemEvent]:
        query = (
            select(ItemEvent)
            .join(FeedbackItem, col(FeedbackItem.id) == col(ItemEvent.item_id))
            .where(FeedbackItem.reference == reference)
            .order_by(col(ItemEvent.id))
        )
        return await self._db.run(lambda session: list(session.exec(query).all()))


def _next_number(session: Session, year: int) -> int:
    """The next reference number of `year`; the row lock serialises concurrent submitters."""
    statement = cached_insert(session, _count_on)
    return int(session.connection().execute(statement, {"year": year}).scalar_one())


# The statements of `add_item` (see storage.db, `cached`); their values are parameters.


def _count_on(insert: Callable[..., Any]) -> Executable:
    statement = insert(ReferenceCounter).values(last=1)
    return statement.on_conflict_do_update(
        index_elements=["year"], set_={"last": col(ReferenceCounter.last) + 1}
    ).returning(col(ReferenceCounter.last))


def _add_event() -> Executable:
    return insert(ItemEvent)


def _attach() -> Executable:
    """The files the contact sent for the next item now belong to item `item`."""
    return (
        update(Attachment)
        .where(
            col(Attachment.contact_id) == bindparam("contact"), col(Attachment.item_id).is_(None)
        )
        .values(item_id=bindparam("item"))
        .returning(col(Attachment.id))
    )


def _chats_of() -> Executable:
    return select(GroupChat).where(col(GroupChat.group_key) == bindparam("group"))


def _attachment_counts(session: Session, item_ids: list[int]) -> dict[int, int]:
    if not item_ids:
        return {}
    rows = session.exec(
        select(Attachment.item_id, func.count())
        .where(col(Attachment.item_id).in_(item_ids))
        .group_by(col(Attachment.item_id))
    )
    return {int(item_id): int(count) for item_id, count in rows.all() if item_id is not None}
