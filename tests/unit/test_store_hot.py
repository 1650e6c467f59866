"""The hot store calls (Core statements, rows turned into detached models) keep their promises,
on SQLite and on PostgreSQL alike: the objects they return are those a query would have
loaded, a contact's last_seen_at is refreshed only when it says so, an item, its history, its
files and its announcements are committed together or not at all."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import inspect, update
from sqlmodel import SQLModel, select

from storage.contacts import LAST_SEEN_RESOLUTION, ContactKey
from storage.db import Database
from storage.groups import FieldSpec, GroupSpec
from storage.items.feedback import NewItem
from storage.models import (
    Attachment,
    Contact,
    ConversationState,
    FeedbackItem,
    GroupChat,
    ItemEvent,
    OutboxMessage,
    WorkingGroup,
)
from storage.outbox import NewMessage, add_messages
from storage.store import Store
from testkit.support import count, rows

NOW = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)
ALICE = ContactKey("telegram", "alice", "chat-alice", "Alice")
FIELDS = (FieldSpec("bildung", "Bildung"), FieldSpec("sonstiges", "Sonstiges"))
GROUPS = (
    GroupSpec("ag", "AG", names={"en": "Working group"}, is_default=True, answer_days=21),
    GroupSpec(
        "uag-bildung",
        "Unter-AG Bildung",
        fields=("bildung",),
        answer_days=7,
        chats=(("telegram", "g-1"), ("matrix", "!r")),
    ),
)


@pytest.fixture
async def store(backend: Database) -> Store:
    store = Store.over(backend)
    await store.groups.sync_from_config(FIELDS, GROUPS)
    return store


def item(contact_id: int, field_key: str = "bildung") -> NewItem:
    return NewItem(contact_id, "suggestion", field_key, "Mehr Kurse", "de", False, "telegram")


async def loaded(db: Database, model: type[SQLModel], *where: Any) -> Any:
    """The one row, as the ORM loads it."""
    (row,) = await rows(db, model, *where)
    return row


def assert_as_loaded(made: SQLModel, orm: SQLModel) -> None:
    """`made` is what the ORM would have returned: same values, detached, nothing pending."""
    assert type(made) is type(orm)
    assert made.model_dump() == orm.model_dump()
    state = inspect(made)
    assert state.detached and state.identity == inspect(orm).identity
    assert not state.modified and not state.expired_attributes


async def contact_row(db: Database, contact_id: int) -> Contact:
    result: Contact = await loaded(db, Contact, Contact.id == contact_id)
    return result


async def set_contact(db: Database, contact_id: int, **values: Any) -> None:
    if not values:
        return
    async with db.session() as session:
        await session.execute(update(Contact).where(Contact.id == contact_id).values(**values))  # type: ignore[arg-type]


async def test_open_turn_returns_the_contact_and_its_step_as_loaded(
    store: Store, backend: Database
) -> None:
    contact, created, state = await store.contacts.open_turn(ALICE, NOW)
    assert created is True and state is None  # a new contact is in no flow
    assert contact.id is not None
    assert_as_loaded(contact, await contact_row(backend, contact.id))
    await store.conversations.set_state(contact.id, "feedback", "kind", {"text": "x"}, NOW)

    again, created, state = await store.contacts.open_turn(ALICE, NOW + timedelta(seconds=1))

    assert created is False
    assert_as_loaded(again, await contact_row(backend, contact.id))
    assert state is not None
    assert_as_loaded(state, await loaded(backend, ConversationState))
    assert (state.step, state.data, state.version, state.updated_at) == (
        "kind",
        {"text": "x"},
        1,
        NOW,
    )
    assert (await store.contacts.open_turn(ALICE, NOW, with_state=False))[2] is None
    await store.conversations.clear_state(contact.id)
    assert (await store.contacts.open_turn(ALICE, NOW))[2] is None  # the flow ended


@pytest.mark.parametrize(
    ("seen_as", "changes", "refreshed"),
    [
        pytest.param(ALICE, {}, False, id="again-soon"),
        pytest.param(ContactKey("telegram", "alice", "", ""), {}, False, id="from-a-group-chat"),
        pytest.param(ALICE, {"person_id": 1}, True, id="linked"),
        pytest.param(ALICE, {"blocked_at": NOW}, True, id="was-blocked"),
        pytest.param(ContactKey("telegram", "alice", "chat-2", "Alice"), {}, True, id="new-chat"),
        pytest.param(ContactKey("telegram", "alice", "chat-alice", "Ali"), {}, True, id="renamed"),
    ],
)
async def test_last_seen_is_refreshed_only_when_something_changed_or_it_is_old(
    store: Store,
    backend: Database,
    seen_as: ContactKey,
    changes: dict[str, Any],
    refreshed: bool,
) -> None:
    first, _, _ = await store.contacts.open_turn(ALICE, NOW)
    assert first.id is not None
    await set_contact(backend, first.id, **changes)
    soon = NOW + LAST_SEEN_RESOLUTION - timedelta(seconds=1)

    contact, _, _ = await store.contacts.open_turn(seen_as, soon)

    stored = await contact_row(backend, first.id)
    assert_as_loaded(contact, stored)
    assert stored.last_seen_at == (soon if refreshed else NOW)
    assert (
        stored.blocked_at is None if refreshed else stored.blocked_at == changes.get("blocked_at")
    )
    assert stored.chat_id == (seen_as.chat_id or "chat-alice")  # a group chat keeps the DM
    assert stored.display_name == (seen_as.display_name or "Alice")
    later = soon + LAST_SEEN_RESOLUTION
    await store.contacts.open_turn(ALICE, later)
    assert (await contact_row(backend, first.id)).last_seen_at == later  # old: refreshed


async def test_a_contact_created_concurrently_is_created_once(
    store: Store, backend: Database
) -> None:
    turns = await asyncio.gather(*(store.contacts.open_turn(ALICE, NOW) for _ in range(8)))

    assert sorted(created for _, created, _ in turns) == [False] * 7 + [True]
    assert len({contact.id for contact, _, _ in turns}) == 1
    assert await count(backend, Contact) == 1


async def test_get_group_is_the_group_as_loaded(store: Store, backend: Database) -> None:
    group = await store.groups.get_group("ag")

    assert group is not None and group.names == {"en": "Working group"}
    assert_as_loaded(group, await loaded(backend, WorkingGroup, WorkingGroup.key == "ag"))
    assert await store.groups.get_group("nobody") is None


async def test_add_item_returns_the_item_as_loaded_with_history_and_files(
    store: Store, backend: Database
) -> None:
    contact, _, _ = await store.contacts.open_turn(ALICE, NOW)
    assert contact.id is not None
    for name in ("a.jpg", "b.jpg"):
        await store.conversations.add_pending_attachment(
            contact.id, kind="photo", file_name=name, mime_type="image/jpeg", data=b"x",
            now=NOW, limit=5,
        )  # fmt: skip
    version = await store.conversations.set_state(contact.id, "feedback", "confirm", {}, NOW)
    seen: list[tuple[FeedbackItem, list[GroupChat], list[int]]] = []

    def notify(new: FeedbackItem, chats: list[GroupChat], files: list[int]) -> list[NewMessage]:
        seen.append((new, chats, files))
        return [
            NewMessage(f"new:{c.chat_id}", c.platform, c.chat_id, {"t": 1}, NOW) for c in chats
        ]

    added = await store.feedback.add_item(
        item(contact.id), NOW, conversation_version=version, notify=notify
    )

    assert added is not None
    stored = await loaded(backend, FeedbackItem)
    assert_as_loaded(added, stored)
    assert (added.group_key, added.answer_due_at) == ("uag-bildung", NOW + timedelta(days=7))
    (announced, chats, files) = seen[0]
    assert announced is added
    assert sorted((c.platform, c.chat_id) for c in chats) == [
        ("matrix", "!r"),
        ("telegram", "g-1"),
    ]
    for chat in chats:
        assert_as_loaded(chat, await loaded(backend, GroupChat, GroupChat.id == chat.id))
    attachments = await rows(backend, Attachment)
    assert files == sorted(a.id for a in attachments) and {a.item_id for a in attachments} == {
        added.id
    }
    assert await count(backend, OutboxMessage, OutboxMessage.state == "pending") == 2
    (event,) = await rows(backend, ItemEvent)
    assert (event.item_id, event.actor, event.action, event.state, event.group_key) == (
        added.id,
        "resident",
        "created",
        "received",
        "uag-bildung",
    )
    assert (event.at, event.actor_name, event.text) == (NOW, None, None)
    state = await loaded(backend, ConversationState)
    assert (state.flow, state.data, state.version) == ("", {}, version + 1)


async def test_items_of_an_unowned_field_go_to_the_default_group(store: Store) -> None:
    contact, _, _ = await store.contacts.open_turn(ALICE, NOW)
    assert contact.id is not None

    added = await store.feedback.add_item(item(contact.id, "sonstiges"), NOW)

    assert added is not None and added.group_key == "ag"
    assert added.answer_due_at == NOW + timedelta(days=21)


async def test_an_unowned_field_without_a_default_group_stores_nothing(
    backend: Database,
) -> None:
    store = Store.over(backend)
    await store.groups.sync_from_config(FIELDS, (GroupSpec("uag", "U", fields=("bildung",)),))
    contact, _, _ = await store.contacts.open_turn(ALICE, NOW)
    assert contact.id is not None

    with pytest.raises(LookupError, match="no default group"):
        await store.feedback.add_item(item(contact.id, "sonstiges"), NOW)

    assert await count(backend, FeedbackItem) == 0


async def test_an_announcement_that_fails_leaves_no_item_and_the_flow_open(
    store: Store, backend: Database
) -> None:
    contact, _, _ = await store.contacts.open_turn(ALICE, NOW)
    assert contact.id is not None
    version = await store.conversations.set_state(contact.id, "feedback", "confirm", {}, NOW)

    def broken(*_: Any) -> list[NewMessage]:
        raise RuntimeError("no template")

    with pytest.raises(RuntimeError):
        await store.feedback.add_item(
            item(contact.id), NOW, conversation_version=version, notify=broken
        )

    for table in (FeedbackItem, ItemEvent, OutboxMessage):
        assert await count(backend, table) == 0
    state = await store.conversations.get_state(contact.id)
    assert state is not None and state.version == version  # the resident can confirm again
    added = await store.feedback.add_item(item(contact.id), NOW, conversation_version=version)
    assert added is not None and added.reference == "F-2026-0001"  # no number was used up


async def test_concurrent_submissions_get_distinct_consecutive_references(
    store: Store,
) -> None:
    ids = []
    for n in range(10):
        contact, _, _ = await store.contacts.open_turn(ContactKey("telegram", f"u{n}", "c"), NOW)
        assert contact.id is not None
        ids.append(contact.id)

    added = await asyncio.gather(*(store.feedback.add_item(item(i), NOW) for i in ids))

    references = sorted(a.reference for a in added if a is not None)
    assert references == [f"F-2026-{n:04d}" for n in range(1, 11)]


async def test_add_messages_counts_only_new_keys_in_any_number(backend: Database) -> None:
    def enqueue(keys: range) -> Callable[[Any], int]:
        messages = [NewMessage(f"k{n}", "telegram", "c", {"n": n}, NOW) for n in keys]
        return lambda session: add_messages(session, messages, NOW)

    assert await backend.run(enqueue(range(1))) == 1
    assert await backend.run(enqueue(range(2500))) == 2499  # more than one page of VALUES
    assert await backend.run(enqueue(range(2500))) == 0
    assert await backend.run(lambda session: add_messages(session, [], NOW)) == 0
    async with backend.session() as session:
        stored = (
            await session.exec(select(OutboxMessage).where(OutboxMessage.idempotency_key == "k7"))
        ).one()
    assert (stored.payload, stored.due_at, stored.created_at) == ({"n": 7}, NOW, NOW)
