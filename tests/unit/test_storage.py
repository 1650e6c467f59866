"""Contract tests of the stores, run on SQLite and on PostgreSQL alike."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable
from contextlib import closing
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import insert, inspect, text, update
from sqlalchemy.exc import IntegrityError, StatementError
from sqlmodel import Session, SQLModel, col

from storage.contacts import LAST_SEEN_RESOLUTION, ContactKey
from storage.db import CHECKPOINT_EVERY, Database
from storage.groups import FieldSpec, GroupSpec, UnknownField
from storage.items.feedback import NewItem
from storage.models import (
    Attachment,
    Contact,
    ConversationState,
    FeedbackItem,
    GroupChat,
    GroupField,
    ItemEvent,
    OutboxMessage,
    WorkingGroup,
)
from storage.outbox import NewMessage, add_messages
from storage.store import Store
from testkit.support import count, rows
from tests.conftest import sqlite_url

NOW = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)
ALICE = ContactKey("telegram", "alice", "chat-alice", "Alice")
FIELDS = (
    FieldSpec("bildung", "Bildung und Sprache", {"en": "Education and language"}),
    FieldSpec("wohnen", "Wohnen"),
    FieldSpec("sonstiges", "Sonstiges"),
)
GROUPS = (
    GroupSpec("ag", "AG Integration", is_default=True, coordinators=(("telegram", "1"),)),
    GroupSpec("uag-bildung", "Unter-AG Bildung", fields=("bildung",), chats=(("matrix", "!r"),)),
    GroupSpec("uag-wohnen", "Unter-AG Wohnen", fields=("wohnen",)),
)


@pytest.fixture
async def store(backend: Database) -> Store:
    store = Store.over(backend)
    await store.groups.sync_from_config(FIELDS, GROUPS)
    return store


async def new_contact(store: Store, user: str = "alice") -> int:
    contact, _ = await store.contacts.get_or_add_contact(
        ContactKey("telegram", user, f"chat-{user}", user.capitalize()), NOW
    )
    assert contact.id is not None
    return contact.id


def item(contact_id: int, field_key: str = "bildung", text: str = "Text") -> NewItem:
    return NewItem(
        contact_id=contact_id,
        kind="suggestion",
        field_key=field_key,
        text=text,
        language="de",
        anonymous=True,
        platform="telegram",
    )


async def test_references_are_sequential_per_year(store: Store) -> None:
    alice = await new_contact(store)
    feedback = store.feedback

    first = await feedback.add_item(item(alice), NOW)
    second = await feedback.add_item(item(alice), NOW)
    next_year = await feedback.add_item(item(alice), NOW.replace(year=2027))
    late = await feedback.add_item(item(alice), NOW, reference_year=2026)

    assert first is not None and second is not None and next_year is not None
    assert late is not None
    assert [first.reference, second.reference, next_year.reference, late.reference] == [
        "F-2026-0001",
        "F-2026-0002",
        "F-2027-0001",
        "F-2026-0003",
    ]


async def test_item_is_stored_with_its_history(store: Store, backend: Database) -> None:
    alice = await new_contact(store)

    added = await store.feedback.add_item(item(alice, text="Grüße aus Köln"), NOW)

    assert added is not None
    (stored,) = await rows(backend, FeedbackItem)
    assert (stored.reference, stored.text, stored.state) == (
        "F-2026-0001",
        "Grüße aus Köln",
        "received",
    )
    history = await store.feedback.get_history("F-2026-0001")
    assert [(e.action, e.actor, e.state, e.group_key, e.at) for e in history] == [
        ("created", "resident", "received", "uag-bildung", NOW)
    ]


async def test_add_item_with_a_stale_conversation_version_stores_nothing(
    store: Store, backend: Database
) -> None:
    alice = await new_contact(store)
    conversations = store.conversations
    await conversations.set_state(alice, "feedback", "kind", {"text": "x"}, NOW)
    version = await conversations.set_state(alice, "feedback", "confirm", {"text": "x"}, NOW)

    assert (
        await store.feedback.add_item(item(alice), NOW, conversation_version=version - 1) is None
    )
    assert await count(backend, FeedbackItem) == 0
    assert await count(backend, ItemEvent) == 0
    state = await conversations.get_state(alice)
    assert state is not None and state.version == version  # the conversation is untouched

    added = await store.feedback.add_item(item(alice), NOW, conversation_version=version)
    assert added is not None and added.reference == "F-2026-0001"
    assert await conversations.get_state(alice) is None  # submitting ends the flow
    # The same confirmation again (pressed twice, replayed after a crash) adds nothing.
    assert await store.feedback.add_item(item(alice), NOW, conversation_version=version) is None
    assert await count(backend, FeedbackItem) == 1


async def test_add_item_without_a_conversation_stores_nothing(
    store: Store, backend: Database
) -> None:
    alice = await new_contact(store)

    assert await store.feedback.add_item(item(alice), NOW, conversation_version=1) is None
    assert await count(backend, FeedbackItem) == 0


async def test_items_are_routed_to_the_owner_or_the_default_group(store: Store) -> None:
    alice = await new_contact(store)

    owned = await store.feedback.add_item(item(alice, "wohnen"), NOW)
    unowned = await store.feedback.add_item(item(alice, "sonstiges"), NOW)

    assert owned is not None and owned.group_key == "uag-wohnen"
    assert unowned is not None and unowned.group_key == "ag"


async def test_unknown_field_raises_and_stores_nothing(store: Store, backend: Database) -> None:
    alice = await new_contact(store)

    with pytest.raises(UnknownField):
        await store.feedback.add_item(item(alice, "raumfahrt"), NOW)

    assert await count(backend, FeedbackItem) == 0
    after = await store.feedback.add_item(item(alice), NOW)
    assert after is not None and after.reference == "F-2026-0001"  # no number was used up


async def test_sync_from_config_is_idempotent(store: Store, backend: Database) -> None:
    before = [(f.key, f.name, f.names, f.position) for f in await store.groups.list_fields()]

    await store.groups.sync_from_config(FIELDS, GROUPS)
    await store.groups.sync_from_config(FIELDS, GROUPS)

    after = [(f.key, f.name, f.names, f.position) for f in await store.groups.list_fields()]
    assert (
        after
        == before
        == [
            ("bildung", "Bildung und Sprache", {"en": "Education and language"}, 0),
            ("wohnen", "Wohnen", {}, 1),
            ("sonstiges", "Sonstiges", {}, 2),
        ]
    )
    assert [g.key for g in await store.groups.list_groups()] == ["ag", "uag-bildung", "uag-wohnen"]
    assert await count(backend, GroupField) == 2


async def test_sync_deactivates_removed_fields_and_moves_ownership(
    store: Store, backend: Database
) -> None:
    alice = await new_contact(store)
    old = await store.feedback.add_item(item(alice, "wohnen"), NOW)
    assert old is not None

    await store.groups.sync_from_config(
        (FieldSpec("sonstiges", "Sonstiges"), FieldSpec("bildung", "Bildung")),
        (
            GroupSpec("ag", "AG Integration", fields=("bildung",), is_default=True),
            GroupSpec("uag-wohnen", "Unter-AG Wohnen"),
        ),
    )

    assert [f.key for f in await store.groups.list_fields()] == ["sonstiges", "bildung"]
    removed = await store.groups.get_field("wohnen")
    assert removed is not None and removed.active is False  # kept: items refer to it
    moved = await store.feedback.add_item(item(alice, "bildung"), NOW)
    assert moved is not None and moved.group_key == "ag"
    (kept,) = await rows(backend, FeedbackItem, FeedbackItem.reference == old.reference)
    assert kept.field_key == "wohnen"


async def test_conversation_versions_only_grow(store: Store) -> None:
    alice = await new_contact(store)
    conversations = store.conversations

    versions = [
        await conversations.set_state(alice, "feedback", step, {"step": step}, NOW)
        for step in ("text", "kind", "field")
    ]
    assert versions == sorted(set(versions))
    assert await conversations.clear_state(alice) is True
    assert await conversations.get_state(alice) is None
    assert await conversations.clear_state(alice) is False
    restarted = await conversations.set_state(alice, "feedback", "kind", {}, NOW)

    # A new flow never reuses a version: a button from the old flow cannot match it.
    assert restarted > versions[-1]
    state = await conversations.get_state(alice)
    assert state is not None and (state.step, state.version) == ("kind", restarted)


async def test_conversation_data_round_trips(store: Store) -> None:
    alice = await new_contact(store)
    data = {"text": "Grüße 🌍", "anonymous": False, "field": "bildung"}

    await store.conversations.set_state(alice, "feedback", "confirm", data, NOW)

    state = await store.conversations.get_state(alice)
    assert state is not None and state.data == data


async def test_pending_attachments_are_limited_and_bound_to_the_item(
    store: Store, backend: Database
) -> None:
    alice = await new_contact(store)
    conversations = store.conversations
    held = [
        await conversations.add_pending_attachment(
            alice,
            kind="photo",
            file_name=f"{n}.jpg",
            mime_type="image/jpeg",
            data=b"img%d" % n,
            now=NOW,
            limit=2,
        )
        for n in range(3)
    ]
    assert held == [1, 2, -1]
    assert await count(backend, Attachment) == 2

    added = await store.feedback.add_item(item(alice), NOW)

    assert added is not None
    files = await rows(backend, Attachment)
    assert {f.item_id for f in files} == {added.id}
    (summary,) = await store.feedback.list_items_for_contact(alice)
    assert summary.attachments == 2


async def test_clear_state_drops_pending_attachments_only(store: Store, backend: Database) -> None:
    alice = await new_contact(store)
    conversations = store.conversations

    async def attach(name: str) -> None:
        await conversations.add_pending_attachment(
            alice,
            kind="document",
            file_name=name,
            mime_type="application/pdf",
            data=b"%PDF",
            now=NOW,
            limit=10,
        )

    await attach("submitted.pdf")
    await store.feedback.add_item(item(alice), NOW)
    await conversations.set_state(alice, "feedback", "kind", {}, NOW)
    await attach("pending.pdf")

    await conversations.clear_state(alice)

    assert [f.file_name for f in await rows(backend, Attachment)] == ["submitted.pdf"]


async def test_items_are_visible_to_their_author_only(store: Store) -> None:
    alice = await new_contact(store, "alice")
    bob = await new_contact(store, "bob")
    for n in range(3):
        await store.feedback.add_item(item(alice, text=f"alice {n}"), NOW + timedelta(hours=n))
    await store.feedback.add_item(item(bob), NOW)

    mine = await store.feedback.list_items_for_contact(alice)

    assert [s.reference for s in mine] == ["F-2026-0003", "F-2026-0002", "F-2026-0001"]
    assert await store.feedback.get_item_for_contact(alice, "f-2026-0002") is not None
    assert await store.feedback.get_item_for_contact(bob, "F-2026-0002") is None
    assert await store.feedback.get_item_for_contact(alice, "F-2026-0004") is None


async def test_get_or_add_contact_is_idempotent(store: Store, backend: Database) -> None:
    key = ContactKey("matrix", "@alice:example.org", "!dm:example.org", "Alice")

    first, created = await store.contacts.get_or_add_contact(key, NOW)
    again, created_again = await store.contacts.get_or_add_contact(key, NOW + timedelta(hours=1))

    assert (created, created_again) == (True, False)
    assert again.id == first.id
    assert await count(backend, Contact) == 1
    other, other_created = await store.contacts.get_or_add_contact(
        ContactKey("telegram", "@alice:example.org", "1"), NOW
    )
    assert other_created is True and other.id != first.id  # one contact per platform


async def test_contact_follows_a_new_chat_and_keeps_its_language(store: Store) -> None:
    alice = await new_contact(store)
    await store.contacts.set_language(alice, "en")

    moved, _ = await store.contacts.get_or_add_contact(
        ContactKey("telegram", "alice", "new-chat", "Alice"), NOW + timedelta(minutes=1)
    )

    assert (moved.id, moved.chat_id, moved.language) == (alice, "new-chat", "en")
    stored = await store.contacts.get_contact(alice)
    assert stored is not None and stored.chat_id == "new-chat"


async def test_datetimes_round_trip_as_aware_utc(store: Store) -> None:
    berlin = datetime(2026, 7, 1, 23, 45, 30, 123456, tzinfo=ZoneInfo("Europe/Berlin"))
    contact, _ = await store.contacts.get_or_add_contact(ContactKey("console", "c", "c"), berlin)
    assert contact.id is not None

    stored = await store.contacts.get_contact(contact.id)

    assert stored is not None
    assert stored.created_at == berlin
    assert stored.created_at.tzinfo is UTC
    assert stored.created_at.hour == 21  # 23:45 in Berlin summer time is 21:45 UTC


async def test_naive_datetimes_are_refused(store: Store, backend: Database) -> None:
    with pytest.raises(StatementError, match="naive datetime"):
        await store.contacts.get_or_add_contact(
            ContactKey("console", "n", "n"), datetime(2026, 1, 1, 12, 0)
        )
    assert await count(backend, Contact) == 0


async def test_conversation_state_row_belongs_to_a_contact(
    store: Store, backend: Database
) -> None:
    alice = await new_contact(store)
    await store.conversations.set_state(alice, "feedback", "text", {}, NOW)

    (state,) = await rows(backend, ConversationState)

    assert state.contact_id == alice
    assert state.updated_at == NOW


async def test_a_failing_statement_does_not_carry_its_parameters(backend: Database) -> None:
    """The error of a failing statement is logged with its traceback: it must not hold the
    resident's name or text it was about to store."""
    values: dict[str, Any] = {"platform": "telegram", "user_id": None, "chat_id": "1"}
    values |= {"display_name": "Amira Yilmaz", "created_at": NOW, "last_seen_at": NOW}
    with pytest.raises(IntegrityError) as raised:
        await backend.run(lambda session: session.exec(insert(Contact).values(values)))
    assert "Amira" not in str(raised.value)


