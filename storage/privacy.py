"""Residents' rights in the database: everything stored about a contact (`/mydata`), erasing
it (`/forget`, and retention for contacts gone quiet), and anonymising old closed items."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, or_, update
from sqlmodel import Session, col, select

from storage.db import Database
from storage.models import (
    Attachment,
    Contact,
    ConversationState,
    FeedbackItem,
    ItemEvent,
    ItemState,
    OutboxMessage,
    Registration,
)

FINISHED = (ItemState.IMPLEMENTED, ItemState.DECLINED, ItemState.CLOSED)


@dataclass(frozen=True, slots=True)
class Erased:
    contacts: int = 0
    items_deleted: int = 0
    items_kept_anonymous: int = 0
    outbox_rows: int = 0


class PrivacyStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def export(self, contact_id: int) -> dict[str, Any]:
        """Everything stored about the contact, as plain JSON-ready values."""

        def work(session: Session) -> dict[str, Any]:
            contact = session.get(Contact, contact_id)
            if contact is None:
                return {}
            items = session.exec(
                select(FeedbackItem).where(FeedbackItem.contact_id == contact_id)
            ).all()
            exported = []
            for item in items:
                events = session.exec(
                    select(ItemEvent)
                    .where(ItemEvent.item_id == item.id)
                    .order_by(col(ItemEvent.id))
                ).all()
                files = session.exec(select(Attachment).where(Attachment.item_id == item.id)).all()
                exported.append(
                    {
                        **_plain(item, exclude={"contact_id", "assignee", "assignee_name"}),
                        "history": [
                            _plain(e, exclude={"actor", "actor_name", "item_id"})
                            for e in events
                            if e.action != "note"
                        ],
                        "attachments": [_plain(f, exclude={"data", "contact_id"}) for f in files],
                    }
                )
            state = session.get(ConversationState, contact_id)
            registrations = session.exec(
                select(Registration).where(Registration.contact_id == contact_id)
            ).all()
            return {
                "registrations": [_plain(r, exclude={"contact_id"}) for r in registrations],
                "contact": _plain(contact),
                "feedback": exported,
                "conversation": _plain(state) if state is not None else None,
            }

        return await self._db.run(work)

    async def erase_contact(self, contact_id: int, *, keep_items_anonymous: bool) -> Erased:
        """Erase the contact and every personal trace: platform ids, names, chat ids, files,
        messages to or about them. Their items are deleted, or kept as anonymous texts."""
        return await self._db.run(
            lambda session: _erase(session, [contact_id], keep_items_anonymous)
        )

    async def list_inactive(self, before: datetime) -> list[int]:
        """Contacts not seen since `before`: their personal data has outlived its purpose."""
        query = select(Contact.id).where(col(Contact.last_seen_at) < before)
        return await self._db.run(lambda session: [i for i in session.exec(query) if i])

    async def erase_inactive(self, before: datetime) -> Erased:
        def work(session: Session) -> Erased:
            ids = [
                i
                for i in session.exec(select(Contact.id).where(col(Contact.last_seen_at) < before))
                if i
            ]
            return _erase(session, ids, keep_items_anonymous=True)

        return await self._db.run(work)

    async def list_finished_before(self, before: datetime) -> list[str]:
        """References of finished items, last changed before `before`, still linked to
        a person or carrying files."""
        return await self._db.run(lambda session: list(session.exec(_finished(before))))

    async def anonymise_finished(self, before: datetime) -> int:
        def work(session: Session) -> int:
            references = list(session.exec(_finished(before)))
            if not references:
                return 0
            ids = select(FeedbackItem.id).where(col(FeedbackItem.reference).in_(references))
            session.execute(delete(Attachment).where(col(Attachment.item_id).in_(ids)))
            session.execute(
                update(FeedbackItem)
                .where(col(FeedbackItem.reference).in_(references))
                .values(contact_id=None, anonymous=True)
            )
            return len(references)

        return await self._db.run(work)


def _finished(before: datetime) -> Any:
    has_files = select(Attachment.item_id).where(col(Attachment.item_id).is_not(None))
    return select(FeedbackItem.reference).where(
        col(FeedbackItem.state).in_(FINISHED),
        col(FeedbackItem.updated_at) < before,
        or_(col(FeedbackItem.contact_id).is_not(None), col(FeedbackItem.id).in_(has_files)),
    )


def _erase(session: Session, contact_ids: list[int], keep_items_anonymous: bool) -> Erased:
    if not contact_ids:
        return Erased()
    contacts = session.exec(select(Contact).where(col(Contact.id).in_(contact_ids))).all()
    chats = [(c.platform, c.chat_id) for c in contacts if c.chat_id]
    item_ids = select(FeedbackItem.id).where(col(FeedbackItem.contact_id).in_(contact_ids))
    items = len(session.exec(item_ids).all())
    session.execute(
        delete(Attachment).where(
            or_(col(Attachment.contact_id).in_(contact_ids), col(Attachment.item_id).in_(item_ids))
        )
    )
    references = select(FeedbackItem.reference).where(
        col(FeedbackItem.contact_id).in_(contact_ids)
    )
    outbox = delete(OutboxMessage).where(
        or_(
            col(OutboxMessage.contact_id).in_(contact_ids),
            col(OutboxMessage.reference).in_(references),
            *[
                (col(OutboxMessage.platform) == p) & (col(OutboxMessage.chat_id) == c)
                for p, c in chats
            ],
        )
    )
    outbox_rows = int(session.execute(outbox).rowcount)  # type: ignore[attr-defined]
    if keep_items_anonymous:
        session.execute(
            update(FeedbackItem)
            .where(col(FeedbackItem.contact_id).in_(contact_ids))
            .values(contact_id=None, anonymous=True)
        )
    else:
        session.execute(delete(ItemEvent).where(col(ItemEvent.item_id).in_(item_ids)))
        session.execute(delete(FeedbackItem).where(col(FeedbackItem.contact_id).in_(contact_ids)))
    # Registrations go with the person; a place they held is not handed on here (a
    # forgotten resident cannot be asked), the waitlist moves up at the next cancellation.
    session.execute(delete(Registration).where(col(Registration.contact_id).in_(contact_ids)))
    session.execute(
        delete(ConversationState).where(col(ConversationState.contact_id).in_(contact_ids))
    )
    session.execute(delete(Contact).where(col(Contact.id).in_(contact_ids)))
    return Erased(
        contacts=len(contacts),
        items_deleted=0 if keep_items_anonymous else items,
        items_kept_anonymous=items if keep_items_anonymous else 0,
        outbox_rows=outbox_rows,
    )


def _plain(row: Any, exclude: set[str] | None = None) -> dict[str, Any]:
    values = row.model_dump(exclude=exclude or set())
    return {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in values.items()}
