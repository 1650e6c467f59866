"""Registrations: places, the waitlist and its promotion, and the planner's fan-out of one
event stage to its audience, each in one transaction with the messages it causes."""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import exists
from sqlmodel import Session, col, select

from storage.db import Database
from storage.events import places
from storage.events.audience import REACHABLE, registrants
from storage.events.models import (
    Event,
    EventDocument,
    EventStage,
    EventState,
    Registration,
    RegistrationState,
    Workshop,
)
from storage.events.places import Outcome
from storage.events.store import TAKING_PLACE, key_prefix
from storage.models import Contact, OutboxMessage, OutboxState
from storage.outbox import NewMessage, add_messages
from storage.upsert import insert_for


class Audience(enum.StrEnum):
    REGISTERED = "registered"
    SUBSCRIBERS_UNREGISTERED = "subscribers_unregistered"
    SUBSCRIBERS_UNINVITED = "subscribers_uninvited"  # ... and never sent an invitation
    NOBODY = "nobody"  # the builder writes to chats of its own (coordinators)


@dataclass(frozen=True, slots=True)
class DocRef:
    id: int
    title: str
    version: int


@dataclass(frozen=True, slots=True)
class Result:
    outcome: Outcome
    event: Event | None = None
    registration: Registration | None = None
    waitlist_position: int = 0


# (event, registration, its contact, the event's documents) → messages to enqueue with it
OnPlace = Callable[[Event, Registration, Contact, list[DocRef]], list[NewMessage]]


class RegistrationStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def register(
        self,
        event_id: int,
        contact_id: int,
        workshop_id: int | None,
        now: datetime,
        on_place: OnPlace,
    ) -> Result:
        """Register the contact, on the waitlist when the event or the workshop is full.

        `on_place` builds what a new registrant receives at once (the documents, if they
        went out already), enqueued in the same transaction.
        """

        def work(session: Session) -> Result:
            event = places.lock_event(session, event_id)
            if event is None:
                return Result(Outcome.UNKNOWN)
            refusal = places.refusal(event, now)
            if refusal is not None:
                return Result(refusal, event)
            existing = session.exec(
                select(Registration).where(
                    Registration.event_id == event_id, Registration.contact_id == contact_id
                )
            ).first()
            if existing is not None and existing.state in TAKING_PLACE:
                return Result(Outcome.ALREADY, event, existing, places.position(session, existing))
            registration = existing or Registration(
                event_id=event_id, contact_id=contact_id, code=places.new_code(session, event_id)
            )
            registration.workshop_id = workshop_id
            registration.created_at = registration.created_at or now
            registration.updated_at = now
            fits = places.fits(session, event, workshop_id)
            registration.state = (
                RegistrationState.REGISTERED if fits else RegistrationState.WAITLISTED
            )
            session.add(registration)
            session.flush()
            if not fits:
                return Result(
                    Outcome.WAITLISTED, event, registration, places.position(session, registration)
                )
            _placed(session, event, registration, now, on_place)
            return Result(Outcome.REGISTERED, event, registration)

        return await self._db.run(work)

    async def cancel(
        self, event_id: int, contact_id: int, now: datetime, on_place: OnPlace
    ) -> tuple[Registration | None, Registration | None]:
        """Cancel the contact's registration; the place goes to the first person waiting
        whose workshop has room, told by what `on_place` builds.

        Returns:
            The cancelled registration (None if there was none) and the promoted one.
        """

        def work(session: Session) -> tuple[Registration | None, Registration | None]:
            event = places.lock_event(session, event_id)
            registration = session.exec(
                select(Registration).where(
                    Registration.event_id == event_id, Registration.contact_id == contact_id
                )
            ).first()
            if event is None or registration is None or registration.state not in TAKING_PLACE:
                return None, None
            was_registered = registration.state == RegistrationState.REGISTERED
            registration.state = RegistrationState.CANCELLED
            registration.updated_at = now
            session.add(registration)
            session.flush()
            promoted = None
            if was_registered and event.state != EventState.CANCELLED and event.starts_at > now:
                promoted = _promote(session, event, now, on_place)
            return registration, promoted

        return await self._db.run(work)

    async def list_for_contact(
        self, contact_id: int
    ) -> list[tuple[Registration, Event, Workshop | None]]:
        """The contact's registrations that still count, soonest event first."""
        query = (
            select(Registration, Event, Workshop)
            .join(Event, col(Event.id) == col(Registration.event_id))
            .outerjoin(Workshop, col(Workshop.id) == col(Registration.workshop_id))
            .where(
                col(Registration.contact_id) == contact_id,
                col(Registration.state).in_(TAKING_PLACE),
            )
            .order_by(col(Event.starts_at))
        )
        return await self._db.run(lambda session: [tuple(r) for r in session.exec(query).all()])  # type: ignore[misc]

    async def list_for_event(
        self, event_id: int
    ) -> list[tuple[Registration, Contact, Workshop | None]]:
        """Every registration of an event in the order they came in."""
        query = (
            select(Registration, Contact, Workshop)
            .join(Contact, col(Contact.id) == col(Registration.contact_id))
            .outerjoin(Workshop, col(Workshop.id) == col(Registration.workshop_id))
            .where(col(Registration.event_id) == event_id)
            .order_by(col(Registration.id))
        )
        return await self._db.run(lambda session: [tuple(r) for r in session.exec(query).all()])  # type: ignore[misc]

    async def fire_stage(
        self,
        event_id: int,
        stage: str,
        audience: Audience,
        build: Callable[[list[tuple[Contact, Registration | None]]], list[NewMessage]],
        now: datetime,
    ) -> int | None:
        """Enqueue one stage of an event for its audience, once: the stage is recorded with
        its messages in one transaction.

        Returns:
            How many messages were new; None if the stage had been done already.
        """

        return await self._db.run(
            lambda session: record_stage(
                session,
                event_id,
                stage,
                lambda: build(_audience(session, event_id, audience)),
                now,
            )
        )


