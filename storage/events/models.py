"""The tables of events: the round table, its workshops ("Lokaltermine"), registrations,
documents, and what the planner has already queued. Times are aware UTC."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import Column, Index, LargeBinary, UniqueConstraint
from sqlmodel import Field, SQLModel

from storage.types import time_field as _time


class EventState(enum.StrEnum):
    PLANNED = "planned"
    POSTPONED = "postponed"  # moved to a new date; still takes place
    CANCELLED = "cancelled"
    DONE = "done"


class RegistrationState(enum.StrEnum):
    REGISTERED = "registered"
    WAITLISTED = "waitlisted"
    CANCELLED = "cancelled"


class Event(SQLModel, table=True):
    """A public event such as the yearly "Runder Tisch Integration". `schedule_version` grows
    with every postponement; messages about a date carry it in their idempotency key."""

    id: int | None = Field(default=None, primary_key=True)
    slug: str = Field(unique=True, max_length=64)
    title: str = Field(max_length=255)
    description: str = ""
    place: str = Field(default="", max_length=255)
    starts_at: datetime = _time()
    ends_at: datetime = _time()
    registration_opens_at: datetime = _time()
    registration_deadline: datetime = _time()
    capacity: int | None = None
    documents_lead_days: int = 14
    # The yearly round table: the year report is due a set number of days before it.
    round_table: bool = False
    state: str = Field(default=EventState.PLANNED, max_length=16)
    schedule_version: int = 1
    reason: str | None = None  # why it was postponed or cancelled
    created_at: datetime = _time()
    updated_at: datetime = _time()


class Workshop(SQLModel, table=True):
    """An afternoon workshop ("Lokaltermin") of an event, usually one per field of action."""

    id: int | None = Field(default=None, primary_key=True)
    event_id: int = Field(foreign_key="event.id", index=True)
    title: str = Field(max_length=255)
    field_key: str | None = Field(default=None, max_length=64)
    capacity: int | None = None
    starts_at: datetime | None = _time(nullable=True)
    position: int = 0


class Registration(SQLModel, table=True):
    __table_args__ = (
        UniqueConstraint("event_id", "contact_id", name="uq_registration_contact"),
        UniqueConstraint("event_id", "code", name="uq_registration_code"),
        Index("ix_registration_event_state", "event_id", "state", "id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    event_id: int = Field(foreign_key="event.id")
    contact_id: int = Field(foreign_key="contact.id", index=True)
    workshop_id: int | None = Field(default=None, foreign_key="workshop.id", index=True)
    state: str = Field(default=RegistrationState.REGISTERED, max_length=16)
    code: str = Field(max_length=16)
    created_at: datetime = _time()
    updated_at: datetime = _time()


class EventDocument(SQLModel, table=True):
    """A document participants receive before the event; replacing it raises `version`."""

    __tablename__ = "event_document"

    id: int | None = Field(default=None, primary_key=True)
    event_id: int = Field(foreign_key="event.id", index=True)
    title: str = Field(max_length=255)
    file_name: str = Field(max_length=255)
    mime_type: str = Field(max_length=128)
    size: int
    sha256: str = Field(max_length=64)
    version: int = 1
    data: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    created_at: datetime = _time()
    updated_at: datetime = _time()


class EventStage(SQLModel, table=True):
    """A planned step of an event that has been enqueued ("invite:s1", "docs", ...): the
    planner's record of what it did, so a tick need not look at every registration."""

    __tablename__ = "event_stage"

    event_id: int = Field(foreign_key="event.id", primary_key=True)
    stage: str = Field(primary_key=True, max_length=64)
    done_at: datetime = _time()
    messages: int = 0
