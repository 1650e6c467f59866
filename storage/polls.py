"""Polls: the question and its options per language, who is asked, the answers (once per
person, changeable until the close) and the results with the response rate by unique people.

The planner (handlers.asking.polls) records each step of a poll ("ask", "results") as a
`PollStage` with its messages in one transaction, so that a tick that runs twice, or after a
crash, sends nothing twice.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from storage.asking_models import Poll, PollAnswer, PollStage
from storage.db import Database
from storage.events.audience import REACHABLE, registrants
from storage.events.models import Event, RegistrationState
from storage.models import Contact, OutboxMessage, OutboxState
from storage.outbox import NewMessage, add_messages
from storage.people import (
    PERSON,
    linked_ids,
    one_per_person,
    persons_of,
    reachable_contacts_of,
)
from storage.upsert import insert_for

SUBSCRIBERS, EVERYONE, EVENT = "subscribers", "all", "event:"


def ask_prefix(poll_id: int) -> str:
    """The outbox keys of a poll's questions start with this."""
    return f"poll:{poll_id}:ask:"


class PollAudience(enum.StrEnum):
    ASKED = "asked"  # the poll's audience, one contact per person
    PARTICIPANTS = "participants"  # who answered, on the contact they wrote from last


class DuplicatePoll(ValueError):
    """A poll with that key exists already."""


@dataclass(frozen=True, slots=True)
class PollResults:
    """The answers to a poll: `counts[i]` people chose option i; `reached` is how many
    different people the poll reached (its question delivered, or they answered)."""

    poll: Poll
    counts: tuple[int, ...]
    reached: int

    @property
    def answered(self) -> int:
        return sum(self.counts)


# (contact, the option the person chose or None) → messages to enqueue
Recipients = list[tuple[Contact, int | None]]


class PollStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def add_poll(self, poll: Poll) -> Poll:
        """Store a new poll.

        Raises:
            DuplicatePoll: a poll with its key exists.
        """

        def work(session: Session) -> Poll:
            session.add(poll)
            session.flush()
            return poll

        try:
            return await self._db.run(work)
        except IntegrityError:
            raise DuplicatePoll(poll.key) from None

    async def get_poll(self, ident: str | int) -> Poll | None:
        """A poll by id or key."""
        text = str(ident).strip()

        def work(session: Session) -> Poll | None:
            if text.isdigit():
                return session.get(Poll, int(text))
            return session.exec(select(Poll).where(col(Poll.key) == text.lower())).first()

        return await self._db.run(work)

    async def list_polls(self) -> list[Poll]:
        """Every poll, the latest opening first."""
        query = select(Poll).order_by(col(Poll.opens_at).desc(), col(Poll.id).desc())
        return await self._db.run(lambda session: list(session.exec(query).all()))

    async def list_open(self, now: datetime) -> list[Poll]:
        query = (
            select(Poll)
            .where(col(Poll.opens_at) <= now, col(Poll.closes_at) > now)
            .order_by(col(Poll.closes_at), col(Poll.id))
        )
        return await self._db.run(lambda session: list(session.exec(query).all()))

    async def list_closed(self, now: datetime, limit: int) -> list[Poll]:
        """The `limit` polls closed last (not those closed before they opened)."""
        query = (
            select(Poll)
            .where(col(Poll.closes_at) <= now, col(Poll.closes_at) > col(Poll.opens_at))
            .order_by(col(Poll.closes_at).desc(), col(Poll.id).desc())
            .limit(limit)
        )
        return await self._db.run(lambda session: list(session.exec(query).all()))

    async def set_closes_at(self, poll_id: int, closes_at: datetime, now: datetime) -> None:
        statement = (
            update(Poll).where(col(Poll.id) == poll_id).values(closes_at=closes_at, updated_at=now)
        )
        await self._db.run(lambda session: session.exec(statement))

    async def plan_view(self, since: datetime) -> list[tuple[Poll, dict[str, datetime]]]:
        """The polls that close after `since`, each with its stages done."""

        def work(session: Session) -> list[tuple[Poll, dict[str, datetime]]]:
            polls = session.exec(
                select(Poll).where(col(Poll.closes_at) > since).order_by(col(Poll.id))
            ).all()
            ids = [p.id for p in polls if p.id is not None]
            done: dict[int, dict[str, datetime]] = {i: {} for i in ids}
            if ids:
                for poll_id, stage, at in session.exec(
                    select(PollStage.poll_id, PollStage.stage, PollStage.done_at).where(
                        col(PollStage.poll_id).in_(ids)
                    )
                ).all():
                    done[poll_id][stage] = at
            return [(p, done[p.id]) for p in polls if p.id is not None]

        return await self._db.run(work)

    async def fire_stage(
        self,
        poll_id: int,
        stage: str,
        audience: PollAudience,
        build: Callable[[Recipients], list[NewMessage]],
        now: datetime,
    ) -> int | None:
        """Enqueue one step of a poll for its audience, once: the stage is recorded with its
        messages in one transaction.

        Returns:
            How many messages were new; None if the stage had been done already.
        """

        def work(session: Session) -> int | None:
            recorded = session.exec(
                insert_for(session, PollStage)
                .values(poll_id=poll_id, stage=stage, done_at=now, messages=0)
                .on_conflict_do_nothing(index_elements=["poll_id", "stage"])
                .returning(col(PollStage.stage))
            ).first()
            if recorded is None:
                return None
            poll = session.get(Poll, poll_id)
            assert poll is not None
            people: Recipients = (
                [(c, None) for c in audience_of(session, poll.audience)]
                if audience == PollAudience.ASKED
                else _participants(session, poll_id)
            )
            added = add_messages(session, build(people), now)
            row = session.get(PollStage, (poll_id, stage))
            assert row is not None
            row.messages = added
            session.add(row)
            return added

        return await self._db.run(work)

    async def count_audience(self, audience: str) -> int:
        """How many people `audience` reaches now (one per person)."""
        return await self._db.run(lambda session: len(audience_of(session, audience)))

    async def in_audience(self, audience: str, contact_id: int) -> bool:
        """Whether the person with `contact_id` belongs to `audience` (any linked contact)."""

        def work(session: Session) -> bool:
            ids = set(linked_ids(session, contact_id))
            return any(c.id in ids for c in audience_of(session, audience, per_person=False))

        return await self._db.run(work)

    async def get_answer(self, poll_id: int, contact_id: int) -> int | None:
        """The option the person chose (on any of their linked contacts), if any."""

        def work(session: Session) -> int | None:
            answer = _person_answer(session, poll_id, linked_ids(session, contact_id))
            return answer.option if answer is not None else None

        return await self._db.run(work)

    async def set_answer(self, poll_id: int, contact_id: int, option: int, now: datetime) -> bool:
        """Record the person's choice, replacing their earlier one (once per person across
        linked contacts).

        Returns:
            Whether they had answered before (the answer was changed).
        """

        def work(session: Session) -> bool:
            answer = _person_answer(session, poll_id, linked_ids(session, contact_id))
            changed = answer is not None
            if answer is None:
                answer = PollAnswer(poll_id=poll_id, option=option, created_at=now)
            answer.contact_id = contact_id
            answer.option = option
            answer.updated_at = now
            session.add(answer)
            return changed

        return await self._db.run(work)

    async def results(self, poll_id: int) -> PollResults | None:
        def work(session: Session) -> PollResults | None:
            poll = session.get(Poll, poll_id)
            return poll_results(session, poll) if poll is not None else None

        return await self._db.run(work)