# ---- Database.run: one transaction, never on the event loop's back -------------------------


async def test_a_transaction_that_fails_is_rolled_back(backend: Database) -> None:
    def add_then_fail(session: Session) -> None:
        session.add(
            Contact(platform="console", user_id="x", chat_id="x", created_at=NOW, last_seen_at=NOW)
        )
        session.flush()
        raise ValueError("bad input")

    with pytest.raises(ValueError, match="bad input"):
        await backend.run(add_then_fail)

    assert await count(backend, Contact) == 0


async def test_a_write_waits_for_another_writer_without_stalling_the_loop(
    store: Store, backend: Database
) -> None:
    """Another process (the CLI, say) holds the write lock: the bot's write waits its turn,
    and meanwhile the event loop keeps answering everyone else."""
    other = await backend.engine.connect()
    try:
        if backend.is_postgres:  # SQLite locks the whole database for one writer anyway
            await other.execute(text("LOCK TABLE contact IN EXCLUSIVE MODE"))
        await other.execute(
            insert(Contact).values(
                platform="console", user_id="cli", chat_id="", created_at=NOW, last_seen_at=NOW
            )
        )
        write = asyncio.create_task(store.contacts.open_turn(ALICE, NOW))
        loop = asyncio.get_running_loop()
        started = loop.time()
        for _ in range(20):  # the loop keeps running while the write waits for the lock
            await asyncio.sleep(0.005)
        assert loop.time() - started < 1.0  # a loop waiting for the lock would stall here
        assert not write.done()
        await other.commit()
    finally:
        await other.close()

    contact, created, _ = await write
    assert created and contact.user_id == "alice"
    assert await count(backend, Contact) == 2  # nothing lost: the other writer's row and ours


