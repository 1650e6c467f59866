"""Events, their workshops and documents: what administrators set up, and what a planner
tick reads (the active events with the stages already enqueued, in two queries)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, update
from sqlalchemy import select as columns
from sqlmodel import Session, col, select

from storage.db import Database
from storage.events.audience import registrants
from storage.events.documents import EventDocuments
from storage.events.models import (
    Event,
    EventDocument,
    EventStage,
    EventState,
    Registration,
    RegistrationState,
    Workshop,
)
from storage.models import OutboxMessage
from storage.outbox import WAITING, NewMessage, add_messages

ACTIVE = (EventState.PLANNED, EventState.POSTPONED)
TAKING_PLACE = (RegistrationState.REGISTERED, RegistrationState.WAITLISTED)


def key_prefix(event_id: int) -> str:
    """Every outbox key about an event starts with this."""
    return f"ev{event_id}:"


def schedule_prefix(event_id: int, version: int) -> str:
    """Keys of messages bound to one schedule (a date) of the event."""
    return f"ev{event_id}:s{version}:"


@dataclass(frozen=True, slots=True)
class EventOverview:
    event: Event
    registered: int
    waitlisted: int
    documents: int


@dataclass(frozen=True, slots=True)
class WorkshopPlaces:
    workshop: Workshop
    taken: int

    @property
    def left(self) -> int | None:
        if self.workshop.capacity is None:
            return None
        return max(0, self.workshop.capacity - self.taken)


@dataclass(frozen=True, slots=True)
class PlanView:
    """What a tick needs: active events, their stages done, and their document state."""

    events: list[Event]
    stages: dict[int, dict[str, datetime]]  # event id → stage → done at
    documents: dict[int, list[tuple[int, int, datetime, str]]]  # id, version, changed, title


class EventStore(EventDocuments):
    def __init__(self, db: Database) -> None:
        self._db = db

    # ---- events ------------------------------------------------------------------------

    async def add_event(self, event: Event, workshops: Sequence[Workshop] = ()) -> Event:
        def work(session: Session) -> Event:
            session.add(event)
            session.flush()
            for position, workshop in enumerate(workshops):
                workshop.event_id = event.id  # type: ignore[assignment]
                workshop.position = position
                session.add(workshop)
            return event

        return await self._db.run(work)

    async def set_event(self, event_id: int, now: datetime, **values: Any) -> None:
        """Change fields of an event (not its schedule: see `postpone`)."""
        statement = update(Event).where(col(Event.id) == event_id).values(updated_at=now, **values)
        await self._db.run(lambda session: session.exec(statement))

    async def add_workshop(self, workshop: Workshop) -> Workshop:
        def work(session: Session) -> Workshop:
            count = session.exec(
                select(func.count()).where(col(Workshop.event_id) == workshop.event_id)
            ).one()
            workshop.position = int(count)
            session.add(workshop)
            session.flush()
            return workshop

        return await self._db.run(work)

    async def get_event(self, ident: str | int) -> Event | None:
        """An event by id or slug."""
        text = str(ident).strip()

        def work(session: Session) -> Event | None:
            if text.isdigit():
                return session.get(Event, int(text))
            return session.exec(select(Event).where(col(Event.slug) == text.lower())).first()

        return await self._db.run(work)

    async def list_events(self, *, since: datetime | None = None) -> list[Event]:
        """Events, soonest first; with `since`, only those ending after it."""
        query = select(Event).order_by(col(Event.starts_at), col(Event.id))
        if since is not None:
            query = query.where(col(Event.ends_at) > since)
        return await self._db.run(lambda session: list(session.exec(query).all()))

    async def list_open(self, now: datetime) -> list[Event]:
        """Events taking registrations at `now`."""
        query = (
            select(Event)
            .where(
                col(Event.state).in_(ACTIVE),
                col(Event.registration_opens_at) <= now,
                col(Event.registration_deadline) > now,
                col(Event.starts_at) > now,
            )
            .order_by(col(Event.starts_at))
        )
        return await self._db.run(lambda session: list(session.exec(query).all()))

    async def overview(self, event_ids: Sequence[int]) -> dict[int, EventOverview]:
        """Registration and document counts per event."""

        def work(session: Session) -> dict[int, EventOverview]:
            events = session.exec(select(Event).where(col(Event.id).in_(event_ids))).all()
            counts = session.exec(
                select(Registration.event_id, Registration.state, func.count())
                .where(col(Registration.event_id).in_(event_ids))
                .group_by(col(Registration.event_id), col(Registration.state))
            ).all()
            docs = dict(
                session.exec(
                    select(EventDocument.event_id, func.count())
                    .where(col(EventDocument.event_id).in_(event_ids))
                    .group_by(col(EventDocument.event_id))
                ).all()
            )
            by: dict[tuple[int, str], int] = {(e, s): int(n) for e, s, n in counts}
            return {
                e.id: EventOverview(
                    e,
                    by.get((e.id, RegistrationState.REGISTERED), 0),
                    by.get((e.id, RegistrationState.WAITLISTED), 0),
                    int(docs.get(e.id, 0)),
                )
                for e in events
                if e.id is not None
            }

        return await self._db.run(work)

    async def list_workshops(self, event_id: int) -> list[WorkshopPlaces]:
        """The event's workshops in order, each with the places taken."""

        def work(session: Session) -> list[WorkshopPlaces]:
            workshops = session.exec(
                select(Workshop)
                .where(col(Workshop.event_id) == event_id)
                .order_by(col(Workshop.position), col(Workshop.id))
            ).all()
            taken = dict(
                session.exec(
                    select(Registration.workshop_id, func.count())
                    .where(
                        col(Registration.event_id) == event_id,
                        col(Registration.state) == RegistrationState.REGISTERED,
                    )
                    .group_by(col(Registration.workshop_id))
                ).all()
            )
            return [WorkshopPlaces(w, int(taken.get(w.id, 0))) for w in workshops]

        return await self._db.run(work)

    # ---- schedule changes ---------------------------------------------------------------

    async def change_schedule(
        self,
        event_id: int,
        now: datetime,
        values: dict[str, Any],
        notify: Callable[[Event, list[Any]], list[NewMessage]],
    ) -> tuple[Event, int] | None:
        """Postpone or cancel: change the event, skip every waiting message of its earlier
        schedules (a reminder for the old date is never sent), and enqueue the notices
        `notify` builds for the people registered, all in one transaction.

        Returns:
            The changed event and how many waiting messages were skipped; None if unknown.
        """

        def work(session: Session) -> tuple[Event, int] | None:
            event = session.get(Event, event_id)
            if event is None:
                return None
            event.schedule_version += 1
            for name, value in values.items():
                setattr(event, name, value)
            event.updated_at = now
            session.add(event)
            session.flush()
            current = schedule_prefix(event_id, event.schedule_version)
            waiting = col(OutboxMessage.state).in_(WAITING)
            stale = [
                col(OutboxMessage.idempotency_key).startswith(f"ev{event_id}:s"),
                ~col(OutboxMessage.idempotency_key).startswith(current),
            ]
            if event.state == EventState.CANCELLED:  # documents too: nothing more goes out
                stale = [col(OutboxMessage.idempotency_key).startswith(key_prefix(event_id))]
            skipped = session.exec(
                update(OutboxMessage)
                .where(waiting, *stale)
                .values(state="skipped", last_error="the event moved", claimed_until=None)
            )
            people = registrants(session, event_id, TAKING_PLACE)
            add_messages(session, notify(event, people), now)
            return event, skipped.rowcount

        return await self._db.run(work)

    # ---- documents ----------------------------------------------------------------------

    async def plan_view(self, now: datetime) -> PlanView:
        """The active events that have not ended, their stages done and their documents."""

        def work(session: Session) -> PlanView:
            events = list(
                session.exec(
                    select(Event).where(col(Event.state).in_(ACTIVE), col(Event.ends_at) > now)
                ).all()
            )
            ids = [e.id for e in events]
            stages: dict[int, dict[str, datetime]] = {i: {} for i in ids if i is not None}
            documents: dict[int, list[tuple[int, int, datetime, str]]] = {
                i: [] for i in ids if i is not None
            }
            if ids:
                for event_id, stage, done_at in session.exec(
                    select(EventStage.event_id, EventStage.stage, EventStage.done_at).where(
                        col(EventStage.event_id).in_(ids)
                    )
                ).all():
                    stages[event_id][stage] = done_at
                for event_id, doc_id, version, at, title in session.execute(
                    columns(
                        col(EventDocument.event_id),
                        col(EventDocument.id),
                        col(EventDocument.version),
                        col(EventDocument.updated_at),
                        col(EventDocument.title),
                    )
                    .where(col(EventDocument.event_id).in_(ids))
                    .order_by(col(EventDocument.id))
                ).all():
                    documents[event_id].append((doc_id, version, at, title))
            return PlanView(events, stages, documents)

        return await self._db.run(work)