def poll_results(session: Session, poll: Poll) -> PollResults:
    """The counts per option and how many people the poll reached (also storage.report)."""
    assert poll.id is not None
    answers = _answers_by_person(session, poll.id)
    options = len(poll.texts.get("de", {}).get("options", []))
    counts = [0] * options
    for answer in answers.values():
        if 0 <= answer.option < options:
            counts[answer.option] += 1
    delivered = session.exec(
        select(PERSON)
        .join(OutboxMessage, col(OutboxMessage.contact_id) == col(Contact.id))
        .where(
            col(OutboxMessage.idempotency_key).startswith(ask_prefix(poll.id)),
            col(OutboxMessage.state) == OutboxState.SENT,
        )
    ).all()
    reached = {int(p) for p in delivered} | set(answers)
    return PollResults(poll, tuple(counts), len(reached))


def polls_between(session: Session, start: datetime, end: datetime) -> list[PollResults]:
    """The results of the polls that closed in [start, end), in the order they closed (not
    those closed before they opened)."""
    polls = session.exec(
        select(Poll)
        .where(
            col(Poll.closes_at) >= start,
            col(Poll.closes_at) < end,
            col(Poll.closes_at) > col(Poll.opens_at),
        )
        .order_by(col(Poll.closes_at), col(Poll.id))
    ).all()
    return [poll_results(session, poll) for poll in polls]


def audience_of(session: Session, audience: str, *, per_person: bool = True) -> list[Contact]:
    """The reachable contacts of `audience` ("subscribers", "all", "event:<slug>"), one per
    person (the contact seen last) unless `per_person` is False; none for an audience that
    names nothing."""
    if audience in (SUBSCRIBERS, EVERYONE):
        query = select(Contact).where(*REACHABLE)
        if audience == SUBSCRIBERS:
            query = query.where(col(Contact.subscribed))
        contacts = list(session.exec(query.order_by(col(Contact.id))).all())
    elif audience.startswith(EVENT):
        slug = audience.removeprefix(EVENT)
        event = session.exec(select(Event).where(col(Event.slug) == slug)).first()
        if event is None or event.id is None:
            return []
        registered = (RegistrationState.REGISTERED,)
        contacts = [c for c, _ in registrants(session, event.id, registered)]
    else:
        return []
    return one_per_person(contacts) if per_person else contacts


def _person_answer(session: Session, poll_id: int, ids: list[int]) -> PollAnswer | None:
    """The answer of the person with the contacts `ids`; an older one of theirs (given
    before two of their contacts were linked) is removed."""
    answers = list(
        session.exec(
            select(PollAnswer)
            .where(col(PollAnswer.poll_id) == poll_id, col(PollAnswer.contact_id).in_(ids))
            .order_by(col(PollAnswer.updated_at).desc(), col(PollAnswer.id).desc())
        ).all()
    )
    if not answers:
        return None
    for older in answers[1:]:
        session.delete(older)
    if len(answers) > 1:
        session.flush()  # before the kept row takes over a deleted one's contact
    return answers[0]


def _answers_by_person(session: Session, poll_id: int) -> dict[int, PollAnswer]:
    """Each person's latest answer; an answer whose contact was erased counts on its own."""
    answers = session.exec(
        select(PollAnswer)
        .where(col(PollAnswer.poll_id) == poll_id)
        .order_by(col(PollAnswer.updated_at), col(PollAnswer.id))
    ).all()
    persons = persons_of(session, (a.contact_id for a in answers))
    latest: dict[int, PollAnswer] = {}
    for answer in answers:
        latest[persons.get(answer.contact_id or 0, -(answer.id or 0))] = answer
    return latest


def _participants(session: Session, poll_id: int) -> Recipients:
    """Each person who answered, on their reachable contact seen last, with their option."""
    answers = _answers_by_person(session, poll_id)
    contacts = reachable_contacts_of(session, [p for p in answers if p > 0])
    return [(contact, answers[person].option) for person, contact in sorted(contacts.items())]
