"""One resident, several platforms: contacts joined by a one-time code (/link).

Linked contacts carry the same `person_id` (the id of the person's first contact). Their
items, language and registrations are shared; what the bot sends on its own goes to the one
that wrote last.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import or_, update
from sqlmodel import Session, col, select

from storage.db import Database
from storage.models import Contact


def linked_ids_query(contact_id: int):  # type: ignore[no-untyped-def]
    """The ids of `contact_id` and every contact linked to it, as a subquery."""
    person = select(Contact.person_id).where(col(Contact.id) == contact_id).scalar_subquery()
    return select(Contact.id).where(
        or_(col(Contact.id) == contact_id, col(Contact.person_id) == person)
    )


class LinkStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def set_link_code(self, contact_id: int, code: str, expires_at: datetime) -> None:
        """Offer `code` for linking another platform's contact to this one until `expires_at`."""
        statement = (
            update(Contact)
            .where(col(Contact.id) == contact_id)
            .values(link_code=code, link_code_expires_at=expires_at)
        )
        await self._db.run(lambda session: session.exec(statement))

    async def link_by_code(self, contact_id: int, code: str, now: datetime) -> Contact | None:
        """Join `contact_id` (and whoever is linked to it) to the person who offered `code`.

        The new contacts take that person's language. The code is used up.

        Returns:
            The contact that offered the code; None if the code is unknown, expired or the
            contact's own.
        """

        def work(session: Session) -> Contact | None:
            owner = session.exec(
                select(Contact).where(
                    col(Contact.link_code) == code.upper(),
                    col(Contact.link_code_expires_at) > now,
                    col(Contact.id) != contact_id,
                )
            ).first()
            if owner is None or owner.id is None:
                return None
            person = owner.person_id or owner.id
            joining = list(session.exec(linked_ids_query(contact_id)).all())
            values: dict[str, object] = {"person_id": person}
            if owner.language:
                values["language"] = owner.language
            session.exec(update(Contact).where(col(Contact.id).in_(joining)).values(**values))
            owner.person_id = person
            owner.link_code = None
            owner.link_code_expires_at = None
            session.add(owner)
            session.flush()
            return owner

        return await self._db.run(work)

    async def list_linked_ids(self, contact_id: int) -> list[int]:
        """`contact_id` and the ids of the contacts linked to it."""
        statement = linked_ids_query(contact_id)
        return await self._db.run(lambda session: list(session.exec(statement).all()))

    async def get_current_contact(self, contact_id: int) -> Contact | None:
        """Of the linked contacts, the one to write to: reachable and seen last."""

        def work(session: Session) -> Contact | None:
            ids: Sequence[int | None] = session.exec(linked_ids_query(contact_id)).all()
            contacts = session.exec(select(Contact).where(col(Contact.id).in_(ids))).all()
            reachable = [c for c in contacts if c.blocked_at is None and c.chat_id]
            pool = reachable or list(contacts)
            return max(pool, key=lambda c: (c.last_seen_at, c.id or 0)) if pool else None

        return await self._db.run(work)
