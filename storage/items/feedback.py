"""Feedback items: submission with reference and routing, and the resident's view of them."""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Insert, bindparam, func, insert, update
from sqlalchemy import select as core_select
from sqlmodel import Session, col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.conversations import END_FLOW_AT_VERSION
from storage.db import Database
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
from storage.rows import detached, table
from storage.upsert import insert_on

Notify = Callable[[FeedbackItem, list[GroupChat], list[int]], list[NewMessage]]

_ITEMS, _COUNTERS, _FILES, _CHATS = (
    table(model) for model in (FeedbackItem, ReferenceCounter, Attachment, GroupChat)
)
_ADD_ITEM = insert(_ITEMS).returning(_ITEMS.c.id)
_ADD_EVENT = insert(table(ItemEvent))
_ATTACH = (
    update(_FILES)
    .where(_FILES.c.contact_id == bindparam("contact"), _FILES.c.item_id.is_(None))
    .values(item_id=bindparam("item"))
    .returning(_FILES.c.id)
)
_CHATS_OF = core_select(_CHATS).where(_CHATS.c.group_key == bindparam("group"))


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
            db = session.connection()
            if conversation_version is not None:
                guard = {"contact": new.contact_id, "at_version": conversation_version}
                if not db.execute(END_FLOW_AT_VERSION, guard).rowcount:
                    return None
            group = route(db, new.field_key)
            year = reference_year or now.year
            values: dict[str, Any] = {
                "reference": format_reference(year, _next_number(db, year)),
                "kind": new.kind,
                "field_key": new.field_key,
                "group_key": group.group_key,
                "text": new.text,
                "language": new.language,
                "state": ItemState.RECEIVED,
                "anonymous": new.anonymous,
                "contact_id": new.contact_id,
                "platform": new.platform,
                "assignee": None,
                "assignee_name": None,
                "answer_due_at": now + timedelta(days=group.answer_days),
                "first_answered_at": None,
                "escalated_at": None,
                "created_at": now,
                "updated_at": now,
            }
            values["id"] = item_id = db.execute(_ADD_ITEM, values).scalar_one()
            item = detached(FeedbackItem, values)
            db.execute(_ADD_EVENT, _created_event(item_id, group.group_key, now))
            attached = db.execute(_ATTACH, {"contact": new.contact_id, "item": item_id})
            files = sorted(int(i) for i in attached.scalars().all())
            if notify is not None:
                chats = [
                    detached(GroupChat, row._mapping)
                    for row in db.execute(_CHATS_OF, {"group": group.group_key})
                ]
                add_messages(session, notify(item, chats, files), now)
            return item

        return await self._db.run(work, quick=True)

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
        async with self._db.session() as session:
            # A resident's items from every platform linked to this contact (/link).
            query = select(FeedbackItem).where(
                col(FeedbackItem.contact_id).in_(linked_ids_query(contact_id))
            )
            if reference is not None:
                query = query.where(FeedbackItem.reference == reference)
            query = query.order_by(col(FeedbackItem.id).desc()).limit(limit)
            items = list((await session.exec(query)).all())
            counts = await _attachment_counts(session, [item.id for item in items if item.id])
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

    async def get_history(self, reference: str) -> list[ItemEvent]:
        async with self._db.session() as session:
            query = (
                select(ItemEvent)
                .join(FeedbackItem, col(FeedbackItem.id) == col(ItemEvent.item_id))
                .where(FeedbackItem.reference == reference)
                .order_by(col(ItemEvent.id))
            )
            return list((await session.exec(query)).all())


def _created_event(item_id: int, group_key: str, now: datetime) -> dict[str, Any]:
    """The first line of an item's history (every column, as the ORM would insert it)."""
    return {
        "item_id": item_id,
        "at": now,
        "actor": "resident",
        "actor_name": None,
        "action": "created",
        "state": ItemState.RECEIVED,
        "group_key": group_key,
        "text": None,
    }


def _next_number(db: Connection, year: int) -> int:
    """The next reference number of `year`; the row lock serialises concurrent submitters."""
    return int(db.execute(_next_number_statement(db.dialect.name), {"year": year}).scalar_one())


@functools.cache
def _next_number_statement(dialect: str) -> Insert:
    statement = insert_on(dialect, _COUNTERS).values(last=1)
    return statement.on_conflict_do_update(
        index_elements=["year"], set_={"last": _COUNTERS.c.last + 1}
    ).returning(_COUNTERS.c.last)


async def _attachment_counts(session: AsyncSession, item_ids: list[int]) -> dict[int, int]:
    if not item_ids:
        return {}
    rows = await session.execute(
        select(Attachment.item_id, func.count())
        .where(col(Attachment.item_id).in_(item_ids))
        .group_by(col(Attachment.item_id))
    )
    return {int(item_id): int(count) for item_id, count in rows.all()}
