"""The stores of surveys and polls on SQLite and PostgreSQL: one answer per person across
linked contacts (also when the contacts are linked after both answered), the response rate by
unique people, and answers that stay as anonymous counts when a contact is erased."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import delete
from sqlmodel import col

from storage.asking_models import Poll, PollAnswer, SurveyAnswer
from storage.contacts import ContactKey
from storage.db import Database
from storage.events.models import Event
from storage.models import Contact
from storage.store import Store
from testkit.support import DEFAULT_NOW, rows

NOW = DEFAULT_NOW


async def contact(store: Store, name: str, platform: str = "telegram") -> int:
    found, _ = await store.contacts.get_or_add_contact(
        ContactKey(platform, f"u-{name}", f"c-{name}", name), NOW
    )
    assert found.id is not None
    return found.id


async def link(store: Store, first: int, second: int) -> None:
    await store.links.set_link_code(first, "CODE1234", NOW + timedelta(minutes=5))
    assert await store.links.link_by_code(second, "CODE1234", NOW) is not None


async def test_a_poll_counts_people_not_contacts(backend: Database) -> None:
    store = Store.over(backend)
    poll = await store.polls.add_poll(
        Poll(
            key="p",
            texts={"de": {"question": "Q?", "options": ["A", "B", "C"]}},
            audience="all",
            opens_at=NOW,
            closes_at=NOW + timedelta(days=1),
            created_at=NOW,
            updated_at=NOW,
        )
    )
    assert poll.id is not None
    ana_t, ana_m, ben = [await contact(store, n) for n in ("ana-t", "ana-m", "ben")]
    # Ana answered on both platforms before she linked them: one answer, the latest.
    assert not await store.polls.set_answer(poll.id, ana_t, 0, NOW)
    assert not await store.polls.set_answer(poll.id, ana_m, 2, NOW + timedelta(seconds=1))
    await store.polls.set_answer(poll.id, ben, 1, NOW)
    await link(store, ana_t, ana_m)
    results = await store.polls.results(poll.id)
    assert results is not None
    assert results.counts == (0, 1, 1) and results.reached == 2
    assert await store.polls.get_answer(poll.id, ana_t) == 2
    assert await store.polls.set_answer(poll.id, ana_t, 1, NOW + timedelta(seconds=2))
    assert len(await rows(backend, PollAnswer)) == 2  # the older of Ana's answers merged away
    assert await store.polls.count_audience("all") == 2  # two people, three contacts

    # An erased contact's answer stays, anonymous.
    await backend.run(lambda s: s.exec(delete(Contact).where(col(Contact.id) == ben)))
    results = await store.polls.results(poll.id)
    assert results is not None and results.counts == (0, 2, 0)
    assert sorted(a.contact_id is None for a in await rows(backend, PollAnswer)) == [False, True]


async def test_a_survey_keeps_one_answer_per_person(backend: Database) -> None:
    store = Store.over(backend)
    event = await store.events.add_event(
        Event(
            slug="rt",
            title="Runder Tisch",
            starts_at=NOW - timedelta(days=2),
            ends_at=NOW - timedelta(days=2) + timedelta(hours=6),
            registration_opens_at=NOW - timedelta(days=30),
            registration_deadline=NOW - timedelta(days=3),
            created_at=NOW,
            updated_at=NOW,
        )
    )
    assert event.id is not None
    ana_t, ana_m = await contact(store, "ana-t"), await contact(store, "ana-m", "matrix")
    await link(store, ana_t, ana_m)
    await store.surveys.set_answer(event.id, ana_t, NOW, event_rating=2)
    await store.surveys.set_answer(event.id, ana_m, NOW + timedelta(seconds=1), event_rating=5)
    (answer,) = await rows(backend, SurveyAnswer)
    assert (answer.contact_id, answer.event_rating) == (ana_m, 5)
    results = await store.surveys.results(event.id)
    assert results is not None and results.ratings.counts == (0, 0, 0, 0, 1)
    assert results.answered == 1 and results.participants == 0  # she never registered
