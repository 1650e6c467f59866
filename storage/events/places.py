"""Places at an event: whether a registration is still possible, who fits, the position on
the waitlist, and the short code a registrant shows at the door. Functions of a session,
run inside the caller's transaction (storage.events.registrations)."""

from __future__ import annotations

import enum
import secrets
from datetime import datetime

from sqlalchemy import func
from sqlmodel import Session, col, select

from storage.events.models import Event, EventState, Registration, RegistrationState, Workshop

CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read aloud at the door


class Outcome(enum.StrEnum):
    REGISTERED = "registered"
    WAITLISTED = "waitlisted"
    ALREADY = "already"
    UNKNOWN = "unknown"
    CANCELLED_EVENT = "cancelled_event"
    NOT_OPEN = "not_open"
    CLOSED = "closed"  # past the registration deadline
    PAST = "past"


def lock_event(session: Session, event_id: int) -> Event | None:
    """The event, locked on PostgreSQL so that its places are counted one at a time."""
    return session.exec(select(Event).where(col(Event.id) == event_id).with_for_update()).first()


def refusal(event: Event, now: datetime) -> Outcome | None:
    if event.state == EventState.CANCELLED:
        return Outcome.CANCELLED_EVENT
    if event.state == EventState.DONE or event.starts_at <= now:
        return Outcome.PAST
    if now < event.registration_opens_at:
        return Outcome.NOT_OPEN
    if now > event.registration_deadline:
        return Outcome.CLOSED
    return None


def taken(session: Session, event_id: int, workshop_id: int | None = None) -> int:
    query = select(func.count()).where(
        col(Registration.event_id) == event_id,
        col(Registration.state) == RegistrationState.REGISTERED,
    )
    if workshop_id is not None:
        query = query.where(col(Registration.workshop_id) == workshop_id)
    return int(session.exec(query).one())


def fits(session: Session, event: Event, workshop_id: int | None) -> bool:
    assert event.id is not None
    if event.capacity is not None and taken(session, event.id) >= event.capacity:
        return False
    if workshop_id is None:
        return True
    workshop = session.get(Workshop, workshop_id)
    if workshop is None or workshop.capacity is None:
        return True
    return taken(session, event.id, workshop_id) < workshop.capacity


def position(session: Session, registration: Registration) -> int:
    if registration.state != RegistrationState.WAITLISTED:
        return 0
    ahead = select(func.count()).where(
        col(Registration.event_id) == registration.event_id,
        col(Registration.state) == RegistrationState.WAITLISTED,
        col(Registration.updated_at) <= registration.updated_at,
        col(Registration.id) <= registration.id,
    )
    return int(session.exec(ahead).one())


def new_code(session: Session, event_id: int) -> str:
    while True:
        code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(6))
        taken = session.exec(
            select(Registration.id).where(
                Registration.event_id == event_id, Registration.code == code
            )
        ).first()
        if taken is None:
            return code
