"""Where each contact is in a flow, and the files they sent on the way."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import Executable, Update, bindparam, delete, func, update
from sqlmodel import Session, col, select

from storage.db import Database, cached
from storage.models import Attachment, ConversationState
from storage.upsert import cached_insert

# A contact whose flow ended keeps an idle row, so its version never restarts: a button from
# a flow that ended can never match a question of a later flow.
IDLE = ""


def end_flow() -> Update:
    """End the flow of the contact `contact` (a parameter), if any, and move its version on."""
    return (
        update(ConversationState)
        .where(
            col(ConversationState.contact_id) == bindparam("contact"),
            col(ConversationState.flow) != IDLE,
        )
        .values(flow=IDLE, step=IDLE, data={}, version=col(ConversationState.version) + 1)
    )


def end_flow_at_version() -> Update:
    """`end_flow`, only while the flow is at the version `at_version` (the one the resident
    confirmed: FeedbackStore.add_item)."""
    return end_flow().where(col(ConversationState.version) == bindparam("at_version"))


class ConversationStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def get_state(self, contact_id: int) -> ConversationState | None:
        """The contact's current step; None when they are in no flow."""

        def work(session: Session) -> ConversationState | None:
            state = session.get(ConversationState, contact_id)
            return state if state is not None and state.flow != IDLE else None

        return await self._db.run(work)

    async def set_state(
        self, contact_id: int, flow: str, step: str, data: dict[str, Any], now: datetime
    ) -> int:
        """Store the contact's next step; returns its new version (one more than before)."""

        values = {"contact_id": contact_id, "flow": flow, "step": step, "data": dict(data)}
        values["updated_at"] = now

        def work(session: Session) -> int:
            statement = cached_insert(session, _set_state)
            return int(session.connection().execute(statement, values).scalar_one())

        return await self._db.run(work)

    async def clear_state(self, contact_id: int) -> bool:
        """Leave any flow and drop the files collected in it; True if there was one."""

        def work(session: Session) -> bool:
            session.exec(
                delete(Attachment).where(
                    col(Attachment.contact_id) == contact_id, col(Attachment.item_id).is_(None)
                )
            )
            ended = session.connection().execute(cached(end_flow), {"contact": contact_id})
            return bool(ended.rowcount)

        return await self._db.run(work)

    async def add_pending_attachment(
        self,
        contact_id: int,
        *,
        kind: str,
        file_name: str,
        mime_type: str,
        data: bytes,
        now: datetime,
        limit: int,
        caption: str | None = None,
    ) -> int:
        """Keep a file (with what the resident wrote about it, `caption`) until the item it
        belongs to is submitted.

        Returns:
            How many files the contact now holds for the next item, or -1 when `limit` files
            are already held (nothing is added then).
        """
        held_files = select(func.count()).where(
            col(Attachment.contact_id) == contact_id, col(Attachment.item_id).is_(None)
        )

        def work(session: Session) -> int:
            held = session.exec(held_files).one()
            if held >= limit:
                return -1
            session.add(
                Attachment(
                    contact_id=contact_id,
                    kind=kind,
                    file_name=file_name,
                    mime_type=mime_type,
                    size=len(data),
                    sha256=hashlib.sha256(data).hexdigest(),
                    data=data,
                    caption=caption,
                    created_at=now,
                )
            )
            return held + 1

        return await self._db.run(work)


def _set_state(insert: Callable[..., Any]) -> Executable:
    """The upsert of `set_state`: its values are parameters, its new version is returned."""
    statement = insert(ConversationState).values(version=1)
    return statement.on_conflict_do_update(
        index_elements=["contact_id"],
        set_={
            "flow": statement.excluded.flow,
            "step": statement.excluded.step,
            "data": statement.excluded.data,
            "updated_at": statement.excluded.updated_at,
            "version": col(ConversationState.version) + 1,
        },
    ).returning(col(ConversationState.version))
