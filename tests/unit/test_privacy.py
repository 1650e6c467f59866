"""Residents' rights: consent before the first item, /mydata, /forget (with a scan of every
column of every table), retention with an injected clock, and /stop."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import text
from sqlmodel import SQLModel

from bot.app import App
from handlers.messages import Incoming, Reply, reply_to_payload
from handlers.retention import purge
from storage.items import Change
from storage.models import Attachment, Contact, FeedbackItem, ItemState, OutboxMessage, OutboxState
from storage.outbox import NewMessage
from tests.support import (
    FakeClock,
    Resident,
    count,
    photo,
    rows,
)

# Identifiers distinctive enough to find in any column.
NAME = "Zuleyha Quartermaine"


class Zuleyha(Resident):
    """A resident whose display name is distinctive, to be searched for after /forget."""

    def incoming(self, **values: Any) -> Incoming:
        return replace(super().incoming(**values), display_name=NAME)


async def scan_for(app: App, needles: list[str]) -> list[str]:
    """Every (table, column) whose value contains one of `needles`, in every table."""
    found: list[str] = []
    async with app.db.engine.connect() as connection:
        for table in SQLModel.metadata.sorted_tables:
            result = await connection.execute(text(f"SELECT * FROM {table.name}"))
            for row in result.mappings():
                for column, value in row.items():
                    if isinstance(value, bytes):
                        value = value.decode("utf-8", "replace")
                    if any(needle in str(value) for needle in needles):
                        found.append(f"{table.name}.{column}")
    return found


async def test_the_first_item_shows_the_notice_and_records_consent(
    app: App, alice: Resident
) -> None:
    await alice.say("Mehr Bänke im Park")
    for label in ("Vorschlag", "Wohnen und Zusammenleben im Quartier", "Anonym bleiben"):
        await alice.press(label)
    summary = alice.last_text
    assert "Wenn Sie 730 Tage lang nicht schreiben" in summary
    assert "Mit „Abschicken“ sind Sie damit einverstanden." in summary
    (contact,) = await rows(app.db, Contact)
    assert contact.consent_at is None  # nothing agreed yet
    await alice.press("Abschicken")
    (contact,) = await rows(app.db, Contact)
    assert contact.consent_at == app.clock.now()
    # The second item no longer asks.
    await alice.say("Und mehr Licht")
    for label in ("Vorschlag", "Wohnen und Zusammenleben im Quartier", "Anonym bleiben"):
        await alice.press(label)
    assert "einverstanden" not in alice.last_text


async def test_cancelling_at_the_summary_stores_neither_item_nor_consent(
    app: App, alice: Resident
) -> None:
    await alice.say("Mehr Bänke")
    for label in ("Vorschlag", "Sonstiges", "Anonym bleiben", "Abbrechen"):
        await alice.press(label)
    (contact,) = await rows(app.db, Contact)
    assert contact.consent_at is None
    assert await count(app.db, FeedbackItem) == 0


async def test_privacy_shows_what_is_stored_who_sees_it_and_how_long(alice: Resident) -> None:
    await alice.command("/privacy")
    notice = alice.last_text
    for part in ("Kennung Ihres Kontos", "Arbeitsgruppe", "730 Tage", "365 Tagen", "/forget"):
        assert part in notice


async def test_mydata_sends_everything_stored_as_a_json_file(app: App, alice: Resident) -> None:
    await alice.attach(photo())
    await alice.say("Der Spielplatz braucht Schatten")
    for label in (
        "Vorschlag",
        "Wohnen und Zusammenleben im Quartier",
        "Mit meinem Namen",
        "Abschicken",
    ):
        await alice.press(label)
    reference = alice.last_text.split("Referenz: ")[1].split()[0]
    await alice.command("/mydata")
    (reply,) = alice.replies
    (file,) = reply.files
    assert file.file_name.endswith(".json") and file.mime_type == "application/json"
    data = json.loads(file.data)
    assert data["contact"]["user_id"] == "u-alice" and data["contact"]["chat_id"] == "c-alice"
    (item,) = data["feedback"]
    assert item["reference"] == reference
    assert item["text"] == "Der Spielplatz braucht Schatten"
    assert [a["file_name"] for a in item["attachments"]] == ["pothole.jpg"]
    assert "data" not in item["attachments"][0]  # metadata, not the bytes again
    assert [h["action"] for h in item["history"]] == ["created"]


@pytest.mark.parametrize("keep", [True, False], ids=["keep-anonymous", "delete-all"])
async def test_forget_leaves_no_identifier_in_any_table(coordination: App, keep: bool) -> None:
    app = coordination
    resident = Zuleyha(app.handle, "zq7331")
    await resident.attach(photo("zq7331-face.jpg"))
    await resident.say("Bitte mehr Deutschkurse am Abend")
    for label in ("Vorschlag", "Bildung und Sprache", "Mit meinem Namen", "Abschicken"):
        await resident.press(label)
    reference = resident.last_text.split("Referenz: ")[1].split()[0]
    cora = Resident(app.handle, "cora")
    await cora.command(f"/reply {reference} Danke, wir prüfen das.")
    await resident.command(f"/reply {reference} Gerne auch samstags.")
    needles = ["u-zq7331", "c-zq7331", NAME, "zq7331-face"]
    assert await scan_for(app, needles)  # the scan does find them before

    await resident.command("/forget")
    label = "Löschen, Rückmeldungen anonym behalten" if keep else "Alles löschen"
    await resident.press(label)
    assert "Ihre Daten sind gelöscht" in resident.last_text

    assert await scan_for(app, needles) == []
    items = await rows(app.db, FeedbackItem)
    if keep:
        (item,) = items
        assert item.text == "Bitte mehr Deutschkurse am Abend"
        assert item.contact_id is None and item.anonymous
        assert await count(app.db, Attachment) == 0
    else:
        assert items == []


async def test_forget_can_be_cancelled(app: App, alice: Resident) -> None:
    await alice.command("/forget")
    await alice.press("Abbrechen")
    assert await count(app.db, Contact) == 1
    assert "nichts gelöscht" in alice.last_text


async def test_retention_erases_quiet_contacts_and_anonymises_old_finished_items(
    app: App, alice: Resident, bob: Resident, clock: FakeClock
) -> None:
    await alice.attach(photo())
    await alice.say("Alte Idee")
    for label in ("Vorschlag", "Sonstiges", "Mit meinem Namen", "Abschicken"):
        await alice.press(label)
    (item,) = await rows(app.db, FeedbackItem)
    await app.store.items.apply(
        item.reference,
        Change("telegram:u-cora", "state", state=ItemState.CLOSED),
        clock.now(),
        values={"state": ItemState.CLOSED},
    )
    clock.advance(timedelta(days=400))
    await bob.say("/help")  # bob is active; alice has been quiet for 400 days
    assert app.deps is not None
    dry = await purge(app.deps, clock.now(), dry_run=True)
    assert (dry.inactive_contacts, dry.finished_items) == (0, 1)
    assert await count(app.db, Attachment) == 1  # a dry run changes nothing

    done = await purge(app.deps, clock.now(), dry_run=False)
    assert done.finished_items == 1
    (item,) = await rows(app.db, FeedbackItem)
    assert item.contact_id is None and await count(app.db, Attachment) == 0
    assert await count(app.db, Contact) == 2  # 400 days is not yet 730

    clock.advance(timedelta(days=340))
    await bob.say("/help")
    done = await purge(app.deps, clock.now(), dry_run=False)
    assert done.inactive_contacts == 1
    assert [c.user_id for c in await rows(app.db, Contact)] == ["u-bob"]


async def test_stop_holds_every_proactive_message_until_start(app: App, alice: Resident) -> None:
    await alice.say("/help")
    (contact,) = await rows(app.db, Contact)
    waiting = NewMessage(
        "test:waiting",
        "telegram",
        "c-alice",
        reply_to_payload(Reply("x")),
        app.clock.now(),
        contact_id=contact.id,
    )
    await app.store.outbox.enqueue([waiting], app.clock.now())

    await alice.command("/stop")
    assert "/start" in alice.last_text
    (row,) = await rows(app.db, OutboxMessage)
    assert row.state == OutboxState.SKIPPED
    assert await app.store.contacts.count_reachable(subscribed_only=False) == 0

    await alice.command("/start")
    (contact,) = await rows(app.db, Contact)
    assert contact.stopped_at is None
    assert await app.store.contacts.count_reachable(subscribed_only=False) == 1
