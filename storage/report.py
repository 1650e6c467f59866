"""The figures of the year report, read in one transaction.

Everything a report shows comes from here: counts by dimension aggregated in SQL, the
submission and first-answer times the median and the charts are made of, the overdue items,
every recommendation with its outcome (`storage.items.recommendations`), and the events with their
registrations (`storage.events.report`). Nothing here names a resident: the report is
published, so the only contact columns read are the names of recommendations' authors, which
the report masks in what it quotes.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func
from sqlalchemy import select as core_select
from sqlmodel import Session, col, select

from storage.db import Database
from storage.events.report import EventFigures, count_by, year_events
from storage.items.handling import is_open
from storage.items.recommendations import (
    Recommendation,
    decided_counts,
    decided_recommendations,
    year_recommendations,
)
from storage.models import FeedbackItem, FieldOfAction, ItemKind, WorkingGroup
from storage.polls import PollResults, polls_between
from storage.surveys import SurveyResults, surveys_between

# The kinds of feedback that wait for an answer: praise is thanked for when there is time,
# and never counts as overdue or late.
EXPECTS_ANSWER = (ItemKind.SUGGESTION, ItemKind.CRITICISM, ItemKind.QUESTION)


@dataclass(frozen=True, slots=True)
class OverdueItem:
    reference: str
    kind: str
    field_key: str
    group_key: str
    created_at: datetime
    answer_due_at: datetime


@dataclass(frozen=True, slots=True)
class ItemRow:
    """One item as the CSV export lists it: no text unless it is a recommendation."""

    reference: str
    created_at: datetime
    kind: str
    field_key: str
    group_key: str
    platform: str
    language: str
    state: str
    answer_due_at: datetime | None
    first_answered_at: datetime | None


@dataclass(frozen=True, slots=True)
class YearFigures:
    """What the items created in [start, end) and the events starting then amount to."""

    start: datetime
    end: datetime
    as_of: datetime
    fields: list[FieldOfAction]
    groups: list[WorkingGroup]
    by_field_state: dict[tuple[str, str], int]
    by_kind: dict[str, int]
    by_platform: dict[str, int]
    by_language: dict[str, int]
    by_group: dict[str, int]
    created: list[tuple[datetime, str, str]]  # (created_at, kind, field) of every item
    # (group, created_at, first_answered_at, answer_due_at) of every answered item of a kind
    # that expects an answer (EXPECTS_ANSWER)
    answered: list[tuple[str, datetime, datetime, datetime | None]]
    overdue: list[OverdueItem]  # only kinds that expect an answer
    recommendations: list[Recommendation]
    events: list[EventFigures]
    residents: int = 0  # how many different contacts wrote (forgotten ones not counted)
    by_group_kind: dict[tuple[str, str], int] = field(default_factory=dict)
    # The surveys after the events that ended in the span, and the polls that closed in it.
    surveys: list[SurveyResults] = field(default_factory=list)
    polls: list[PollResults] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(self.by_kind.values())

    def by_state(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for (_, state), n in self.by_field_state.items():
            counts[state] = counts.get(state, 0) + n
        return counts

    def by_field(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for (key, _), n in self.by_field_state.items():
            counts[key] = counts.get(key, 0) + n
        return counts


class ReportStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def year_figures(
        self, start: datetime, end: datetime, as_of: datetime, *, details: bool = True
    ) -> YearFigures:
        """The figures of the items created and the events held in [start, end); `as_of`
        decides which open items count as overdue. Without `details` (a year to compare
        with): no overdue items, no events, and recommendations without their texts."""
        return await self._db.run(
            lambda session: _year_figures(session, start, end, as_of, details)
        )

    async def item_rows(self, start: datetime, end: datetime) -> list[ItemRow]:
        return await self._db.run(lambda session: list(_item_rows(session, start, end)))

    async def decided_recommendations(
        self, field_key: str | None = None, *, limit: int = 20, before_id: int | None = None
    ) -> list[tuple[int, Recommendation]]:
        """Implemented and declined recommendations, the latest decision first, for
        `/outcomes`; `before_id` pages on (ids are the decisions' history rows)."""

        def work(session: Session) -> list[tuple[int, Recommendation]]:
            return decided_recommendations(session, field_key, limit, before_id)

        return await self._db.run(work)

    async def decided_counts(self) -> dict[tuple[str, str], int]:
        """(field, outcome) → how many recommendations ended so, over all years."""
        return await self._db.run(decided_counts)


def _in_year(start: datetime, end: datetime) -> Any:
    return and_(col(FeedbackItem.created_at) >= start, col(FeedbackItem.created_at) < end)


def _year_figures(
    session: Session, start: datetime, end: datetime, as_of: datetime, details: bool = True
) -> YearFigures:
    year = _in_year(start, end)
    item = FeedbackItem
    fields = list(session.exec(select(FieldOfAction).order_by(col(FieldOfAction.position))).all())
    groups = list(session.exec(select(WorkingGroup).order_by(col(WorkingGroup.key))).all())
    created = [
        (at, str(kind), str(field))
        for at, kind, field in session.exec(
            select(item.created_at, item.kind, item.field_key).where(year)
        ).all()
    ]
    expects_answer = col(item.kind).in_([str(k) for k in EXPECTS_ANSWER])
    answered = [
        (str(group), created_at, answered_at, due)
        for group, created_at, answered_at, due in session.exec(
            select(
                item.group_key, item.created_at, item.first_answered_at, item.answer_due_at
            ).where(year, expects_answer, col(item.first_answered_at).is_not(None))
        ).all()
        if answered_at is not None
    ]
    residents = session.exec(select(func.count(func.distinct(item.contact_id))).where(year)).one()
    overdue_query = (
        select(item)
        .where(
            year,
            is_open(),
            expects_answer,
            col(item.first_answered_at).is_(None),
            col(item.answer_due_at) < as_of,
        )
        .order_by(col(item.answer_due_at), col(item.id))
    )
    overdue = [
        OverdueItem(
            i.reference, i.kind, i.field_key, i.group_key, i.created_at, i.answer_due_at or as_of
        )
        for i in (session.exec(overdue_query).all() if details else [])
    ]
    return YearFigures(
        start=start,
        end=end,
        as_of=as_of,
        fields=fields,
        groups=groups,
        by_field_state=count_by(session, item.field_key, item.state, where=year),
        by_kind=count_by(session, item.kind, where=year),
        by_platform=count_by(session, item.platform, where=year),
        by_language=count_by(session, item.language, where=year),
        by_group=count_by(session, item.group_key, where=year),
        created=created,
        answered=answered,
        overdue=overdue,
        recommendations=year_recommendations(session, year, texts=details),
        events=year_events(session, start, end) if details else [],
        residents=int(residents or 0),
        by_group_kind=count_by(session, item.group_key, item.kind, where=year),
        surveys=surveys_between(session, start, end) if details else [],
        polls=polls_between(session, start, end) if details else [],
    )


def _item_rows(session: Session, start: datetime, end: datetime) -> Iterator[ItemRow]:
    columns: Sequence[Any] = (
        FeedbackItem.reference,
        FeedbackItem.created_at,
        FeedbackItem.kind,
        FeedbackItem.field_key,
        FeedbackItem.group_key,
        FeedbackItem.platform,
        FeedbackItem.language,
        FeedbackItem.state,
        FeedbackItem.answer_due_at,
        FeedbackItem.first_answered_at,
    )
    query = (
        core_select(*columns)
        .where(_in_year(start, end))
        .order_by(col(FeedbackItem.created_at), col(FeedbackItem.id))
    )
    for row in session.execute(query).all():
        yield ItemRow(*row)
