"""The survey after an event: who is asked, their answers, and the results per event and
workshop.

The planner (handlers.asking.surveys) records each step of an event's survey as a stage of
the event (`EventStage`, "survey:s2", ...), with its messages in the same transaction, as the
event's own planner does; the stages carry the event's schedule version, so that a
postponed event is surveyed after its new date. Answers count once per person: a person
linked on two platforms (/link) has one answer, whichever contact gave it.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, col, select

from storage.asking_models import SurveyAnswer
from storage.db import Database
from storage.events.audience import registrants
from storage.events.models import (
    Event,
    EventStage,
    EventState,
    Registration,
    RegistrationState,
    Workshop,
)
from storage.events.registrations import record_stage
from storage.models import Contact
from storage.outbox import NewMessage
from storage.people import PERSON, linked_ids, one_per_person, person_of, persons_of

STAGE_PREFIX = "survey"
RATINGS = 5  # answers are 1..RATINGS


class SurveyAudience(enum.StrEnum):
    REGISTERED = "registered"  # everyone registered (not cancelled, not waiting)
    UNANSWERED = "unanswered"  # ... who has not answered yet
    NOBODY = "nobody"  # the builder writes to chats of its own (the working groups')


@dataclass(frozen=True, slots=True)
class Ratings:
    """How many people chose each rating: `counts[0]` the 1s, `counts[4]` the 5s."""

    counts: tuple[int, ...] = (0,) * RATINGS

    @property
    def total(self) -> int:
        return sum(self.counts)

    @property
    def average(self) -> float | None:
        if not self.total:
            return None
        return sum((i + 1) * n for i, n in enumerate(self.counts)) / self.total


@dataclass(frozen=True, slots=True)
class WorkshopResults:
    workshop_id: int
    title: str
    field_key: str | None
    participants: int  # people registered for it
    ratings: Ratings


@dataclass(frozen=True, slots=True)
class SurveyResults:
    """An event's survey as it stands: people asked (registered), people who answered."""

    event: Event
    participants: int
    answered: int
    ratings: Ratings  # of the event
    workshops: list[WorkshopResults]


@dataclass(frozen=True, slots=True)
class Participation:
    """A person's place at an event: the registration and its workshop."""

    registration: Registration
    workshop: Workshop | None


Recipients = list[tuple[Contact, Registration | None]]


class SurveyStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def plan_view(self, since: datetime) -> list[tuple[Event, dict[str, datetime]]]:
        """Events not cancelled that end after `since`, each with its survey stages done."""

        def work(session: Session) -> list[tuple[Event, dict[str, datetime]]]:
            events = session.exec(
                select(Event)
                .where(col(Event.state) != EventState.CANCELLED, col(Event.ends_at) > since)
                .order_by(col(Event.ends_at), col(Event.id))
            ).all()
            ids = [e.id for e in events if e.id is not None]
            done: dict[int, dict[str, datetime]] = {i: {} for i in ids}
            if ids:
                for event_id, stage, at in session.exec(
                    select(EventStage.event_id, EventStage.stage, EventStage.done_at).where(
                        col(EventStage.event_id).in_(ids),
                        col(EventStage.stage).startswith(STAGE_PREFIX),
                    )
                ).all():
                    done[event_id][stage] = at
            return [(e, done[e.id]) for e in events if e.id is not None]

        return await self._db.run(work)

    async def fire_stage(
        self,
        event_id: int,
        stage: str,
        audience: SurveyAudience,
        build: Callable[[Recipients], list[NewMessage]],
        now: datetime,
    ) -> int | None:
        """Enqueue one step of an event's survey for its audience, once: the stage is
        recorded with its messages in one transaction.

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

    async def get_participation(self, event_id: int, contact_id: int) -> Participation | None:
        """The person's registration for the event (on any of their linked contacts), if
        they were registered; None for someone who cancelled, waited or never registered."""

        def work(session: Session) -> Participation | None:
            ids = linked_ids(session, contact_id)
            found = session.exec(
                select(Registration, Workshop)
                .outerjoin(Workshop, col(Workshop.id) == col(Registration.workshop_id))
                .where(
                    col(Registration.event_id) == event_id,
                    col(Registration.contact_id).in_(ids),
                    col(Registration.state) == RegistrationState.REGISTERED,
                )
                .order_by(col(Registration.id))
            ).first()
            return Participation(found[0], found[1]) if found is not None else None

        return await self._db.run(work)

    async def get_answer(self, event_id: int, contact_id: int) -> SurveyAnswer | None:
        """The person's answer (given on any of their linked contacts)."""

        def work(session: Session) -> SurveyAnswer | None:
            return _person_answer(session, event_id, linked_ids(session, contact_id))

        return await self._db.run(work)

    async def set_answer(
        self,
        event_id: int,
        contact_id: int,
        now: datetime,
        *,
        event_rating: int | None = None,
        workshop: tuple[int, int] | None = None,
    ) -> SurveyAnswer:
        """Set the person's rating of the event, or of their workshop (its id and the
        rating), replacing an earlier one: one answer per person, whichever of their linked
        contacts gives it."""

        def work(session: Session) -> SurveyAnswer:
            ids = linked_ids(session, contact_id)
            answer = _person_answer(session, event_id, ids)
            if answer is None:
                answer = SurveyAnswer(
                    event_id=event_id, contact_id=contact_id, created_at=now, updated_at=now
                )
            if event_rating is not None:
                answer.event_rating = event_rating
            if workshop is not None:
                answer.workshop_id, answer.workshop_rating = workshop
            answer.contact_id = contact_id
            answer.updated_at = now
            session.add(answer)
            session.flush()
            return answer

        return await self._db.run(work)

    async def results(self, event_id: int) -> SurveyResults | None:
        def work(session: Session) -> SurveyResults | None:
            event = session.get(Event, event_id)
            return _results(session, event) if event is not None else None

        return await self._db.run(work)

    async def list_results(self, start: datetime, end: datetime) -> list[SurveyResults]:
        """The surveys of the events not cancelled that ended in [start, end)."""
        return await self._db.run(lambda session: surveys_between(session, start, end))


