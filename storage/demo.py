"""Bulk writing of a demo year (bot.demo draws its rows): what the year builds on, read from the
database, and its rows, written in one transaction.

Rows are plain dictionaries keyed by column, each with every column, and go in by SQLAlchemy
Core executemany on the session's connection. This is the one place in storage/ that writes
past the session, for a measured need: the ORM's bulk insert splits rows into one batch per
combination of None columns and splices RETURNING rows quadratically, and 100,000 items must
take seconds, not minutes (`bench.report` seeds them).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import Connection, func, insert
from sqlmodel import Session, SQLModel, col, select

from storage.db import Database
from storage.events.models import Event, Registration, Workshop
from storage.models import (
    Contact,
    FeedbackItem,
    FieldOfAction,
    GroupField,
    ItemEvent,
    ReferenceCounter,
    WorkingGroup,
)
from storage.upsert import insert_for

T = TypeVar("T")
# Statistics after the load: without them PostgreSQL plans the year report's recommendation
# query for empty tables (a nested loop that aggregates the history once per item), and the
# Markdown report of 100,000 items took 66 s instead of 2.4 s until autovacuum came round.
ANALYZED = ("contact", "feedback_item", "item_event", "registration")


@dataclass(frozen=True, slots=True)
class DemoBasis:
    """What a demo year builds on, as the configuration and earlier runs left the database."""

    fields: dict[str, str]  # key → name, in the configured order
    groups: dict[str, WorkingGroup]  # by key
    owners: dict[str, str]  # field key → the key of the group that owns it
    last_reference: int  # the year's last reference number
    last_contact_id: int


class DemoWriter:
    """The reads and writes of one seeding run, all in the transaction of `write_demo`."""

    def __init__(self, session: Session) -> None:
        self._session = session

    @property
    def _connection(self) -> Connection:
        return self._session.connection()

    def get_basis(self, year: int) -> DemoBasis:
        session = self._session
        query = select(FieldOfAction.key, FieldOfAction.name).order_by(col(FieldOfAction.position))
        counter = select(ReferenceCounter.last).where(col(ReferenceCounter.year) == year)
        return DemoBasis(
            fields=dict(session.exec(query).all()),
            groups={g.key: g for g in session.exec(select(WorkingGroup)).all()},
            owners=dict(session.exec(select(GroupField.field_key, GroupField.group_key)).all()),
            last_reference=session.exec(counter).first() or 0,
            last_contact_id=session.exec(select(func.max(Contact.id))).first() or 0,
        )

    def get_event_id(self, slug: str) -> int | None:
        return self._session.exec(select(Event.id).where(col(Event.slug) == slug)).first()

    def add_contacts(self, rows: list[dict[str, Any]]) -> list[int]:
        """Returns the new ids in the order of `rows`."""
        return self._add(Contact, rows)

    def add_items(self, rows: list[dict[str, Any]]) -> list[int]:
        """Items with their references; returns the new ids in the order of `rows`."""
        return self._add(FeedbackItem, rows)

    def add_history(self, rows: list[dict[str, Any]]) -> None:
        if rows:
            self._connection.execute(insert(ItemEvent), rows)

    def set_last_reference(self, year: int, last: int) -> None:
        """The year's last reference number, so the bot's next item follows the demo's."""
        upsert = insert_for(self._session, ReferenceCounter).values(year=year, last=last)
        self._session.exec(
            upsert.on_conflict_do_update(index_elements=["year"], set_=upsert.excluded)
        )

    def add_events(self, rows: list[dict[str, Any]]) -> list[int]:
        return self._add(Event, rows)

    def add_workshops(self, rows: list[dict[str, Any]]) -> list[int]:
        return self._add(Workshop, rows)

    def add_registrations(self, rows: list[dict[str, Any]]) -> None:
        if rows:
            self._connection.execute(insert(Registration), rows)

    def _add(self, model: type[SQLModel], rows: list[dict[str, Any]]) -> list[int]:
        """Insert in bulk and return the new ids in the order of `rows`."""
        if not rows:
            return []
        table: Any = model.__table__  # type: ignore[attr-defined]
        returning = insert(table).returning(table.c.id, sort_by_parameter_order=True)
        return list(self._connection.execute(returning, rows).scalars())


async def count_demo_contacts(db: Database) -> int:
    """How many residents earlier demo runs added: their user ids are `demo-N` on Telegram and
    `@demo-N:example.org` on Matrix (bot.demo.year), which no real account has."""
    query = select(func.count()).where(
        col(Contact.user_id).startswith("demo-") | col(Contact.user_id).like("@demo-%:example.org")
    )
    return await db.run(lambda session: int(session.exec(query).one()))


async def write_demo(db: Database, fill: Callable[[DemoWriter], T]) -> T:
    """Run `fill` with a writer in one transaction, then give the planner fresh statistics
    (a bulk load leaves it blind until autovacuum runs).

    Returns:
        What `fill` returned.
    """

    def work(session: Session) -> T:
        written = fill(DemoWriter(session))
        for table in ANALYZED:
            session.connection().exec_driver_sql(f"ANALYZE {table}")
        return written

    return await db.run(work)
