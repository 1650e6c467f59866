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
from handlers.announce import enqueue_announcement
from handlers.messages import Incoming, Platform, Reply, reply_to_payload
from handlers.public_text import anonymous_text
from handlers.residents.retention import purge
from storage.items.handling import Change
from storage.models import (
    Attachment,
    Contact,
    FeedbackItem,
    ItemEvent,
    ItemState,
    OutboxMessage,
    OutboxState,
)
from storage.outbox import NewMessage
from testkit.support import (
    BILDUNG_CHAT,
    FakeClock,
    Resident,
    count,
    outbox_rows,
    photo,
    rows,
)
from tests.unit.test_link import link, residents

# Identifiers distinctive enough to find in any column.
NAME = "Zuleyha Quartermaine"


class Zuleyha(Resident):
    """A resident whose display name is distinctive, to be searched for after /forget."""

    def incoming(self, **values: Any) -> Incoming:
        return replace(super().incoming(**values), display_name=NAME)


async def scan_for(app: App, needles: list[str]) -> list[str]:
    """Every (table, column) whose value contains one of `needles`, in any letter case, in
    every table."""
    found: list[str] = []
    wanted = [needle.casefold() for needle in needles]
    async with app.db.engine.connect() as connection:
        for table in SQLModel.metadata.sorted_tables:
            result = await connection.execute(text(f"SELECT * FROM {table.name}"))
            for row in result.mappings():
                for column, value in row.items():
                    if isinstance(value, bytes):
                        value = value.decode("utf-8", "replace")
                    if any(needle in str(value).casefold() for needle in wanted):
                        found.append(f"{table.name}.{column}")
    return found


async def test_the_first_item_shows_the_notice_and_records_consent(
    app: App, alice: Resident
) -> None:
    await alice.say("Mehr Bänke im Park")
    for label in ("Vorschlag", "Wohnen und Zusammenleben im Quartier", "Anonym bleiben"):
        await alice.press(label)
    summary = alice.last_text
    assert "Wenn Sie 2 Jahre lang nicht schreiben" in summary  # 730 days
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
    periods = ("2 Jahre lang", "nach 1 Jahr anonymisiert")  # 730 and 365 days
    for part in ("Kennung Ihres Kontos", "Arbeitsgruppe", *periods, "/forget"):
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
    # A coordinator greets the resident by name, and the resident signs the answer back.
    await cora.command(f"/reply {reference} Hallo Zuleyha, danke, wir prüfen das.")
    await resident.command(f"/reply {reference} Gerne auch samstags. Zuleyha Quartermaine")
    needles = ["u-zq7331", "c-zq7331", "Zuleyha", "Quartermaine", "zq7331-face"]
    history = await rows(app.db, ItemEvent)
    assert {e.action for e in history if e.text and "Zuleyha" in e.text} == {
        "reply",
        "resident_reply",
    }
    to_group = await outbox_rows(app.db, BILDUNG_CHAT)
    assert any(f"Von: {NAME}" in r.payload["text"] for r in to_group)  # "Antwort der Person"
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
        kept = {e.action: e.text for e in await rows(app.db, ItemEvent)}
        assert kept["reply"] == "Hallo […], danke, wir prüfen das."
        assert kept["resident_reply"] == "Gerne auch samstags. […]"
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
        Change("telegram:u-cora", "state", state=ItemState.CLOSED, text="Erledigt, danke Alice!"),
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
    history = await app.store.items.list_history(item.id or 0)
    assert history[-1].text == "Erledigt, danke […]!"  # anonymised: her name too

    clock.advance(timedelta(days=340))
    await bob.say("/help")
    done = await purge(app.deps, clock.now(), dry_run=False)
    assert done.inactive_contacts == 1
    assert [c.user_id for c in await rows(app.db, Contact)] == ["u-bob"]


async def test_stop_holds_every_proactive_message_until_start(app: App, alice: Resident) -> None:
    await alice.say("/help")
    (contact,) = await rows(app.db, Contact)
    waiting = [
        NewMessage(
            key,
            "telegram",
            "c-alice",
            reply_to_payload(Reply("x")),
            app.clock.now(),
            contact_id=contact.id,
            reference=reference,
        )
        for key, reference in (("test:invitation", None), ("test:answer", "F-2026-0001"))
    ]
    await app.store.outbox.enqueue(waiting, app.clock.now())

    await alice.command("/stop")
    assert "/start" in alice.last_text
    states = {r.idempotency_key: r.state for r in await rows(app.db, OutboxMessage)}
    # An answer about her own item still goes out, as the confirmation promises.
    assert states == {"test:invitation": OutboxState.SKIPPED, "test:answer": OutboxState.PENDING}
    assert await app.store.contacts.count_reachable(subscribed_only=False) == 0

    await alice.command("/start")
    (contact,) = await rows(app.db, Contact)
    assert contact.stopped_at is None
    assert await app.store.contacts.count_reachable(subscribed_only=False) == 1


