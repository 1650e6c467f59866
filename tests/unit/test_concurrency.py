"""Many residents at once: nothing lost, nothing merged; one chat is handled in order."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from sqlmodel import col

from bot.app import App, bootstrap
from bot.config import Settings
from handlers.messages import Incoming, Reply
from storage.db import Database
from storage.models import Contact, FeedbackItem, ItemEvent
from testkit.support import FakeClock, Resident, count, rows

RESIDENTS = 50
ITEMS_EACH = 20
REFERENCE = re.compile(r"Ihre Referenz: (F-2026-\d{4})")


@pytest.fixture
async def app_on_backend(
    settings: Settings, clock: FakeClock, backend: Database
) -> AsyncIterator[App]:
    """The real app on SQLite and on PostgreSQL (the backend fixture disposes the engine)."""
    wired = await bootstrap(settings, clock=clock, db=backend, migrate=False, channels=())
    yield wired.app


async def test_1000_items_from_50_concurrent_sessions(
    app_on_backend: App, clock: FakeClock, capsys: pytest.CaptureFixture[str]
) -> None:
    app = app_on_backend

    async def handle(incoming: Incoming) -> list[Reply]:
        # Three seconds per update keeps every resident under the flood limit (20 a minute)
        # however the 50 sessions interleave; the flood guard is not under test here.
        clock.advance(timedelta(seconds=3))
        return await app.handle(incoming)

    async def session(resident: Resident) -> list[tuple[str, str]]:
        submitted = []
        for n in range(ITEMS_EACH):
            text = f"{resident.name}: Rückmeldung Nummer {n}"
            answer = await resident.submit(
                text, field="Sonstiges" if n % 2 else "Bildung und Sprache"
            )
            found = REFERENCE.search(answer)
            assert found is not None, answer
            submitted.append((found.group(1), text))
        return submitted

    residents = [Resident(handle, f"r{i:02d}") for i in range(RESIDENTS)]
    started = time.perf_counter()
    results = await asyncio.gather(*(session(r) for r in residents))
    elapsed = time.perf_counter() - started
    with capsys.disabled():
        print(
            f"\n  {RESIDENTS * ITEMS_EACH} items on {app.db.engine.dialect.name}: {elapsed:.1f} s"
        )

    told = [reference for submitted in results for reference, _ in submitted]
    assert len(told) == len(set(told)) == RESIDENTS * ITEMS_EACH
    assert sorted(told) == [f"F-2026-{n:04d}" for n in range(1, RESIDENTS * ITEMS_EACH + 1)]
    items = await rows(app.db, FeedbackItem)
    assert len(items) == RESIDENTS * ITEMS_EACH
    assert await count(app.db, ItemEvent) == RESIDENTS * ITEMS_EACH
    contacts = {c.id: c.user_id for c in await rows(app.db, Contact)}
    for resident, submitted in zip(residents, results, strict=True):
        mine = {
            (item.reference, item.text)
            for item in items
            if contacts[item.contact_id] == f"u-{resident.name}"
        }
        assert mine == set(submitted)  # exactly their 20 items, with their own texts


async def test_updates_of_one_chat_at_the_same_instant_are_handled_in_order(
    app: App, alice: Resident
) -> None:
    # A fast typist (or a client replaying its queue) sends the whole flow at once.
    sent = [
        alice.incoming(text="Gleichzeitig"),
        alice.incoming(text="3"),  # Frage
        alice.incoming(text="7"),  # Sonstiges
        alice.incoming(text="1"),  # Anonym bleiben
        alice.incoming(text="1"),  # Abschicken
    ]

    answers = await asyncio.gather(*(app.handle(incoming) for incoming in sent))

    assert [a[-1].text.splitlines()[0] for a in answers] == [
        "Was für eine Rückmeldung ist das?",
        "Zu welchem Handlungsfeld gehört sie?",
        "Soll die Arbeitsgruppe Ihren Namen sehen? Anonym bedeutet: "
        "Die Arbeitsgruppe sieht nur Ihren Text, nicht wer Sie sind.",
        "Bitte prüfen Sie Ihre Rückmeldung:",
        "Vielen Dank! Ihre Rückmeldung ist eingegangen.",
    ]
    (item,) = await rows(app.db, FeedbackItem)
    assert (item.text, item.kind, item.field_key, item.anonymous) == (
        "Gleichzeitig",
        "question",
        "sonstiges",
        True,
    )


async def test_different_chats_are_not_held_up_by_each_other(
    app: App, alice: Resident, bob: Resident
) -> None:
    await alice.say("Alice fängt an")
    await bob.say("Bob fängt an")

    alice_answer, bob_answer = await asyncio.gather(
        app.handle(alice.incoming(text="1")), app.handle(bob.incoming(text="2"))
    )

    assert alice_answer[-1].text == bob_answer[-1].text == "Zu welchem Handlungsfeld gehört sie?"
    states = {
        c.user_id: await app.store.conversations.get_state(c.id or 0)
        for c in await rows(app.db, Contact, col(Contact.user_id).in_(["u-alice", "u-bob"]))
    }
    assert {user: (s.data["text"], s.data["kind"]) for user, s in states.items() if s} == {
        "u-alice": ("Alice fängt an", "suggestion"),
        "u-bob": ("Bob fängt an", "criticism"),
    }
