"""The demo year's events: the autumn round table with a workshop per field of action, a spring
event without, and the registrations that fill them (bot.demo.year writes them).

Every function draws from the run's `random.Random` only, so the same seed gives the same
events and registrations.
"""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta
from typing import Any, NamedTuple

from storage.events.models import RegistrationState
from storage.events.places import CODE_ALPHABET

R = RegistrationState
WORKSHOP_CAPACITY = 20


class EventPlan(NamedTuple):
    slug: str
    title: str
    day: date
    hours: tuple[int, int]  # (begin, finish), local
    place: str
    capacity: int
    fields: list[str]  # the fields of action with a workshop each


def event_plans(rng: random.Random, year: int, names: dict[str, str]) -> list[EventPlan]:
    """The round table on an autumn weekday with a "Lokaltermin" per field (`names`), and the
    spring event on a Friday."""
    autumn = [d for d in _days(date(year, 9, 21), 41) if d.weekday() < 5]
    spring = [d for d in _days(date(year, 4, 20), 21) if d.weekday() == 4]
    return [
        EventPlan(f"rt{year}", f"Runder Tisch Integration {year}", rng.choice(autumn), (10, 16),
                  "Rathaus, Großer Sitzungssaal", 120, list(names)),
        EventPlan(f"iw{year}", "Interkulturelle Woche: Auftakt", rng.choice(spring), (17, 20),
                  "Bürgerhaus Mitte", 80, []),
    ]  # fmt: skip


def registration_rows(
    rng: random.Random,
    event_id: int,
    workshops: dict[int, int],
    capacity: int,
    window: tuple[datetime, datetime],
    contact_ids: list[int],
) -> list[dict[str, Any]]:
    """Registrations in the order they came, a workshop each chosen by weight (id →
    weight): over a workshop's or the event's capacity they wait; some cancel."""
    opens, closes = window
    if closes <= opens:
        return []
    rows: list[dict[str, Any]] = []
    codes: set[str] = set()
    taken = dict.fromkeys(workshops, 0)
    times = sorted(opens + (closes - opens) * rng.random() for _ in contact_ids)
    for contact_id, at in zip(contact_ids, times, strict=True):
        workshop = rng.choices(list(workshops), list(workshops.values()))[0] if taken else None
        code = "".join(rng.choices(CODE_ALPHABET, k=6))
        while code in codes:
            code = "".join(rng.choices(CODE_ALPHABET, k=6))
        codes.add(code)
        registered = sum(r["state"] == R.REGISTERED for r in rows)
        full = registered >= capacity or taken.get(workshop or 0, 0) >= WORKSHOP_CAPACITY
        state, updated = (R.WAITLISTED if full else R.REGISTERED), at
        if rng.random() < 0.07:
            state, updated = R.CANCELLED, at + timedelta(days=rng.uniform(0, 3))
        elif workshop is not None and not full:
            taken[workshop] += 1
        rows.append(
            {"event_id": event_id, "contact_id": contact_id, "workshop_id": workshop,
             "state": state, "code": code, "created_at": at, "updated_at": updated}
        )  # fmt: skip
    return rows


def _days(first: date, count: int) -> list[date]:
    return [first + timedelta(days=d) for d in range(count)]
