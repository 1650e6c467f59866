"""The outbox store, as one contract run on SQLite and on PostgreSQL (`backend`)."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from storage.db import Database
from storage.models import OutboxMessage, OutboxState
from storage.outbox import NewMessage, OutboxStore
from testkit.support import DEFAULT_NOW, rows

LEASE = timedelta(seconds=60)
T0 = DEFAULT_NOW


def message(key: str, chat: str = "c1", due: datetime = T0, **extra: object) -> NewMessage:
    return NewMessage(key, "telegram", chat, {"text": key}, due, **extra)  # type: ignore[arg-type]


@pytest.fixture
def outbox(backend: Database) -> OutboxStore:
    return OutboxStore(backend)


async def claim(
    outbox: OutboxStore, now: datetime = T0, worker: str = "w1", limit: int = 100
) -> list[OutboxMessage]:
    return await outbox.claim_due(now, limit=limit, worker=worker, lease=LEASE)


async def test_enqueue_is_idempotent(outbox: OutboxStore, backend: Database) -> None:
    assert await outbox.enqueue([message("k1"), message("k2")], T0) == 2
    assert await outbox.enqueue([message("k1")], T0) == 0
    assert await outbox.enqueue([message("k2"), message("k3")], T0) == 1

    stored = await rows(backend, OutboxMessage)
    assert sorted(r.idempotency_key for r in stored) == ["k1", "k2", "k3"]
    first = await outbox.get_by_key("k1")
    assert first is not None
    assert first.state == OutboxState.PENDING
    assert first.attempts == 0
    assert first.payload == {"text": "k1"}


async def test_enqueue_in_chunks(outbox: OutboxStore) -> None:
    many = [message(f"k{n}", chat=f"c{n}") for n in range(1_234)]
    assert await outbox.enqueue(many, T0) == 1_234
    assert await outbox.enqueue(many, T0) == 0


async def test_claim_takes_only_due_rows_oldest_first(outbox: OutboxStore) -> None:
    await outbox.enqueue(
        [
            message("later", due=T0 + timedelta(seconds=30)),
            message("second", due=T0 - timedelta(seconds=1)),
            message("first", due=T0 - timedelta(minutes=1)),
        ],
        T0,
    )
    claimed = await claim(outbox)
    assert [r.idempotency_key for r in claimed] == ["first", "second"]
    assert all(r.claimed_by == "w1" and r.claimed_until == T0 + LEASE for r in claimed)

    later = await claim(outbox, T0 + timedelta(seconds=30), worker="w2")
    assert [r.idempotency_key for r in later] == ["later"]  # the others are still leased


async def test_claim_respects_the_limit(outbox: OutboxStore) -> None:
    await outbox.enqueue([message(f"k{n}", chat=f"c{n}") for n in range(10)], T0)
    assert len(await claim(outbox, limit=4)) == 4
    assert len(await claim(outbox, limit=4, worker="w2")) == 4
    assert len(await claim(outbox, limit=4, worker="w3")) == 2


async def test_a_claimed_row_is_not_claimed_again_until_its_lease_ran_out(
    outbox: OutboxStore,
) -> None:
    await outbox.enqueue([message("k1")], T0)
    assert len(await claim(outbox, worker="w1")) == 1

    assert await claim(outbox, T0 + LEASE - timedelta(seconds=1), worker="w2") == []
    assert await claim(outbox, T0 + LEASE, worker="w2") == []  # still held at the instant
    again = await claim(outbox, T0 + LEASE + timedelta(seconds=1), worker="w2")
    assert [(r.idempotency_key, r.claimed_by) for r in again] == [("k1", "w2")]


async def test_set_sent_finishes_the_row(outbox: OutboxStore) -> None:
    await outbox.enqueue([message("k1")], T0)
    (row,) = await claim(outbox)
    assert row.id is not None
    await outbox.set_sent(row.id, T0 + timedelta(seconds=2))

    stored = await outbox.get_by_key("k1")
    assert stored is not None
    assert (stored.state, stored.attempts, stored.sent_at) == (
        OutboxState.SENT,
        1,
        T0 + timedelta(seconds=2),
    )
    assert stored.claimed_by is None and stored.claimed_until is None
    assert await claim(outbox, T0 + timedelta(hours=1)) == []


async def test_set_failed_makes_the_row_due_again_later(outbox: OutboxStore) -> None:
    await outbox.enqueue([message("k1")], T0)
    (row,) = await claim(outbox)
    assert row.id is not None
    retry_at = T0 + timedelta(seconds=30)
    await outbox.set_failed(row.id, "Bad Gateway", retry_at)

    stored = await outbox.get_by_key("k1")
    assert stored is not None
    assert (stored.state, stored.attempts, stored.last_error, stored.due_at) == (
        OutboxState.FAILED,
        1,
        "Bad Gateway",
        retry_at,
    )
    assert await claim(outbox, retry_at - timedelta(seconds=1)) == []
    (again,) = await claim(outbox, retry_at)
    assert again.attempts == 1


async def test_set_dead_gives_up(outbox: OutboxStore) -> None:
    await outbox.enqueue([message("k1")], T0)
    (row,) = await claim(outbox)
    assert row.id is not None
    await outbox.set_dead(row.id, "x" * 5000)

    stored = await outbox.get_by_key("k1")
    assert stored is not None
    assert stored.state == OutboxState.DEAD
    assert stored.last_error == "x" * 1000
    assert await claim(outbox, T0 + timedelta(days=1)) == []


async def test_skip_chat_skips_only_that_chats_waiting_rows(outbox: OutboxStore) -> None:
    await outbox.enqueue(
        [
            message("blocked-1", chat="blocked"),
            message("blocked-2", chat="blocked", due=T0 + timedelta(hours=1)),
            message("blocked-sent", chat="blocked"),
            message("other", chat="other"),
        ],
        T0,
    )
    sent = await outbox.get_by_key("blocked-sent")
    assert sent is not None and sent.id is not None
    await outbox.set_sent(sent.id, T0)

    assert await outbox.skip_chat("telegram", "blocked", "Forbidden: bot was blocked") == 2
    assert await outbox.skip_chat("matrix", "other", "wrong platform") == 0

    states = {r.idempotency_key: r.state for r in await rows(outbox._db, OutboxMessage)}
    assert states == {
        "blocked-1": OutboxState.SKIPPED,
        "blocked-2": OutboxState.SKIPPED,
        "blocked-sent": OutboxState.SENT,
        "other": OutboxState.PENDING,
    }


async def test_release_gives_rows_back_at_once(outbox: OutboxStore) -> None:
    await outbox.enqueue([message("k1"), message("k2", chat="c2")], T0)
    claimed = await claim(outbox, worker="w1")
    await outbox.release([r.id for r in claimed if r.id is not None], "w1")
    await outbox.release([], "w1")

    again = await claim(outbox, worker="w2")
    assert sorted((r.idempotency_key, r.claimed_by) for r in again) == [
        ("k1", "w2"),
        ("k2", "w2"),
    ]


async def test_extend_claims_prolongs_only_the_workers_own_lease(outbox: OutboxStore) -> None:
    await outbox.enqueue([message("mine"), message("theirs", chat="c2")], T0)
    (mine,) = await outbox.claim_due(T0, limit=1, worker="w1", lease=LEASE)
    (theirs,) = await outbox.claim_due(T0, limit=1, worker="w2", lease=LEASE)
    later = T0 + 3 * LEASE
    await outbox.extend_claims([r.id for r in (mine, theirs) if r.id is not None], "w1", later)
    await outbox.extend_claims([], "w1", later)

    retaken = await claim(outbox, T0 + 2 * LEASE, worker="w3")
    assert [r.idempotency_key for r in retaken] == [theirs.idempotency_key]
    stored = await outbox.get_by_key("mine")
    assert stored is not None
    assert (stored.claimed_by, stored.claimed_until) == ("w1", later)


async def test_next_due_at_is_the_earliest_waiting_row(outbox: OutboxStore) -> None:
    assert await outbox.next_due_at() is None
    await outbox.enqueue(
        [
            message("soon", due=T0 + timedelta(minutes=1)),
            message("later", due=T0 + timedelta(minutes=9)),
            message("done", due=T0 - timedelta(minutes=1)),
        ],
        T0,
    )
    done = await outbox.get_by_key("done")
    assert done is not None and done.id is not None
    await outbox.set_sent(done.id, T0)

    assert await outbox.next_due_at() == T0 + timedelta(minutes=1)


async def test_progress_counts_by_key_prefix(outbox: OutboxStore) -> None:
    await outbox.enqueue(
        [message(f"announcement:a1:{n}", chat=f"c{n}") for n in range(5)]
        + [message("announcement:a2:0", chat="x"), message("reminder:1", chat="y")],
        T0,
    )
    ids = {}
    for r in await claim(outbox):
        ids[r.idempotency_key] = r.id
    await outbox.set_sent(ids["announcement:a1:0"], T0)
    await outbox.set_sent(ids["announcement:a1:1"], T0)
    await outbox.set_dead(ids["announcement:a1:2"], "Bad Request")
    await outbox.skip_chat("telegram", "c3", "blocked")

    progress = await outbox.progress("announcement:a1:")
    assert (progress.waiting, progress.sent, progress.dead, progress.skipped) == (1, 2, 1, 1)
    assert progress.total == 5
    assert progress.by_state[OutboxState.PENDING] == 1
    assert (await outbox.progress("nothing:")).total == 0


async def test_next_due_at_waits_for_a_lease_to_run_out(outbox: OutboxStore) -> None:
    await outbox.enqueue([message("held")], T0)
    await claim(outbox, worker="w1")

    assert await outbox.next_due_at() == T0 + LEASE  # not "now": another worker holds it
    await outbox.enqueue([message("free", due=T0 + timedelta(seconds=5))], T0)
    assert await outbox.next_due_at() == T0 + timedelta(seconds=5)


async def test_a_row_claimed_by_another_after_the_lease_ran_out_is_not_sent_twice(
    outbox: OutboxStore,
) -> None:
    """A process whose loop lagged behind its lease finds, right before sending, that
    another process claimed the row: it leaves it to that one, and does not give it back."""
    await outbox.enqueue([message("k1")], T0)
    (mine,) = await claim(outbox, worker="w1")
    assert mine.id is not None
    assert await outbox.extend_claims([mine.id], "w1", T0 + LEASE) == 1  # still mine: renewed
    late = T0 + 2 * LEASE + timedelta(seconds=1)
    (theirs,) = await claim(outbox, now=late, worker="w2")
    assert theirs.id == mine.id
    assert await outbox.extend_claims([mine.id], "w1", late + LEASE) == 0
    await outbox.release([mine.id], "w1")  # w1 stops: w2's claim stays
    assert await claim(outbox, now=late, worker="w3") == []
    assert await outbox.extend_claims([theirs.id], "w2", late + LEASE) == 1
    await outbox.set_sent(theirs.id, late)
    assert await outbox.extend_claims([theirs.id], "w2", late + LEASE) == 0  # sent: not held