def record_stage(
    session: Session,
    event_id: int,
    stage: str,
    messages: Callable[[], list[NewMessage]],
    now: datetime,
) -> int | None:
    """Record `stage` of an event as done and enqueue its `messages()`, in the caller's
    transaction; None (and nothing built) when the stage had been done already. Events'
    reminders and their surveys both go through here."""
    recorded = session.exec(
        insert_for(session, EventStage)
        .values(event_id=event_id, stage=stage, done_at=now, messages=0)
        .on_conflict_do_nothing(index_elements=["event_id", "stage"])
        .returning(col(EventStage.stage))
    ).first()
    if recorded is None:
        return None
    added = add_messages(session, messages(), now)
    row = session.get(EventStage, (event_id, stage))
    assert row is not None
    row.messages = added
    session.add(row)
    return added


def _audience(
    session: Session, event_id: int, audience: Audience
) -> list[tuple[Contact, Registration | None]]:
    if audience == Audience.NOBODY:
        return []
    if audience == Audience.REGISTERED:
        return registrants(session, event_id, (RegistrationState.REGISTERED,))
    registered = exists().where(  # ever: who cancelled needs no reminder to register
        col(Registration.event_id) == event_id,
        col(Registration.contact_id) == col(Contact.id),
    )
    query = select(Contact).where(*REACHABLE, col(Contact.subscribed), ~registered)
    if audience == Audience.SUBSCRIBERS_UNINVITED:
        invited = exists().where(
            col(OutboxMessage.contact_id) == col(Contact.id),
            col(OutboxMessage.idempotency_key).like(f"{key_prefix(event_id)}s%:invite:%"),
            col(OutboxMessage.state) == OutboxState.SENT,
        )
        query = query.where(~invited)
    return [(c, None) for c in session.exec(query.order_by(col(Contact.id))).all()]


def _promote(
    session: Session, event: Event, now: datetime, on_place: OnPlace
) -> Registration | None:
    waiting = session.exec(
        select(Registration)
        .where(
            col(Registration.event_id) == event.id,
            col(Registration.state) == RegistrationState.WAITLISTED,
        )
        .order_by(col(Registration.updated_at), col(Registration.id))
    ).all()
    for candidate in waiting:
        if places.fits(session, event, candidate.workshop_id):
            candidate.state = RegistrationState.REGISTERED
            candidate.updated_at = now
            session.add(candidate)
            session.flush()
            _placed(session, event, candidate, now, on_place)
            return candidate
    return None


def _placed(
    session: Session, event: Event, registration: Registration, now: datetime, on_place: OnPlace
) -> None:
    contact = session.get(Contact, registration.contact_id)
    if contact is None:
        return
    documents = [
        DocRef(i, t, v)
        for i, t, v in session.exec(
            select(EventDocument.id, EventDocument.title, EventDocument.version)
            .where(col(EventDocument.event_id) == event.id)
            .order_by(col(EventDocument.id))
        ).all()
        if i is not None
    ]
    add_messages(session, on_place(event, registration, contact, documents), now)
