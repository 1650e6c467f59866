"""Contacts: one row per person and platform."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Insert, Row, bindparam, func, update
from sqlalchemy import select as core_select
from sqlmodel import Session, col, select

from storage.conversations import IDLE
from storage.db import Database
from storage.links import linked_ids_query
from storage.models import Contact, ConversationState, OutboxMessage, OutboxState
from storage.outbox import WAITING
from storage.rows import column_keys, detached, table
from storage.upsert import insert_on

# last_seen_at is for retention, which counts in months: refreshing it at most every few
# minutes saves a write on almost every update.
LAST_SEEN_RESOLUTION = timedelta(minutes=10)

_CONTACTS, _STATES = table(Contact), table(ConversationState)
_CONTACT_KEYS, _STATE_KEYS = column_keys(Contact), column_keys(ConversationState)
# The contact by (platform, user), with its flow step if it has one: one statement per turn.
_BY_KEY = (
    core_select(_CONTACTS, *(column.label(f"state_{column.key}") for column in _STATES.c))
    .outerjoin(_STATES, _STATES.c.contact_id == _CONTACTS.c.id)
    .where(
        _CONTACTS.c.platform == bindparam("platform"),
        _CONTACTS.c.user_id == bindparam("user_id"),
    )
)
# The SET clause holds just the columns passed, as an ORM flush would write only those.
_REFRESH = update(_CONTACTS).where(_CONTACTS.c.id == bindparam("contact"))


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
            contact, created, state = _get_or_add(session.connection(), key, now)
            return contact, created, state if with_state else None

        return await self._db.run(work, quick=True)

    async def get_contact(self, contact_id: int) -> Contact | None:
        async with self._db.session() as session:
            return await session.get(Contact, contact_id)

    async def set_language(self, contact_id: int, language: str) -> None:
        async with self._db.session() as session:
            await session.execute(
                update(Contact)
                .where(col(Contact.id).in_(linked_ids_query(contact_id)))
                .values(language=language)
            )

    async def set_unreachable(self, platform: str, chat_id: str, now: datetime) -> int:
        """Mark the contacts behind a chat as unreachable (they blocked the bot or left).

        Returns:
            How many contacts were marked.
        """
        async with self._db.session() as session:
            result = await session.execute(
                update(Contact)
                .where(
                    col(Contact.platform) == platform,
                    col(Contact.chat_id) == chat_id,
                    col(Contact.blocked_at).is_(None),
                )
                .values(blocked_at=now)
            )
            return int(result.rowcount)  # type: ignore[attr-defined]

    async def list_reachable(self, *, subscribed_only: bool) -> list[Contact]:
        """Contacts the bot can write to: a private chat known and not blocked."""
        async with self._db.session() as session:
            query = select(Contact).where(
                col(Contact.blocked_at).is_(None),
                col(Contact.stopped_at).is_(None),
                col(Contact.chat_id) != "",
            )
            if subscribed_only:
                query = query.where(col(Contact.subscribed))
            return list((await session.exec(query.order_by(col(Contact.id)))).all())

    async def count_reachable(self, *, subscribed_only: bool) -> int:
        async with self._db.session() as session:
            query = select(func.count()).where(
                col(Contact.blocked_at).is_(None),
                col(Contact.stopped_at).is_(None),
                col(Contact.chat_id) != "",
            )
            if subscribed_only:
                query = query.where(col(Contact.subscribed))
            return int((await session.exec(query)).one())

    async def set_consent(self, contact_id: int, now: datetime) -> None:
        """The contact agreed to the privacy notice (before their first item is stored)."""
        statement = update(Contact).where(col(Contact.id) == contact_id).values(consent_at=now)
        await self._db.run(lambda session: session.execute(statement))

    async def set_subscribed(self, contact_id: int, subscribed: bool) -> None:
        """`/subscribe` or `/unsubscribe`: invitations to events."""
        statement = (
            update(Contact).where(col(Contact.id) == contact_id).values(subscribed=subscribed)
        )
        await self._db.run(lambda session: session.execute(statement))

    async def set_stopped(self, contact_id: int, now: datetime | None) -> int:
        """`/stop` (now) or `/start` (None), for the person: the contact and every contact
        linked to it (/link). Stopping also skips what is still waiting to be sent to them on
        the bot's own initiative; messages about their own items (an answer, a new state)
        still go out, as /stop promises. Returns how many waiting messages were skipped."""

        def work(session: Session) -> int:
            ids = list(session.exec(linked_ids_query(contact_id)).all())
            session.execute(update(Contact).where(col(Contact.id).in_(ids)).values(stopped_at=now))
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
            return int(session.execute(waiting).rowcount)  # type: ignore[attr-defined]

        return await self._db.run(work)


def _get_or_add(
    db: Connection, key: ContactKey, now: datetime
) -> tuple[Contact, bool, ConversationState | None]:
    """The contact for `key` (created if new, refreshed if seen again), whether it was
    created, and its flow step (None when in no flow)."""
    by_key = {"platform": key.platform, "user_id": key.user_id}
    row = db.execute(_BY_KEY, by_key).first()
    if row is None:
        new: dict[str, Any] = {"platform": key.platform, "user_id": key.user_id}
        new |= {"chat_id": key.chat_id, "display_name": key.display_name}
        new |= {"created_at": now, "last_seen_at": now}
        new_id = db.execute(_add_statement(db.dialect.name), new).scalar_one_or_none()
        # Another process may have created it between our look-up and insert.
        row = db.execute(_BY_KEY, by_key).one()
        return detached(Contact, _contact_values(row)), new_id is not None, None
    contact = _contact_values(row)
    if (
        now - contact["last_seen_at"] >= LAST_SEEN_RESOLUTION
        or contact["person_id"] is not None  # linked: the platform used last gets the news
        or (key.chat_id and contact["chat_id"] != key.chat_id)
        or contact["blocked_at"] is not None
        or (key.display_name and contact["display_name"] != key.display_name)
    ):
        seen = {
            "last_seen_at": now,
            "chat_id": key.chat_id or contact["chat_id"],
            # Writing to the bot again in the private chat makes them reachable; a message
            # in a group says nothing about whether they still block the bot.
            "blocked_at": None if key.chat_id else contact["blocked_at"],
            "display_name": key.display_name or contact["display_name"],
        }
        changed = {name: value for name, value in seen.items() if value != contact[name]}
        if changed:
            db.execute(_REFRESH, {"contact": contact["id"], **changed})
            contact |= changed
    return detached(Contact, contact), False, _state(row)


def _contact_values(row: Row[Any]) -> dict[str, Any]:
    return dict(zip(_CONTACT_KEYS, row, strict=False))  # the state's columns follow


def _state(row: Row[Any]) -> ConversationState | None:
    """The flow step joined to the contact's row; None when there is none or it ended."""
    values = dict(zip(_STATE_KEYS, row[len(_CONTACT_KEYS) :], strict=True))
    if values["contact_id"] is None or values["flow"] == IDLE:  # no row, or an idle one
        return None
    return detached(ConversationState, values)


@functools.cache
def _add_statement(dialect: str) -> Insert:
    """Create a contact unless another transaction just did; returns the new id if any."""
    return (
        insert_on(dialect, _CONTACTS)
        .on_conflict_do_nothing(index_elements=["platform", "user_id"])
        .returning(_CONTACTS.c.id)
    )
