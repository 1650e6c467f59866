"""A turn as one transaction on PostgreSQL (`Database.turn`), as the Telegram inbox of several
processes uses it: what a turn changed is seen by the other processes all at once, or, when
the turn fails or its process dies, not at all.

The witness is a second engine on the same database, as another bot process has.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from storage.asking_models import Poll
from storage.contacts import ContactKey, ContactStore
from storage.db import Database
from storage.polls import DuplicatePoll, PollStore
from testkit.support import DEFAULT_NOW

pytestmark = [pytest.mark.e2e, pytest.mark.postgres]

KEY = ContactKey("telegram", "4711", "4711", "Amina")


def poll(key: str) -> Poll:
    texts = {"de": {"question": "Wann?", "options": ["Abends", "Samstags"]}}
    return Poll(
        key=key,
        texts=texts,
        audience="all",
        opens_at=DEFAULT_NOW,
        closes_at=DEFAULT_NOW + timedelta(days=7),
        created_at=DEFAULT_NOW,
        updated_at=DEFAULT_NOW,
    )


@pytest.fixture
async def two(fresh_postgres_database: str) -> tuple[Database, Database]:
    """This process's engine and another process's, on one fresh database."""
    mine, theirs = Database(fresh_postgres_database), Database(fresh_postgres_database)
    await mine.create_all()
    yield mine, theirs
    await mine.dispose()
    await theirs.dispose()


async def language_seen_by(db: Database) -> str | None:
    contact, created = await ContactStore(db).get_or_add_contact(KEY, DEFAULT_NOW)
    assert not created
    return contact.language


async def test_a_turn_is_seen_by_others_whole_once_it_ends(two: tuple[Database, Database]) -> None:
    mine, theirs = two
    contacts = ContactStore(mine)
    async with mine.turn():
        contact, created = await contacts.get_or_add_contact(KEY, DEFAULT_NOW)
        assert created and contact.id is not None
        await contacts.set_language(contact.id, "uk")
        assert await language_seen_by(mine) == "uk"  # the turn reads its own changes
        assert await PollStore(theirs).list_polls() == []
        contact_seen = await ContactStore(theirs).get_contact(contact.id)
        assert contact_seen is None  # not even the contact, until the turn ends
    assert await language_seen_by(theirs) == "uk"


async def test_a_failed_turn_leaves_nothing(two: tuple[Database, Database]) -> None:
    mine, theirs = two
    contacts = ContactStore(mine)
    with pytest.raises(RuntimeError, match="the process dies"):
        async with mine.turn():
            contact, _ = await contacts.get_or_add_contact(KEY, DEFAULT_NOW)
            assert contact.id is not None
            await PollStore(mine).add_poll(poll("abend"))
            raise RuntimeError("the process dies")
    assert await ContactStore(theirs).get_contact(contact.id) is None
    assert await PollStore(theirs).list_polls() == []


async def test_a_step_that_fails_inside_a_turn_undoes_only_itself(
    two: tuple[Database, Database],
) -> None:
    mine, theirs = two
    polls = PollStore(mine)
    await polls.add_poll(poll("abend"))
    async with mine.turn():
        await polls.add_poll(poll("samstag"))
        with pytest.raises(DuplicatePoll):
            await polls.add_poll(poll("abend"))  # the database refuses it; the turn goes on
        await polls.add_poll(poll("sonntag"))
    assert sorted(p.key for p in await PollStore(theirs).list_polls()) == [
        "abend",
        "samstag",
        "sonntag",
    ]


async def test_a_task_started_in_a_turn_is_not_part_of_it(
    two: tuple[Database, Database],
) -> None:
    mine, theirs = two
    async with mine.turn():
        await asyncio.create_task(PollStore(mine).add_poll(poll("abend")))
        assert [p.key for p in await PollStore(theirs).list_polls()] == ["abend"]
        await PollStore(mine).add_poll(poll("samstag"))
        assert [p.key for p in await PollStore(theirs).list_polls()] == ["abend"]
    assert len(await PollStore(theirs).list_polls()) == 2
