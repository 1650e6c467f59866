"""Where each contact is in a flow, and the files they sent on the way."""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

from sqlalchemy import Update, delete, func, update
from sqlmodel import Session, col, select

from storage.db import Database
from storage.models import Attachment, ConversationState
from storage.upsert import insert_for

# A contact whose flow ended keeps an idle row, so its version never restarts: a button from
# a flow that ended can never match a question of a later flow.
IDLE = ""


def end_flow(contact_id: int) -> Update:
    """The statement that ends the contact's flow, if any, and moves its version on."""
    return (
        update(ConversationState)
        .where(
            col(ConversationState.contact_id) == contact_id,
            col(ConversationState.flow) != IDLE,
        )
        .values(flow=IDLE, step=IDLE, data={}, version=col(ConversationState.version) + 1)
    )


class ConversationStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def get_state(self, contact_id: int) -> ConversationState | None:
        """The contact's current step; None when they are in no flow."""
        return await self._db.run(lambda session: current_state(session, contact_id))

    async def set_state(
        self, contact_id: int, flow: str, step: str, data: dict[str, Any], now: datetime
    ) -> int:
        """Store the contact's next step; returns its new version (one more than before)."""

        def work(session: Session) -> int:
            statement = insert_for(session, ConversationState).values(
                contact_id=contact_id,
                flow=flow,
                step=step,
                data=dict(data),
                version=1,
                updated_at=now,
            )
            statement = statement.on_conflict_do_update(
                index_elements=["contact_id"],
                set_={
                    "flow": statement.excluded.flow,
                    "step": statement.excluded.step,
                    "data": statement.excluded.data,
                    "updated_at": statement.excluded.updated_at,
                    "version": col(ConversationState.version) + 1,
                },
            ).returning(col(ConversationState.version))
            return int(session.execute(statement).scalar_one())

        return await self._db.run(work)

    async def clear_state(self, contact_id: int) -> bool:
        """Leave any flow and drop the files collected in it; True if there was one."""

        def work(session: Session) -> bool:
            session.execute(
                delete(Attachment).where(
                    col(Attachment.contact_id) == contact_id, col(Attachment.item_id).is_(None)
                )
            )
            return bool(session.execute(end_flow(contact_id)).rowcount)  # type: ignore[attr-defined]

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
    ) -> int:
        """Keep a file until the item it belongs to is submitted.

        Returns:
            How many files the contact now holds for the next item, or -1 when `limit` files
            are already held (nothing is added then).
        """
        async with self._db.session() as session:
            held = int(
                (
                    await session.exec(
                        select(func.count()).where(
                            col(Attachment.contact_id) == contact_id,
                            col(Attachment.item_id).is_(None),
                        )
                    )
                ).one()
            )
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
                    created_at=now,
                )
            )
            return held + 1


def current_state(session: Session, contact_id: int) -> ConversationState | None:
    """The contact's flow step in `session`'s transaction; None when in no flow."""
    state = session.get(ConversationState, contact_id)
    return state if state is not None and state.flow != IDLE else None
