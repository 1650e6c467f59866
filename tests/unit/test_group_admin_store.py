"""The storage behind `mitreden group|coordinator|outbox`, on SQLite and on PostgreSQL: a
configuration entry applied only when it changed, a group removed with its items moved, and
dead outbox messages counted, listed without their payload and queued again."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from storage.contacts import ContactKey
from storage.db import Database
from storage.groups import FieldSpec, GroupInUse, GroupSpec, Holdings
from storage.items.feedback import NewItem
from storage.models import FeedbackItem, ItemEvent, OutboxState, WorkingGroup
from storage.outbox import NewMessage
from storage.store import Store
from testkit.support import rows

NOW = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)
FIELDS = (FieldSpec("bildung", "Bildung"), FieldSpec("wohnen", "Wohnen"))
AG = GroupSpec("ag", "AG Integration", is_default=True)
BILDUNG = GroupSpec(
    "uag-bildung",
    "Unter-AG Bildung",
    fields=("bildung",),
    coordinators=(("telegram", "u-cora"),),
    chats=(("telegram", "-100"),),
)


async def answer_days(store: Store, key: str) -> int | None:
    group = await store.groups.get_group(key)
    return group.answer_days if group is not None else None


async def test_an_entry_is_applied_when_new_or_changed_only(backend: Database) -> None:
    store = Store.over(backend)
    assert await store.groups.sync_from_config(FIELDS, (AG, BILDUNG)) == ["ag", "uag-bildung"]
    await store.membership.save_group(
        GroupSpec("uag-bildung", "Unter-AG Bildung", fields=("bildung",), answer_days=10)
    )
    assert await store.membership.remove_coordinator("uag-bildung", "telegram", "u-cora")

    assert await store.groups.sync_from_config(FIELDS, (AG, BILDUNG)) == []  # unchanged
    assert await answer_days(store, "uag-bildung") == 10
    assert await store.membership.list_coordinators("uag-bildung") == []

    changed = replace(BILDUNG, answer_days=21)
    assert await store.groups.sync_from_config(FIELDS, (AG, changed)) == ["uag-bildung"]
    assert await answer_days(store, "uag-bildung") == 21
    assert [c.user_id for c in await store.membership.list_coordinators("uag-bildung")] == [
        "u-cora"
    ]


async def test_a_group_is_removed_with_its_items_moved(backend: Database) -> None:
    store = Store.over(backend)
    await store.groups.sync_from_config(FIELDS, (AG, BILDUNG))
    contact, _ = await store.contacts.get_or_add_contact(
        ContactKey("telegram", "u-cora", "c-cora", "Cora"), NOW
    )
    assert contact.id is not None
    new = NewItem(contact.id, "suggestion", "bildung", "Mehr Kurse", "de", True, "telegram")
    added = await store.feedback.add_item(new, NOW)
    assert added is not None and added.group_key == "uag-bildung"

    (named,) = await store.groups.list_coordinators_named("uag-bildung")
    assert (named.platform, named.user_id, named.source, named.display_name) == (
        "telegram",
        "u-cora",
        "config",
        "Cora",
    )
    with pytest.raises(GroupInUse) as refused:
        await store.groups.delete_group("uag-bildung", NOW)
    assert refused.value.holdings == Holdings(
        items=1, open_items=1, fields=1, coordinators=1, chats=1
    )

    held = await store.groups.delete_group("uag-bildung", NOW, move_to="ag")

    assert held == refused.value.holdings
    assert [g.key for g in await rows(backend, WorkingGroup)] == ["ag"]
    assert [i.group_key for i in await rows(backend, FeedbackItem)] == ["ag"]
    moves = [(e.action, e.group_key) for e in await rows(backend, ItemEvent)]
    assert moves[-1] == ("assigned", "ag")
    assert await store.membership.fields_of("ag") == ["bildung"]
    # Its entry is unchanged: the next start does not bring it back.
    assert await store.groups.sync_from_config(FIELDS, (AG, BILDUNG)) == []
    assert await store.groups.get_group("uag-bildung") is None


async def test_dead_messages_are_listed_and_queued_again(backend: Database) -> None:
    store = Store.over(backend)
    outbox = store.outbox
    text = {"text": "Mehr Sprachkurse am Abend"}
    await outbox.enqueue(
        [
            NewMessage("item-new:F-1:telegram:-100", "telegram", "-100", text, NOW, True),
            NewMessage("ev3:s0:eve:c1", "matrix", "!r", text, NOW + timedelta(days=1)),
            NewMessage("digest:ag:2026-03-01:telegram:-100", "telegram", "-100", text, NOW),
        ],
        NOW,
    )
    (claimed,) = await outbox.claim_due(NOW, limit=1, worker="w", lease=timedelta(seconds=30))
    first = claimed.id
    assert first is not None and claimed.idempotency_key.startswith("item-new:")
    await outbox.set_dead(first, "Bad Request: chat not found")

    backlog = await outbox.list_backlog(NOW)
    assert [(b.kind, b.platform, b.queued, b.due, b.dead) for b in backlog] == [
        ("digest", "telegram", 0, 1, 0),
        ("event", "matrix", 1, 0, 0),
        ("item-new", "telegram", 0, 0, 1),
    ]
    dead, total = await outbox.list_dead(10)
    assert total == 1
    assert [(d.id, d.kind, d.recipient, d.attempts, d.last_error) for d in dead] == [
        (first, "item-new", "telegram:-100", 1, "Bad Request: chat not found")
    ]

    assert await outbox.retry_dead(NOW, [first + 100]) == []
    assert await outbox.retry_dead(NOW) == [first]
    again = await outbox.get_by_key("item-new:F-1:telegram:-100")
    assert again is not None
    assert (again.state, again.attempts, again.claimed_by) == (OutboxState.PENDING, 0, None)
