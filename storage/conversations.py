"""Where each contact is in a flow, and the files they sent on the way."""

from __future__ import annotations

import functools
import hashlib
from datetime import datetime
from typing import Any

from sqlalchemy import Insert, bindparam, delete, func, update
from sqlalchemy import select as core_select
from sqlmodel import Session, col, select

from storage.db import Database
from storage.models import Attachment, ConversationState
from storage.rows import detached, table
from storage.upsert import insert_on

# A contact whose flow ended keeps an idle row, so its version never restarts: a button from
# a flow that ended can never match a question of a later flow.
IDLE = ""

_STATES = table(ConversationState)
_STATE_BY_CONTACT = core_select(_STATES).where(_STATES.c.contact_id == bindparam("contact"))
# Ends the contact's flow, if any, and moves its version on.
END_FLOW = (
    update(_STATES)
    .where(_STATES.c.contact_id == bindparam("contact"), _STATES.c.flow != IDLE)
    .values(flow=IDLE, step=IDLE, data={}, version=_STATES.c.version + 1)
)
# The same, only at the version the resident confirmed (FeedbackStore.add_item).
END_FLOW_AT_VERSION = END_FLOW.where(_STATES.c.version == bindparam("at_version"))


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

        values = {"contact_id": contact_id, "flow": flow, "step": step, "data": dict(data)}
        values["updated_at"] = now

        def work(session: Session) -> int:
            db = session.connection()
            return int(db.execute(_set_state_statement(db.dialect.name), values).scalar_one())

        return await self._db.run(work, quick=True)

    async def clear_state(self, contact_id: int) -> bool:
        """Leave any flow and drop the files collected in it; True if there was one."""

        def work(session: Session) -> bool:
            session.execute(
                delete(Attachment).where(
                    col(Attachment.contact_id) == contact_id, col(Attachment.item_id).is_(None)
                )
            )
            return bool(session.connection().execute(END_FLOW, {"contact": contact_id}).rowcount)

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
    row = session.connection().execute(_STATE_BY_CONTACT, {"contact": contact_id}).first()
    return detached(ConversationState, row._mapping) if row and row.flow != IDLE else None


@functools.cache
def _set_state_statement(dialect: str) -> Insert:
    """The upsert of `set_state`, built once per dialect; the values come as parameters."""
    statement = insert_on(dialect, _STATES).values(version=1)
    return statement.on_conflict_do_update(
        index_elements=["contact_id"],
        set_={
            "flow": statement.excluded.flow,
            "step": statement.excluded.step,
            "data": statement.excluded.data,
            "updated_at": statement.excluded.updated_at,
            "version": _STATES.c.version + 1,
        },
    ).returning(_STATES.c.version)