# ---- the calls every update makes: what they return is what a query loads, and an item is
# ---- committed with its history, files and announcements, or not at all

ROUTED_FIELDS = (FieldSpec("bildung", "Bildung"), FieldSpec("sonstiges", "Sonstiges"))
ROUTED_GROUPS = (
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
async def routed(backend: Database) -> Store:
    """Stores whose bildung items go to a group with two chats, the rest to the default."""
    store = Store.over(backend)
    await store.groups.sync_from_config(ROUTED_FIELDS, ROUTED_GROUPS)
    return store


def submitted(contact_id: int, field_key: str = "bildung") -> NewItem:
    return NewItem(contact_id, "suggestion", field_key, "Mehr Kurse", "de", False, "telegram")


async def loaded(db: Database, model: type[SQLModel], *where: Any) -> Any:
    """The one row, as a query loads it."""
    (row,) = await rows(db, model, *where)
    return row


def assert_as_loaded(made: SQLModel, orm: SQLModel) -> None:
    """`made` is what a query would have returned: same values, detached, nothing pending."""
    assert type(made) is type(orm)
    assert made.model_dump() == orm.model_dump()
    state = inspect(made)
    assert state.detached and state.identity == inspect(orm).identity
    assert not state.modified and not state.expired_attributes


async def contact_row(db: Database, contact_id: int) -> Contact:
    result: Contact = await loaded(db, Contact, Contact.id == contact_id)
    return result


async def set_contact(db: Database, contact_id: int, **values: Any) -> None:
    if values:
        change = update(Contact).where(col(Contact.id) == contact_id).values(**values)
        await db.run(lambda session: session.exec(change))


async def test_open_turn_returns_the_contact_and_its_step_as_loaded(
    routed: Store, backend: Database
) -> None:
    contact, created, state = await routed.contacts.open_turn(ALICE, NOW)
    assert created is True and state is None  # a new contact is in no flow
    assert contact.id is not None
    assert_as_loaded(contact, await contact_row(backend, contact.id))
    await routed.conversations.set_state(contact.id, "feedback", "kind", {"text": "x"}, NOW)

    again, created, state = await routed.contacts.open_turn(ALICE, NOW + timedelta(seconds=1))

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
    assert (await routed.contacts.open_turn(ALICE, NOW, with_state=False))[2] is None
    await routed.conversations.clear_state(contact.id)
    assert (await routed.contacts.open_turn(ALICE, NOW))[2] is None  # the flow ended


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
    routed: Store,
    backend: Database,
    seen_as: ContactKey,
    changes: dict[str, Any],
    refreshed: bool,
) -> None:
    first, _, _ = await routed.contacts.open_turn(ALICE, NOW)
    assert first.id is not None
    await set_contact(backend, first.id, **changes)
    soon = NOW + LAST_SEEN_RESOLUTION - timedelta(seconds=1)

    contact, _, _ = await routed.contacts.open_turn(seen_as, soon)

    stored = await contact_row(backend, first.id)
    assert_as_loaded(contact, stored)
    assert stored.last_seen_at == (soon if refreshed else NOW)
    assert (
        stored.blocked_at is None if refreshed else stored.blocked_at == changes.get("blocked_at")
    )
    assert stored.chat_id == (seen_as.chat_id or "chat-alice")  # a group chat keeps the DM
    assert stored.display_name == (seen_as.display_name or "Alice")
    later = soon + LAST_SEEN_RESOLUTION
    await routed.contacts.open_turn(ALICE, later)
    assert (await contact_row(backend, first.id)).last_seen_at == later  # old: refreshed


