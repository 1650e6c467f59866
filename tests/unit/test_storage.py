"""Contract tests of the stores, run on SQLite and on PostgreSQL alike."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import insert
from sqlalchemy.exc import IntegrityError, StatementError

from storage.contacts import ContactKey
from storage.db import Database
from storage.groups import FieldSpec, GroupSpec, UnknownField
from storage.items.feedback import NewItem
from storage.models import (
    Attachment,
    Contact,
    ConversationState,
    FeedbackItem,
    GroupField,
    ItemEvent,
)
from storage.store import Store
from testkit.support import count, rows

NOW = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)
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
    values = {"platform": "telegram", "user_id": None, "chat_id": "1"}
    values |= {"display_name": "Amira Yilmaz", "created_at": NOW, "last_seen_at": NOW}
    for quick in (False, True):
        with pytest.raises(IntegrityError) as raised:
            await backend.run(lambda s: s.execute(insert(Contact).values(values)), quick=quick)
        assert "Amira" not in str(raised.value)