async def test_after_stop_a_linked_resident_is_answered_where_they_wrote_last(
    coordination: App, clock: FakeClock
) -> None:
    app = coordination
    telegram, matrix = residents(app)
    await telegram.submit("Mehr Deutschkurse am Abend")
    reference = "F-2026-0001"
    await link(telegram, matrix)
    clock.advance(timedelta(minutes=1))
    await matrix.say("/mine")  # Matrix is the platform used last
    await telegram.command("/stop")  # for the person: on Matrix too
    assert {c.stopped_at for c in await rows(app.db, Contact)} == {clock.now()}

    cora = Resident(app.handle, "cora")
    await cora.command(f"/reply {reference} Der Kurs startet im September.")
    assert cora.last_text == f"Ihre Antwort auf {reference} ist unterwegs."
    await cora.command(f"/state {reference} implemented Der Kurs ist eingerichtet.")
    assert cora.last_text.endswith("Die Person wurde informiert.")
    await enqueue_announcement(app.store, "all", "Einladung zum Runden Tisch", clock.now())

    to_anna = [r for r in await outbox_rows(app.db) if r.chat_id == "c-anna"]
    assert [(r.platform, r.reference) for r in to_anna] == [
        ("matrix", reference),
        ("matrix", reference),
    ]
    assert "September" in to_anna[0].payload["text"]
    assert "Der Kurs ist eingerichtet." in to_anna[1].payload["text"]


@pytest.mark.parametrize(
    ("written", "kept"),
    [
        ("Hallo Amira, danke!", "Hallo […], danke!"),
        ("Viele Grüße\nAMIRA YILMAZ", "Viele Grüße\n[…]"),  # line breaks stay
        ("Amiras Idee und Yilmaz’s Frage", "[…] Idee und […] Frage"),
        ("Schreiben Sie an a.yilmaz@example.org oder @amira_y", "Schreiben Sie an […] oder […]"),
        ("Grüße von amira (Matrix)", "Grüße von […] (Matrix)"),  # a Matrix id's local part
        ("Wir treffen uns an der Schule, An.", "Wir treffen uns an der Schule, […]."),
        ("Amiral und Samira bleiben", None),  # other words that contain the name
    ],
)
def test_a_kept_text_loses_the_names_and_contact_details(written: str, kept: str | None) -> None:
    names = ["Amira Yilmaz", "@amira:example.org", "An K."]
    assert anonymous_text(written, names) == (kept or written)


class Matrixname(Resident):
    """Anna on Matrix, under another display name than on Telegram."""

    def incoming(self, **values: Any) -> Incoming:
        return replace(super().incoming(**values), display_name="Anuschka Brzezinski")


async def test_forget_masks_the_names_the_person_has_on_a_linked_platform(
    coordination: App,
) -> None:
    app = coordination
    telegram = Resident(app.handle, "anna")
    matrix = Matrixname(app.handle, "anna", platform=Platform.MATRIX)
    await telegram.submit("Mehr Deutschkurse am Abend")
    await link(telegram, matrix)
    cora = Resident(app.handle, "cora")
    await cora.command("/reply F-2026-0001 Hallo Anna (Anuschka Brzezinski auf Matrix)!")

    await telegram.command("/forget")
    await telegram.press("Löschen, Rückmeldungen anonym behalten")

    (reply,) = [e for e in await rows(app.db, ItemEvent) if e.action == "reply"]
    assert reply.text == "Hallo […] ([…] auf Matrix)!"


async def test_one_person_on_two_platforms_sees_and_forgets_everything_at_once(app: App) -> None:
    """After /link the two contacts are one person: /mydata from either shows both
    platforms' items, and /forget from either erases both contacts and all their items."""
    telegram, matrix = residents(app)
    await telegram.submit("Mehr Deutschkurse am Abend")
    await link(telegram, matrix)
    await matrix.submit("Die Bank am Markt ist kaputt")

    await matrix.command("/mydata")
    (reply,) = matrix.replies
    data = json.loads(reply.files[0].data)
    assert sorted(item["text"] for item in data["feedback"]) == [
        "Die Bank am Markt ist kaputt",
        "Mehr Deutschkurse am Abend",
    ]
    assert [c["platform"] for c in data["linked_contacts"]] == ["telegram"]

    await telegram.command("/forget")
    await telegram.press("Alles löschen")

    assert await rows(app.db, Contact) == []
    assert await rows(app.db, FeedbackItem) == []
