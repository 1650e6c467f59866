"""Feedback items as the staff web view lists them: filtered, searched, sorted, paged, and
the whole filtered list for a CSV download.

Fast with a year of a large city's data (bench/web_items.py, a million items): every sort
key ends in the id, so each page is one index range read from its start (`ORDER BY ... LIMIT`
stops after a page), and the count stops at `COUNT_CAP` (the page says "more than 10,000"
rather than counting a million rows on every click). The indexes are in storage.models.
A search for a whole reference finds that item by its unique index; other words are looked
for in the texts (and references) of the items the other filters leave.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, func, or_
from sqlalchemy import select as core_select
from sqlmodel import Session, col, select

from storage.db import Database
from storage.items.feedback import is_reference
from storage.items.handling import is_open
from storage.models import Attachment, FeedbackItem

COUNT_CAP = 10_000
EXPORT_LIMIT = 100_000  # rows in one CSV download
SORTS = ("newest", "oldest", "due", "state")


@dataclass(frozen=True, slots=True)
class ItemQuery:
    """What the items page asks for. `groups` None: every group (administrators)."""

    groups: Sequence[str] | None
    group: str = ""
    field: str = ""
    state: str = ""
    kind: str = ""
    overdue: bool = False
    start: datetime | None = None  # created at or after
    end: datetime | None = None  # created before
    search: str = ""
    sort: str = "newest"


@dataclass(frozen=True, slots=True)
class ListedItem:
    """One row of the list: no author, no contact, whether anonymous or not."""

    id: int
    reference: str
    kind: str
    field_key: str
    group_key: str
    state: str
    created_at: datetime
    answer_due_at: datetime | None
    first_answered_at: datetime | None
    assignee_name: str | None
    text: str


@dataclass(frozen=True, slots=True)
class ItemPage:
    items: list[ListedItem]
    total: int  # capped at COUNT_CAP + 1: more than COUNT_CAP
    more: bool  # a next page exists


EXCERPT = 160  # characters of the text a row shows


class ItemListing:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def list_page(
        self, query: ItemQuery, now: datetime, *, offset: int, limit: int
    ) -> ItemPage:
        """One page of the items `query` selects, and how many there are (up to the cap)."""
        where = _conditions(query, now)
        rows = (
            _select_rows(EXCERPT)
            .where(*where)
            .order_by(*_order(query.sort))
            .offset(offset)
            .limit(limit + 1)
        )
        capped = core_select(col(FeedbackItem.id)).where(*where).limit(COUNT_CAP + 1).subquery()
        count = core_select(func.count()).select_from(capped)

        def work(session: Session) -> ItemPage:
            found = [ListedItem(*row) for row in session.execute(rows).all()]
            total = int(session.execute(count).scalar_one())
            return ItemPage(found[:limit], total, len(found) > limit)

        return await self._db.run(work)

    async def list_all(self, query: ItemQuery, now: datetime) -> list[ListedItem]:
        """Every item `query` selects (up to `EXPORT_LIMIT`), in its order, texts whole."""
        rows = (
            _select_rows(None)
            .where(*_conditions(query, now))
            .order_by(*_order(query.sort))
            .limit(EXPORT_LIMIT)
        )
        return await self._db.run(
            lambda session: [ListedItem(*row) for row in session.execute(rows).all()]
        )

    async def list_attachments(self, item_id: int) -> list[tuple[int, str, str, int]]:
        """(id, file name, MIME type, size) of an item's files, without their bytes."""
        query = (
            select(Attachment.id, Attachment.file_name, Attachment.mime_type, Attachment.size)
            .where(Attachment.item_id == item_id)
            .order_by(col(Attachment.id))
        )

        def work(session: Session) -> list[tuple[int, str, str, int]]:
            return [(int(i or 0), n, m, s) for i, n, m, s in session.exec(query).all()]

        return await self._db.run(work)

    async def get_attachment(self, item_id: int, attachment_id: int) -> Attachment | None:
        """One of the item's files with its bytes; None when it is not the item's."""
        query = select(Attachment).where(
            Attachment.id == attachment_id, Attachment.item_id == item_id
        )
        return await self._db.run(lambda session: session.exec(query).first())


def _select_rows(excerpt: int | None) -> Any:
    item = FeedbackItem
    text: Any = col(item.text) if excerpt is None else func.substr(col(item.text), 1, excerpt)
    return core_select(
        col(item.id),
        col(item.reference),
        col(item.kind),
        col(item.field_key),
        col(item.group_key),
        col(item.state),
        col(item.created_at),
        col(item.answer_due_at),
        col(item.first_answered_at),
        col(item.assignee_name),
        text,
    )


def _conditions(query: ItemQuery, now: datetime) -> list[ColumnElement[bool]]:
    item = FeedbackItem
    where: list[ColumnElement[bool]] = []
    if query.groups is not None:
        where.append(col(item.group_key).in_(list(query.groups)))
    if query.group:
        where.append(col(item.group_key) == query.group)
    if query.field:
        where.append(col(item.field_key) == query.field)
    if query.state:
        where.append(col(item.state) == query.state)
    if query.kind:
        where.append(col(item.kind) == query.kind)
    if query.overdue:
        where += [
            is_open(),
            col(item.first_answered_at).is_(None),
            col(item.answer_due_at) < now,
        ]
    if query.start is not None:
        where.append(col(item.created_at) >= query.start)
    if query.end is not None:
        where.append(col(item.created_at) < query.end)
    for word in query.search.split()[:5]:
        if is_reference(word):  # a whole reference: the one item, by its unique index
            where.append(col(item.reference) == word.upper())
            continue
        pattern = "%" + word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        where.append(
            or_(
                col(item.reference).ilike(pattern, escape="\\"),
                col(item.text).ilike(pattern, escape="\\"),
            )
        )
    return where


def _order(sort: str) -> list[Any]:
    """Each order is one index read in order (storage.models), the id breaking ties."""
    item = FeedbackItem
    orders: dict[str, list[Any]] = {
        "newest": [col(item.id).desc()],
        "oldest": [col(item.id)],
        "due": [col(item.answer_due_at), col(item.id)],
        "state": [col(item.state), col(item.id)],
    }
    return orders.get(sort, orders["newest"])
