"""A plausible year of residents' feedback, for demonstrations and benchmarks.

A report, `/pending` or `/outcomes` can only be judged on data that looks like a real year:
more items before the autumn round table, answers mostly in time and sometimes late,
recommendations with the working group's public reasons, a round table with full and
overbooked workshops. Rows come from a fixed seed and are written in bulk in one transaction
(`storage.demo`), so 100,000 items take seconds rather than the hours the handlers would need
message by message. Fields of action and working groups are read from the database, as the
configuration left them. The rows are drawn in `bot.demo.items` and `bot.demo.events`; this
module draws the residents and puts the year together.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

from bot.demo.events import WORKSHOP_CAPACITY, event_plans, registration_rows
from bot.demo.items import creation_times, item_with_history
from bot.demo.texts import POOLS
from storage.db import Database
from storage.demo import DemoWriter, write_demo
from storage.events.models import EventState
from storage.items.feedback import format_reference

CHUNK = 5_000  # items per INSERT; their history goes in before the next chunk is built
LANGUAGES = {"de": 55, "en": 8, "tr": 12, "ar": 12, "uk": 8, "ru": 4, "de_simple": 1}
FIELD_WEIGHTS = {"bildung": 24, "arbeit": 18, "wohnen": 20, "gesundheit": 12, "antirassismus": 10}


@dataclass(frozen=True, slots=True)
class DemoSummary:
    contacts: int
    items: int
    history: int
    events: int
    workshops: int
    registrations: int


async def seed_demo(
    db: Database,
    *,
    year: int,
    items: int,
    now: datetime,
    seed: int = 7,
    zone: tzinfo | None = None,
) -> DemoSummary:
    """Add about items/3 residents, `items` items of `year` created up to `now` with their
    history, and the year's round table and spring event with registrations. The same seed
    gives the same rows; event times are local to `zone` (default Europe/Berlin).

    Raises:
        ValueError: `now` lies before `year`, or the database has no fields or groups yet.
    """
    start = datetime(year, 1, 1, tzinfo=UTC)
    end = min(now, datetime(year, 12, 31, 22, tzinfo=UTC))  # still `year` in Europe
    if end <= start:
        raise ValueError(f"{now.isoformat()} lies before {year}: nothing to seed")
    local = zone or ZoneInfo("Europe/Berlin")

    def fill(writer: DemoWriter) -> DemoSummary:
        return _Seeder(writer, random.Random(seed), year, start, end, local).run(items)

    return await write_demo(db, fill)


@dataclass
class _Seeder:
    """One seeding run inside one transaction; `end` is the `now` every item is told up to."""

    writer: DemoWriter
    rng: random.Random
    year: int
    start: datetime
    end: datetime
    zone: tzinfo

    def run(self, n: int) -> DemoSummary:
        writer, rng = self.writer, self.rng
        basis = writer.get_basis(self.year)
        names, groups, owners = basis.fields, basis.groups, basis.owners
        if not names or not groups:
            raise ValueError("no fields of action or working groups yet: start the bot once")
        default = next((k for k, g in groups.items() if g.is_default), min(groups))
        created = sorted(creation_times(rng, self.start, self.end, n))
        fields = rng.choices(list(names), [FIELD_WEIGHTS.get(k, 10) for k in names], k=n)
        people = max(1, n // 3)
        authors = [int(people * rng.random() ** 1.6) for _ in range(n)]  # a few write a lot
        contact_ids, contacts = self._contacts(people, created, authors, basis.last_contact_id)
        last = basis.last_reference
        history = 0
        for first in range(0, n, CHUNK):
            rows, stories = [], []
            for i in range(first, min(first + CHUNK, n)):
                group = groups[owners.get(fields[i], default)]
                row, story = item_with_history(
                    rng, self.end, created[i], fields[i], group, names[fields[i]]
                )
                contact = contacts[authors[i]]
                row.update(
                    reference=format_reference(self.year, last + i + 1),
                    contact_id=contact_ids[authors[i]],
                    language=contact["language"],
                    platform=contact["platform"],
                )
                rows.append(row)
                stories.append(story)
            ids = writer.add_items(rows)
            changes = [{**c, "item_id": i} for i, s in zip(ids, stories, strict=True) for c in s]
            writer.add_history(changes)
            history += len(changes)
        writer.set_last_reference(self.year, last + n)
        return DemoSummary(people, n, history, *self._events(names, contact_ids))

    def _contacts(
        self, people: int, created: list[datetime], authors: list[int], base: int
    ) -> tuple[list[int], list[dict[str, Any]]]:
        """Insert the residents, each first seen shortly before their first item; user ids
        count on from `base`, the highest contact id so far, so they are unique."""
        rng, start, end = self.rng, self.start, self.end
        seen: dict[int, list[datetime]] = {}
        for at, who in zip(created, authors, strict=True):
            seen.setdefault(who, [at, at])[1] = at
        rows = []
        for i in range(people):
            first, latest = seen.get(i) or [start + (end - start) * rng.random()] * 2
            joined = max(start, first - timedelta(minutes=rng.uniform(1, 30)))
            language = rng.choices(list(LANGUAGES), list(LANGUAGES.values()))[0]
            matrix = rng.random() < 0.3
            user = f"@demo-{base + i + 1}:example.org" if matrix else f"demo-{base + i + 1}"
            rows.append(
                {"platform": "matrix" if matrix else "telegram", "user_id": user, "chat_id": user,
                 "display_name": rng.choice(POOLS[f"name.{language}"]), "language": language,
                 "consent_at": joined, "subscribed": rng.random() < 0.35, "created_at": joined,
                 "last_seen_at": latest}
            )  # fmt: skip
        return self.writer.add_contacts(rows), rows

    def _events(self, names: dict[str, str], contact_ids: list[int]) -> tuple[int, int, int]:
        """The round table with a "Lokaltermin" per field, and a spring event without; returns
        (events, workshops, registrations). A year that has its round table is left alone."""
        rng, year = self.rng, self.year
        if self.writer.get_event_id(f"rt{year}") is not None:
            return 0, 0, 0
        plans = event_plans(rng, year, names)
        workshops = registrations = 0
        for slug, title, day, (begin, finish), place, capacity, fields in plans:
            starts = datetime.combine(day, time(begin), self.zone).astimezone(UTC)
            opens, deadline = starts - timedelta(weeks=8), starts - timedelta(days=5)
            done = starts + timedelta(hours=8) < self.end
            [event_id] = self.writer.add_events([{
                "slug": slug, "title": title, "description": "", "place": place,
                "starts_at": starts, "ends_at": starts + timedelta(hours=finish - begin),
                "registration_opens_at": opens, "registration_deadline": deadline,
                "capacity": capacity, "documents_lead_days": 14,
                "state": EventState.DONE if done else EventState.PLANNED,
                "created_at": opens - timedelta(days=14), "updated_at": opens - timedelta(days=14),
            }])  # fmt: skip
            ids = self.writer.add_workshops([
                {"event_id": event_id, "title": f"Lokaltermin: {names[key]}", "field_key": key,
                 "capacity": WORKSHOP_CAPACITY, "starts_at": starts + timedelta(hours=4),
                 "position": position}
                for position, key in enumerate(fields)
            ])  # fmt: skip
            weights = [FIELD_WEIGHTS.get(key, 10) for key in fields]
            wanted = rng.sample(contact_ids, min(150 if fields else 25, len(contact_ids)))
            window = (opens, min(deadline, self.end))
            rows = registration_rows(
                rng, event_id, dict(zip(ids, weights, strict=True)), capacity, window, wanted
            )
            self.writer.add_registrations(rows)
            workshops, registrations = workshops + len(ids), registrations + len(rows)
        return len(plans), workshops, registrations
