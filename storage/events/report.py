"""The events of a report year with their registrations per workshop (storage.report)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func
from sqlalchemy import select as core_select
from sqlmodel import Session, col, select

from storage.events.models import Event, Registration, Workshop


def count_by(session: Session, *columns: Any, where: Any) -> dict[Any, int]:
    query = core_select(*columns, func.count()).where(where).group_by(*columns)
    counts: dict[Any, int] = {}
    for row in session.execute(query).all():
        key = tuple(str(v) for v in row[:-1])
        counts[key if len(key) > 1 else key[0]] = int(row[-1])
    return counts


@dataclass(frozen=True, slots=True)
class WorkshopFigures:
    title: str
    field_key: str | None
    capacity: int | None
    registered: int
    waitlisted: int
    cancelled: int


@dataclass(frozen=True, slots=True)
class EventFigures:
    title: str
    starts_at: datetime
    place: str
    state: str
    capacity: int | None
    registered: int
    waitlisted: int
    cancelled: int
    workshops: list[WorkshopFigures]


def year_events(session: Session, start: datetime, end: datetime) -> list[EventFigures]:
    events = session.exec(
        select(Event)
        .where(col(Event.starts_at) >= start, col(Event.starts_at) < end)
        .order_by(col(Event.starts_at))
    ).all()
    if not events:
        return []
    ids = [e.id for e in events]
    by_workshop = count_by(
        session,
        Registration.event_id,
        Registration.workshop_id,
        Registration.state,
        where=col(Registration.event_id).in_(ids),
    )
    workshops = session.exec(
        select(Workshop)
        .where(col(Workshop.event_id).in_(ids))
        .order_by(col(Workshop.position), col(Workshop.id))
    ).all()
    figures = []
    for event in events:
        mine = {k: n for k, n in by_workshop.items() if k[0] == str(event.id)}

        def count(state: str, workshop: str | None = None, counts: dict[Any, int] = mine) -> int:
            return sum(
                n for (_, w, s), n in counts.items() if s == state and workshop in (None, w)
            )

        figures.append(
            EventFigures(
                event.title,
                event.starts_at,
                event.place,
                event.state,
                event.capacity,
                count("registered"),
                count("waitlisted"),
                count("cancelled"),
                [
                    WorkshopFigures(
                        w.title,
                        w.field_key,
                        w.capacity,
                        count("registered", str(w.id)),
                        count("waitlisted", str(w.id)),
                        count("cancelled", str(w.id)),
                    )
                    for w in workshops
                    if w.event_id == event.id
                ],
            )
        )
    return figures
