"""Contacts: one row per person and platform."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Executable, bindparam, func, update
from sqlmodel import Session, col, select

from storage.conversations import IDLE
from storage.db import Database, cached
from storage.links import linked_ids_query
from storage.models import Contact, ConversationState, OutboxMessage, OutboxState
from storage.outbox import WAITING
from storage.people import PERSON, one_per_person
from storage.upsert import insert_for

# last_seen_at is for retention, which counts in months: refreshing it at most every few
# minutes saves a write on almost every update.
LAST_SEEN_RESOLUTION = timedelta(minutes=10)


@dataclass(frozen=True, slots=True)
class ContactKey:
    """Who wrote, and from which private chat ("" when they wrote in a group chat)."""

    platform: str
    user_id: str
    chat_id: str
    display_name: str = ""


class ContactStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def get_or_add_contact(self, key: ContactKey, now: datetime) -> tuple[Contact, bool]:
        """Return the contact for `key`, creating it on first contact.

        Returns:
            The contact and whether it was created just now.
        """
        contact, created, _ = await self.open_turn(key, now, with_state=False)
        return contact, created

    async def open_turn(
        self, key: ContactKey, now: datetime, *, with_state: bool = True
    ) -> tuple[Contact, bool, ConversationState | None]:
        """Everything an update needs to begin, in one transaction: the contact (created on
        first contact, refreshed when seen again) and the step of the flow they are in.

        Returns:
            The contact, whether it was created just now, and its flow step (None if none).
        """

        def work(session: Session) -> tuple[Contact, bool, ConversationState | None]:
            contact, created, state = _get_or_add(session, key, now)
            return contact, created, state if with_state else None

        return await self._db.run(work)

    async def get_contact(self, contact_id: int) -> Contact | None:
        return await self._db.run(lambda session: session.get(Contact, contact_id))

    async def set_language(self, contact_id: int, language: str) -> None:
        statement = (
            update(Contact)
            .where(col(Contact.id).in_(linked_ids_query(contact_id)))
            .values(language=language)
        )
        await self._db.run(lambda session: session.exec(statement))

    async def set_unreachable(self, platform: str, chat_id: str, now: datetime) -> int:
        """Mark the contacts behind a chat as unreachable (they blocked the bot or left).

        Returns:
            How many contacts were marked.
        """
        statement = (
            update(Contact)
            .where(
                col(Contact.platform) == platform,
                col(Contact.chat_id) == chat_id,
                col(Contact.blocked_at).is_(None),
            )
            .values(blocked_at=now)
        )
        return await self._db.run(lambda session: session.exec(statement).rowcount)

    async def list_reachable(self, *, subscribed_only: bool) -> list[Contact]:
        """The people the bot can write to (a private chat known, not blocked, not
        stopped), each once: a person linked on two platforms (/link) on the contact they
        wrote from last (`storage.people.one_per_person`)."""
        query = select(Contact).where(
            col(Contact.blocked_at).is_(None),
            col(Contact.stopped_at).is_(None),
            col(Contact.chat_id) != "",
        )
        if subscribed_only:
            query = query.where(col(Contact.subscribed))
        query = query.order_by(col(Contact.id))
        return one_per_person(await self._db.run(lambda session: list(session.exec(query))))

    async def count_reachable(self, *, subscribed_only: bool) -> int:
        """How many people `list_reachable` gives."""
        query = select(func.count(func.distinct(PERSON))).where(
            col(Contact.blocked_at).is_(None),
            col(Contact.stopped_at).is_(None),
            col(Contact.chat_id) != "",
        )
        if subscribed_only:
            query = query.where(col(Contact.subscribed))
        return await self._db.run(lambda session: session.exec(query).one())

    async def set_consent(self, contact_id: int, now: datetime) -> None:
        """The contact agreed to the privacy notice (before their first item is stored)."""
        statement = update(Contact).where(col(Contact.id) == contact_id).values(consent_at=now)
        await self._db.run(lambda session: session.exec(statement))

    async def set_subscribed(self, contact_id: int, subscribed: bool) -> None:
        """`/subscribe` or `/unsubscribe`: invitations to events."""
        statement = (
            update(Contact).where(col(Contact.id) == contact_id).values(subscribed=subscribed)
        )
        await self._db.run(lambda session: session.exec(statement))

    async def set_stopped(self, contact_id: int, now: datetime | None) -> int:
        """`/stop` (now) or `/start` (None), for the person: the contact and every contact
        linked to it (/link). Stopping also skips what is still waiting to be sent to them on
        the bot's own initiative; messages about their own items (an answer, a new state)
        still go out, as /stop promises. Returns how many waiting messages were skipped."""

        def work(session: Session) -> int:
            ids = list(session.exec(linked_ids_query(contact_id)).all())
            session.exec(update(Contact).where(col(Contact.id).in_(ids)).values(stopped_at=now))
            if now is None:
                return 0
            waiting = (
                update(OutboxMessage)
                .where(
                    col(OutboxMessage.contact_id).in_(ids),
                    col(OutboxMessage.reference).is_(None),
                    col(OutboxMessage.state).in_(WAITING),
                )
                .values(state=OutboxState.SKIPPED, last_error="stopped by the resident")
            )
            return session.exec(waiting).rowcount

        return await self._db.run(work)


def _get_or_add(
    session: Session, key: ContactKey, now: datetime
) -> tuple[Contact, bool, ConversationState | None]:
    """The contact for `key` (created if new, refreshed if seen again), whether it was
    created, and its flow step (None when in no flow)."""
    by_key = {"platform": key.platform, "user_id": key.user_id}
    found = session.execute(cached(_by_key), by_key).first()
    if found is None:
        new_id = session.exec(
            insert_for(session, Contact)
            .values(
                platform=key.platform,
                user_id=key.user_id,
                chat_id=key.chat_id,
                display_name=key.display_name,
                created_at=now,
                last_seen_at=now,
            )
            .on_conflict_do_nothing(index_elements=["platform", "user_id"])
            .returning(col(Contact.id))
        ).first()
        # Another process may have created it between our look-up and insert.
        contact, _ = session.execute(cached(_by_key), by_key).one()
        return contact, new_id is not None, None
    contact, state = found
    if (
        now - contact.last_seen_at >= LAST_SEEN_RESOLUTION
        or contact.person_id is not None  # linked: the platform used last gets the news
        or (key.chat_id and contact.chat_id != key.chat_id)
        or contact.blocked_at is not None
        or (key.display_name and contact.display_name != key.display_name)
    ):
        contact.last_seen_at = now
        contact.chat_id = key.chat_id or contact.chat_id
        # Writing to the bot again in the private chat makes them reachable; a message in a
        # group says nothing about whether they still block the bot.
        if key.chat_id:
            contact.blocked_at = None
        contact.display_name = key.display_name or contact.display_name
        session.add(contact)
    return contact, False, state if state is not None and state.flow != IDLE else None


def _by_key() -> Executable:
    """The contact by (platform, user_id), with its flow step if it has one: every update
    begins with this one statement."""
    return (
        select(Contact, ConversationState)
        .outerjoin(ConversationState, col(ConversationState.contact_id) == col(Contact.id))
        .where(
            col(Contact.platform) == bindparam("platform"),
            col(Contact.user_id) == bindparam("user_id"),
        )
    )
