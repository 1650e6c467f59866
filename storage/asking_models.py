"""The tables of the city asking back: the answers to the survey after an event, and polls
with their answers and the steps their planner has taken. Times are aware UTC.

An answer belongs to a contact; `/forget` erases contacts, and their answers then stay as
anonymous counts (`ondelete="SET NULL"`), so that a published result does not change.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from storage.types import time_field as _time


class SurveyAnswer(SQLModel, table=True):
    """One person's answers to the survey after an event: how useful the event and their
    workshop were (1-5). One row per person: a linked contact's answer replaces it."""

    __tablename__ = "survey_answer"
    __table_args__ = (UniqueConstraint("event_id", "contact_id", name="uq_survey_answer"),)

    id: int | None = Field(default=None, primary_key=True)
    event_id: int = Field(foreign_key="event.id", index=True)
    contact_id: int | None = Field(
        default=None, foreign_key="contact.id", ondelete="SET NULL", index=True
    )
    event_rating: int | None = None
    workshop_id: int | None = Field(default=None, foreign_key="workshop.id")
    workshop_rating: int | None = None
    created_at: datetime = _time()
    updated_at: datetime = _time()


class Poll(SQLModel, table=True):
    """A question with 2-6 options to an audience, open from `opens_at` to `closes_at`.

    `texts` holds the question and the options per language: {"de": {"question": "...",
    "options": ["...", ...]}, "en": {...}}; German (the city's language) is always there,
    and every language has as many options. `audience` is "subscribers", "all" or
    "event:<slug>" (the registrants of that event)."""

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(unique=True, max_length=64)
    texts: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    audience: str = Field(max_length=80)
    opens_at: datetime = _time()
    closes_at: datetime = _time()
    created_at: datetime = _time()
    updated_at: datetime = _time()


class PollAnswer(SQLModel, table=True):
    """The option (0-based) a person chose; one row per person, changed until the close."""

    __tablename__ = "poll_answer"
    __table_args__ = (
        UniqueConstraint("poll_id", "contact_id", name="uq_poll_answer"),
        Index("ix_poll_answer_poll", "poll_id", "option"),
    )

    id: int | None = Field(default=None, primary_key=True)
    poll_id: int = Field(foreign_key="poll.id")
    contact_id: int | None = Field(
        default=None, foreign_key="contact.id", ondelete="SET NULL", index=True
    )
    option: int
    created_at: datetime = _time()
    updated_at: datetime = _time()


class PollStage(SQLModel, table=True):
    """A step of a poll that has been enqueued ("ask", "results"): done once."""

    __tablename__ = "poll_stage"

    poll_id: int = Field(foreign_key="poll.id", primary_key=True)
    stage: str = Field(primary_key=True, max_length=64)
    done_at: datetime = _time()
    messages: int = 0