async def test_a_contact_created_concurrently_is_created_once(
    routed: Store, backend: Database
) -> None:
    turns = await asyncio.gather(*(routed.contacts.open_turn(ALICE, NOW) for _ in range(8)))

    assert sorted(created for _, created, _ in turns) == [False] * 7 + [True]
    assert len({contact.id for contact, _, _ in turns}) == 1
    assert await count(backend, Contact) == 1


async def test_get_group_is_the_group_as_loaded(routed: Store, backend: Database) -> None:
    group = await routed.groups.get_group("ag")

    assert group is not None and group.names == {"en": "Working group"}
    assert_as_loaded(group, await loaded(backend, WorkingGroup, WorkingGroup.key == "ag"))
    assert await routed.groups.get_group("nobody") is None


async def test_add_item_returns_the_item_as_loaded_with_history_and_files(
    routed: Store, backend: Database
) -> None:
    contact, _, _ = await routed.contacts.open_turn(ALICE, NOW)
    assert contact.id is not None
    for name in ("a.jpg", "b.jpg"):
        await routed.conversations.add_pending_attachment(
            contact.id, kind="photo", file_name=name, mime_type="image/jpeg", data=b"x",
            now=NOW, limit=5,
        )  # fmt: skip
    version = await routed.conversations.set_state(contact.id, "feedback", "confirm", {}, NOW)
    seen: list[tuple[FeedbackItem, list[GroupChat], list[int]]] = []

    def notify(new: FeedbackItem, chats: list[GroupChat], files: list[int]) -> list[NewMessage]:
        seen.append((new, chats, files))
        return [
            NewMessage(f"new:{c.chat_id}", c.platform, c.chat_id, {"t": 1}, NOW) for c in chats
        ]

    added = await routed.feedback.add_item(
        submitted(contact.id), NOW, conversation_version=version, notify=notify
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


async def test_items_of_an_unowned_field_go_to_the_default_group_with_its_days(
    routed: Store,
) -> None:
    contact, _, _ = await routed.contacts.open_turn(ALICE, NOW)
    assert contact.id is not None

    added = await routed.feedback.add_item(submitted(contact.id, "sonstiges"), NOW)

    assert added is not None and added.group_key == "ag"
    assert added.answer_due_at == NOW + timedelta(days=21)


async def test_an_unowned_field_without_a_default_group_stores_nothing(
    backend: Database,
) -> None:
    store = Store.over(backend)
    await store.groups.sync_from_config(
        ROUTED_FIELDS, (GroupSpec("uag", "U", fields=("bildung",)),)
    )
    contact, _, _ = await store.contacts.open_turn(ALICE, NOW)
    assert contact.id is not None

    with pytest.raises(LookupError, match="no default group"):
        await store.feedback.add_item(submitted(contact.id, "sonstiges"), NOW)

    assert await count(backend, FeedbackItem) == 0


async def test_an_announcement_that_fails_leaves_no_item_and_the_flow_open(
    routed: Store, backend: Database
) -> None:
    contact, _, _ = await routed.contacts.open_turn(ALICE, NOW)
    assert contact.id is not None
    version = await routed.conversations.set_state(contact.id, "feedback", "confirm", {}, NOW)

    def broken(*_: Any) -> list[NewMessage]:
        raise RuntimeError("no template")

    with pytest.raises(RuntimeError):
        await routed.feedback.add_item(
            submitted(contact.id), NOW, conversation_version=version, notify=broken
        )

    for table in (FeedbackItem, ItemEvent, OutboxMessage):
        assert await count(backend, table) == 0
    state = await routed.conversations.get_state(contact.id)
    assert state is not None and state.version == version  # the resident can confirm again
    added = await routed.feedback.add_item(
        submitted(contact.id), NOW, conversation_version=version
    )
    assert added is not None and added.reference == "F-2026-0001"  # no number was used up


async def test_concurrent_submissions_get_distinct_consecutive_references(
    routed: Store,
) -> None:
    ids = []
    for n in range(10):
        contact, _, _ = await routed.contacts.open_turn(ContactKey("telegram", f"u{n}", "c"), NOW)
        assert contact.id is not None
        ids.append(contact.id)

    added = await asyncio.gather(*(routed.feedback.add_item(submitted(i), NOW) for i in ids))

    references = sorted(a.reference for a in added if a is not None)
    assert references == [f"F-2026-{n:04d}" for n in range(1, 11)]


async def test_add_messages_counts_only_new_keys_in_any_number(backend: Database) -> None:
    def enqueue(keys: range) -> Callable[[Session], int]:
        messages = [NewMessage(f"k{n}", "telegram", "c", {"n": n}, NOW) for n in keys]
        return lambda session: add_messages(session, messages, NOW)

    assert await backend.run(enqueue(range(1))) == 1
    assert await backend.run(enqueue(range(2500))) == 2499  # more than one page of VALUES
    assert await backend.run(enqueue(range(2500))) == 0
    assert await backend.run(lambda session: add_messages(session, [], NOW)) == 0
    stored = await loaded(backend, OutboxMessage, OutboxMessage.idempotency_key == "k7")
    assert (stored.payload, stored.due_at, stored.created_at) == ({"n": 7}, NOW, NOW)


async def test_the_write_ahead_log_reaches_the_database_file_while_the_bot_runs(
    tmp_path: Path,
) -> None:
    """The transactions never checkpoint themselves (a checkpoint's fsync inside a commit
    held up every transaction queued behind it); the checkpoint thread does, every
    `CHECKPOINT_EVERY` transactions, so the database file itself is current, not only the
    log, long before the bot stops."""
    db = Database(sqlite_url(tmp_path))
    await db.create_all()
    try:
        store = Store.over(db)
        for n in range(CHECKPOINT_EVERY):
            await store.contacts.get_or_add_contact(ContactKey("telegram", f"u{n}", f"{n}"), NOW)
        await db.wait_for_checkpoint()
        # Read the database file alone, as if the log were lost: the contacts are in it.
        with closing(sqlite3.connect(f"file:{tmp_path}/t.db?immutable=1", uri=True)) as file:
            (in_file,) = file.execute("SELECT count(*) FROM contact").fetchone()
        assert in_file == CHECKPOINT_EVERY
    finally:
        await db.dispose()
