"""A plausible year of residents' feedback, for demonstrations and benchmarks.

A report, `/pending` or `/outcomes` can only be judged on data that looks like a real year:
more items before the autumn round table, answers mostly in time and sometimes late,
recommendations with the working group's public reasons, a round table with full and
overbooked workshops. Rows come from a fixed seed and are written with SQLAlchemy Core
executemany in one transaction, so 100,000 items take seconds rather than the hours the
handlers would need message by message. Fields of action and working groups are read from the
database, as the configuration left them.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, func, insert
from sqlmodel import Session, col, select

from bot.demo_texts import POOLS, pool
from storage.db import Database
from storage.event_models import Event, EventState, Registration, RegistrationState, Workshop
from storage.feedback import format_reference
from storage.models import (
    Contact,
    FeedbackItem,
    FieldOfAction,
    GroupField,
    ItemEvent,
    ItemKind,
    ItemState,
    ReferenceCounter,
    WorkingGroup,
)
from storage.places import CODE_ALPHABET
from storage.upsert import insert_for

S, K, R = ItemState, ItemKind, RegistrationState
CHUNK = 5_000  # items per INSERT; their history goes in before the next chunk is built
MONTHS = (5, 6, 8, 9, 10, 11, 10, 9, 12, 8, 6, 4)  # more in the months before autumn
HOURS = (1, 1, 1, 1, 1, 1, 2, 4, 6, 7, 7, 7, 8, 7, 6, 6, 7, 8, 9, 9, 8, 6, 4, 2)
LANGUAGES = {"de": 55, "en": 8, "tr": 12, "ar": 12, "uk": 8, "ru": 4, "de_simple": 1}
KINDS = {K.SUGGESTION: 35, K.CRITICISM: 25, K.QUESTION: 30, K.PRAISE: 10}
FIELD_WEIGHTS = {"bildung": 24, "arbeit": 18, "wohnen": 20, "gesundheit": 12, "antirassismus": 10}
# How an item with a first answer ends, by kind. A decision that would lie after `now` leaves
# the item answered or in progress, so recent items are rarely decided yet.
OUTCOMES = {
    K.SUGGESTION: {S.IMPLEMENTED: 22, S.DECLINED: 17, S.ANSWERED: 28, S.IN_PROGRESS: 20,
                   S.CLOSED: 13},
    K.CRITICISM: {S.ANSWERED: 40, S.IN_PROGRESS: 30, S.CLOSED: 30},
    K.QUESTION: {S.ANSWERED: 65, S.CLOSED: 30, S.IN_PROGRESS: 5},
    K.PRAISE: {S.ANSWERED: 40, S.CLOSED: 60},
}  # fmt: skip
TAKEN = (S.IN_PROGRESS, S.IMPLEMENTED, S.DECLINED)  # states in which a coordinator holds it
DECISION_DAYS = {K.SUGGESTION: 30}  # median days from answer to outcome; other kinds 8
OVERDUE_SHARE = 0.03  # of the items past their due date: nobody has answered them
WORKSHOP_CAPACITY = 20
# Statistics after the load: without them PostgreSQL plans the year report's recommendation
# query for empty tables (a nested loop that aggregates the history once per item), and the
# Markdown report of 100,000 items took 66 s instead of 2.4 s until autovacuum came round.
ANALYZED = ("contact", "feedback_item", "item_event", "registration")
SURNAMES = ("yilmaz", "schneider", "kovalenko", "haddad", "petrov", "nguyen", "demir")


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

    def work(session: Session) -> DemoSummary:
        return _Seeder(session, random.Random(seed), year, start, end, local).run(items)

    return await db.run(work)


@dataclass
class _Seeder:
    """One seeding run inside one transaction; `end` is the `now` every item is told up to."""

    session: Session
    rng: random.Random
    year: int
    start: datetime
    end: datetime
    zone: tzinfo

    @property
    def connection(self) -> Connection:
        """Core executemany: the session's ORM bulk insert would split the rows into one
        batch per combination of None columns, and splice RETURNING rows quadratically."""
        return self.session.connection()

    def run(self, n: int) -> DemoSummary:
        session, rng = self.session, self.rng
        query = select(FieldOfAction.key, FieldOfAction.name).order_by(col(FieldOfAction.position))
        names = dict(session.exec(query).all())
        groups = {g.key: g for g in session.exec(select(WorkingGroup)).all()}
        if not names or not groups:
            raise ValueError("no fields of action or working groups yet: start the bot once")
        owners = dict(session.exec(select(GroupField.field_key, GroupField.group_key)).all())
        default = next((k for k, g in groups.items() if g.is_default), min(groups))
        created = sorted(self._times(n))
        fields = rng.choices(list(names), [FIELD_WEIGHTS.get(k, 10) for k in names], k=n)
        people = max(1, n // 3)
        authors = [int(people * rng.random() ** 1.6) for _ in range(n)]  # a few write a lot
        contact_ids, contacts = self._contacts(people, created, authors)
        counter = select(ReferenceCounter.last).where(col(ReferenceCounter.year) == self.year)
        last = session.exec(counter).first() or 0
        history = 0
        for first in range(0, n, CHUNK):
            rows, stories = [], []
            for i in range(first, min(first + CHUNK, n)):
                group = groups[owners.get(fields[i], default)]
                row, story = self._item(created[i], fields[i], group, names[fields[i]])
                contact = contacts[authors[i]]
                row.update(
                    reference=format_reference(self.year, last + i + 1),
                    contact_id=contact_ids[authors[i]],
                    language=contact["language"],
                    platform=contact["platform"],
                )
                rows.append(row)
                stories.append(story)
            ids = self._insert(FeedbackItem, rows)
            changes = [{**c, "item_id": i} for i, s in zip(ids, stories, strict=True) for c in s]
            self.connection.execute(insert(ItemEvent), changes)
            history += len(changes)
        upsert = insert_for(session, ReferenceCounter).values(year=self.year, last=last + n)
        session.execute(
            upsert.on_conflict_do_update(index_elements=["year"], set_=upsert.excluded)
        )
        summary = DemoSummary(people, n, history, *self._events(names, contact_ids))
        for table in ANALYZED:  # a bulk load leaves the planner blind until autovacuum runs
            self.connection.exec_driver_sql(f"ANALYZE {table}")
        return summary

    def _insert(self, table: Any, rows: list[dict[str, Any]]) -> list[int]:
        """Insert in bulk and return the new ids in the order of `rows`."""
        returning = insert(table).returning(table.id, sort_by_parameter_order=True)
        return list(self.connection.execute(returning, rows).scalars()) if rows else []

    def _times(self, n: int) -> Iterator[datetime]:
        """Creation times: days weighted by MONTHS, hours by HOURS (residents write evenings)."""
        rng, start, end = self.rng, self.start, self.end
        days = [start + timedelta(days=d) for d in range((end - start).days + 1)]
        for day in rng.choices(days, [MONTHS[d.month - 1] for d in days], k=n):
            at = day + timedelta(
                hours=rng.choices(range(24), HOURS)[0], seconds=rng.random() * 3600
            )
            yield at if at < end else start + (end - start) * rng.random()

    def _contacts(
        self, people: int, created: list[datetime], authors: list[int]
    ) -> tuple[list[int], list[dict[str, Any]]]:
        """Insert the residents, each first seen shortly before their first item."""
        rng, start, end = self.rng, self.start, self.end
        seen: dict[int, list[datetime]] = {}
        for at, who in zip(created, authors, strict=True):
            seen.setdefault(who, [at, at])[1] = at
        base = self.session.exec(select(func.max(Contact.id))).first() or 0  # unique user ids
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
        return self._insert(Contact, rows), rows

    def _item(
        self, created: datetime, field: str, group: WorkingGroup, name: str
    ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """An item's row (without reference and author) and its history, by kind and age."""
        rng, now = self.rng, self.end
        kind = rng.choices(list(KINDS), list(KINDS.values()))[0]
        due = created + timedelta(days=group.answer_days)
        actor, actor_name = f"telegram:coord-{field}", f"Koordination {name.split()[0]}"
        story = [_change(created, "resident", "created", state=S.RECEIVED, group_key=group.key)]

        def change(at: datetime, action: str, state: str | None, text: str | None = None) -> None:
            story.append(_change(at, actor, action, actor_name=actor_name, state=state, text=text))

        state, answered = S.RECEIVED, None
        delay = timedelta(days=rng.lognormvariate(math.log(6), 0.8))  # median 6 days
        if now > due and rng.random() < OVERDUE_SHARE:
            pass  # nobody answered it: overdue
        elif created + delay <= now or now > due:  # past due: answered, late if need be
            late = created + delay > now
            answered = created + ((now - created) * rng.uniform(0.2, 0.95) if late else delay)
            state = S.ANSWERED
            change(answered, "reply", None, rng.choice(POOLS["reply"]))
            outcome = rng.choices(list(OUTCOMES[kind]), list(OUTCOMES[kind].values()))[0]
            at = answered + timedelta(days=rng.uniform(0.1, 5))
            if outcome in TAKEN and at <= now and rng.random() < 0.6:
                state = S.IN_PROGRESS
                change(at, "state", state)
            at += timedelta(days=rng.lognormvariate(math.log(DECISION_DAYS.get(kind, 8)), 0.6))
            if outcome in (S.IMPLEMENTED, S.DECLINED, S.CLOSED) and at <= now:
                state = outcome
                change(at, "state", state, self._reason(outcome, field))
        elif rng.random() < 0.3:  # young and not answered yet, but taken
            state = S.IN_PROGRESS
            change(created + (now - created) * rng.random(), "state", state)
        taken = state in TAKEN
        row = {
            "kind": kind, "field_key": field, "group_key": group.key, "state": state,
            "text": self._text(kind, field), "anonymous": rng.random() < 0.7,
            "assignee": actor if taken else None, "assignee_name": actor_name if taken else None,
            "answer_due_at": due, "first_answered_at": answered, "escalated_at": None,
            "created_at": created, "updated_at": story[-1]["at"],
        }  # fmt: skip
        return row, story

    def _reason(self, outcome: str, field: str) -> str | None:
        """The public reason: a decline always has one, an implementation says what changed."""
        if outcome == S.DECLINED:
            return self.rng.choice(POOLS["declined"])
        if outcome == S.IMPLEMENTED:
            return self.rng.choice(pool(field, "done") + POOLS["*.done"])
        return None

    def _text(self, kind: str, field: str) -> str:
        """Fragments of the field's vocabulary in a frame; 2 % give a phone number or address."""
        rng = self.rng
        parts = {key: rng.choice(pool(field, key)) for key in ("need", "seen", "ask", "good")}
        text = rng.choice(POOLS[f"frame.{kind}"]).format(**parts)
        if rng.random() < 0.4:
            text += " " + rng.choice(POOLS["closing"])
        if rng.random() >= 0.02:
            return text
        if rng.random() < 0.5:
            return f"{text} Sie erreichen mich unter 0171 {rng.randrange(10**6, 10**7)}."
        address = f"{rng.choice('aeklmos')}.{rng.choice(SURNAMES)}@example.org"
        return f"{text} Gern per Mail an {address}"

    def _events(self, names: dict[str, str], contact_ids: list[int]) -> tuple[int, int, int]:
        """The round table with a "Lokaltermin" per field, and a spring event without; returns
        (events, workshops, registrations). A year that has its round table is left alone."""
        rng, year = self.rng, self.year
        if self.session.exec(select(Event.id).where(col(Event.slug) == f"rt{year}")).first():
            return 0, 0, 0
        autumn = [d for d in _days(date(year, 9, 21), 41) if d.weekday() < 5]
        spring = [d for d in _days(date(year, 4, 20), 21) if d.weekday() == 4]
        plans = [
            (f"rt{year}", f"Runder Tisch Integration {year}", rng.choice(autumn), (10, 16),
             "Rathaus, Großer Sitzungssaal", 120, list(names)),
            (f"iw{year}", "Interkulturelle Woche: Auftakt", rng.choice(spring), (17, 20),
             "Bürgerhaus Mitte", 80, []),
        ]  # fmt: skip
        workshops = registrations = 0
        for slug, title, day, (begin, finish), place, capacity, fields in plans:
            starts = datetime.combine(day, time(begin), self.zone).astimezone(UTC)
            opens, deadline = starts - timedelta(weeks=8), starts - timedelta(days=5)
            done = starts + timedelta(hours=8) < self.end
            [event_id] = self._insert(Event, [{
                "slug": slug, "title": title, "description": "", "place": place,
                "starts_at": starts, "ends_at": starts + timedelta(hours=finish - begin),
                "registration_opens_at": opens, "registration_deadline": deadline,
                "capacity": capacity, "documents_lead_days": 14,
                "state": EventState.DONE if done else EventState.PLANNED,
                "created_at": opens - timedelta(days=14), "updated_at": opens - timedelta(days=14),
            }])  # fmt: skip
            ids = self._insert(Workshop, [
                {"event_id": event_id, "title": f"Lokaltermin: {names[key]}", "field_key": key,
                 "capacity": WORKSHOP_CAPACITY, "starts_at": starts + timedelta(hours=4),
                 "position": position}
                for position, key in enumerate(fields)
            ])  # fmt: skip
            weights = [FIELD_WEIGHTS.get(key, 10) for key in fields]
            wanted = rng.sample(contact_ids, min(150 if fields else 25, len(contact_ids)))
            window = (opens, min(deadline, self.end))
            rows = self._registrations(
                event_id, dict(zip(ids, weights, strict=True)), capacity, window, wanted
            )
            if rows:
                self.connection.execute(insert(Registration), rows)
            workshops, registrations = workshops + len(ids), registrations + len(rows)
        return len(plans), workshops, registrations

    def _registrations(
        self,
        event_id: int,
        workshops: dict[int, int],
        capacity: int,
        window: tuple[datetime, datetime],
        contact_ids: list[int],
    ) -> list[dict[str, Any]]:
        """Registrations in the order they came, a workshop each chosen by weight (id →
        weight): over a workshop's or the event's capacity they wait; some cancel."""
        rng, (opens, closes) = self.rng, window
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


def _change(at: datetime, actor: str, action: str, **values: str | None) -> dict[str, Any]:
    """A history row without its item id; every row has every column (one executemany)."""
    row = {"at": at, "actor": actor, "action": action, "actor_name": None, "state": None}
    return row | {"group_key": None, "text": None} | values


def _days(first: date, count: int) -> list[date]:
    return [first + timedelta(days=d) for d in range(count)]