def surveys_between(session: Session, start: datetime, end: datetime) -> list[SurveyResults]:
    """The results of the events not cancelled that ended in [start, end) and have at least
    one answer or one participant, soonest first (also for storage.report)."""
    events = session.exec(
        select(Event)
        .where(
            col(Event.state) != EventState.CANCELLED,
            col(Event.ends_at) >= start,
            col(Event.ends_at) < end,
        )
        .order_by(col(Event.ends_at), col(Event.id))
    ).all()
    found = [_results(session, event) for event in events]
    return [r for r in found if r.answered or r.participants]


def _person_answer(session: Session, event_id: int, ids: Sequence[int]) -> SurveyAnswer | None:
    """The answer of the person with the contacts `ids`; another answer of theirs (given
    before two of their contacts were linked) is merged into it and removed."""
    answers = list(
        session.exec(
            select(SurveyAnswer)
            .where(col(SurveyAnswer.event_id) == event_id, col(SurveyAnswer.contact_id).in_(ids))
            .order_by(col(SurveyAnswer.updated_at).desc(), col(SurveyAnswer.id).desc())
        ).all()
    )
    if not answers:
        return None
    kept, *older = answers
    for other in older:
        kept.event_rating = kept.event_rating or other.event_rating
        if kept.workshop_rating is None:
            kept.workshop_id, kept.workshop_rating = other.workshop_id, other.workshop_rating
        session.delete(other)
    if older:
        session.flush()  # before the kept row takes over a deleted one's contact
    return kept


def _audience(session: Session, event_id: int, audience: SurveyAudience) -> Recipients:
    if audience == SurveyAudience.NOBODY:
        return []
    people = registrants(session, event_id, (RegistrationState.REGISTERED,))
    if audience == SurveyAudience.UNANSWERED:
        answered = set(_answers_by_person(session, event_id))
        people = [(c, r) for c, r in people if person_of(c) not in answered]
    registration = {c.id: r for c, r in people}
    return [(c, registration[c.id]) for c in one_per_person(c for c, _ in people)]


def _answers_by_person(session: Session, event_id: int) -> dict[int, SurveyAnswer]:
    """Each person's latest answer; an answer whose contact was erased counts on its own."""
    answers = session.exec(
        select(SurveyAnswer)
        .where(col(SurveyAnswer.event_id) == event_id)
        .order_by(col(SurveyAnswer.updated_at), col(SurveyAnswer.id))
    ).all()
    persons = persons_of(session, (a.contact_id for a in answers))
    latest: dict[int, SurveyAnswer] = {}
    for answer in answers:
        # Erased contacts' answers are anonymous: a key of their own, below every person's.
        person = persons.get(answer.contact_id or 0, -(answer.id or 0))
        latest[person] = answer
    return latest


def _results(session: Session, event: Event) -> SurveyResults:
    assert event.id is not None
    registered = session.exec(
        select(PERSON, Registration.workshop_id)
        .join(Registration, col(Registration.contact_id) == col(Contact.id))
        .where(
            col(Registration.event_id) == event.id,
            col(Registration.state) == RegistrationState.REGISTERED,
        )
    ).all()
    answers = list(_answers_by_person(session, event.id).values())
    workshops = session.exec(
        select(Workshop)
        .where(col(Workshop.event_id) == event.id)
        .order_by(col(Workshop.position), col(Workshop.id))
    ).all()
    per_workshop: list[WorkshopResults] = []
    for workshop in workshops:
        people = {person for person, workshop_id in registered if workshop_id == workshop.id}
        ratings = [
            a.workshop_rating
            for a in answers
            if a.workshop_id == workshop.id and a.workshop_rating is not None
        ]
        per_workshop.append(
            WorkshopResults(
                workshop.id or 0,
                workshop.title,
                workshop.field_key,
                len(people),
                _count(ratings),
            )
        )
    return SurveyResults(
        event=event,
        participants=len({person for person, _ in registered}),
        answered=sum(
            1 for a in answers if a.event_rating is not None or a.workshop_rating is not None
        ),
        ratings=_count([a.event_rating for a in answers if a.event_rating is not None]),
        workshops=per_workshop,
    )


def _count(ratings: Sequence[int]) -> Ratings:
    counts = [0] * RATINGS
    for rating in ratings:
        if 1 <= rating <= RATINGS:
            counts[rating - 1] += 1
    return Ratings(tuple(counts))
