"""Announcements: one outbox row per recipient, from `/broadcast` (confirmed) or the CLI."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import update
from sqlmodel import col, select

from bot.app import App, bootstrap
from bot.config import Settings
from handlers.announce import (
    UnknownAudience,
    UnknownLanguage,
    count_languages,
    enqueue_announcement,
    parse_sections,
    recipients_of,
)
from handlers.messages import Platform
from storage.contacts import ContactKey
from storage.db import Database
from storage.models import Contact, OutboxMessage, OutboxState
from storage.schema import upgrade_to_head
from storage.store import Store
from testkit.support import DEFAULT_NOW, FakeClock, Resident, rows
from tests.cli_support import Cli

ADMIN = "u-admin"


@pytest.fixture
async def admin_app(settings: Settings, clock: FakeClock, tmp_path: Path) -> AsyncIterator[App]:
    """The example config with one administrator and one group that has two chats."""
    bot = replace(settings.bot, administrators=(f"telegram:{ADMIN}",))
    groups = tuple(
        replace(g, chats=("telegram:-1001", "telegram:-1002")) if g.key == "uag-bildung" else g
        for g in settings.groups
    )
    db = Database(f"sqlite+aiosqlite:///{tmp_path}/announce.db")
    await db.create_all()
    wired = await bootstrap(
        replace(settings, bot=bot, groups=groups), clock=clock, db=db, migrate=False, channels=()
    )
    app = wired.app
    try:
        yield app
    finally:
        await app.close()


async def add_contacts(store: Store, names: list[str], *, subscribed: list[str]) -> None:
    for name in names:
        await store.contacts.get_or_add_contact(
            ContactKey(Platform.TELEGRAM, f"u-{name}", f"c-{name}", name), DEFAULT_NOW
        )
    subscribe = (
        update(Contact)
        .where(col(Contact.user_id).in_([f"u-{n}" for n in subscribed]))
        .values(subscribed=True)
    )
    await store.db.run(lambda session: session.exec(subscribe))


async def outbox_chats(db: Database) -> list[str]:
    return sorted(await db.run(lambda session: session.exec(select(OutboxMessage.chat_id)).all()))


async def test_subscribers_all_and_blocked(admin_app: App) -> None:
    store = admin_app.store
    await add_contacts(store, ["ana", "ben", "cem", "dana"], subscribed=["ana", "cem"])
    await store.contacts.set_unreachable(Platform.TELEGRAM, "c-cem", DEFAULT_NOW)

    prefix, count = await enqueue_announcement(store, "subscribers", "Hallo", DEFAULT_NOW)
    assert count == 1
    assert prefix.startswith("announcement:")
    assert (await store.outbox.progress(prefix)).waiting == 1

    _, everyone = await enqueue_announcement(
        store, "all", "Hallo alle", DEFAULT_NOW, announcement_id="a2"
    )
    assert everyone == 3  # cem blocked the bot
    stored = await rows(
        admin_app.db,
        OutboxMessage,
        col(OutboxMessage.idempotency_key).startswith("announcement:a2:"),
    )
    assert sorted(r.chat_id for r in stored) == ["c-ana", "c-ben", "c-dana"]
    assert all(r.payload["text"] == "Hallo alle" and r.due_at == DEFAULT_NOW for r in stored)
    assert all(r.contact_id is not None and not r.is_group for r in stored)


async def test_the_same_announcement_queued_twice_is_sent_once(admin_app: App) -> None:
    store = admin_app.store
    await add_contacts(store, ["ana", "ben"], subscribed=[])
    for _ in range(2):
        await enqueue_announcement(store, "all", "Hallo", DEFAULT_NOW, announcement_id="same")
    assert await outbox_chats(admin_app.db) == ["c-ana", "c-ben"]


async def test_a_group_audience_goes_to_the_groups_chats(admin_app: App) -> None:
    await add_contacts(admin_app.store, ["ana"], subscribed=["ana"])
    _, count = await enqueue_announcement(
        admin_app.store, "group:uag-bildung", "Treffen am Montag", DEFAULT_NOW
    )
    assert count == 2
    stored = await rows(admin_app.db, OutboxMessage)
    assert sorted(r.chat_id for r in stored) == ["-1001", "-1002"]
    assert all(r.is_group and r.platform == "telegram" for r in stored)


@pytest.mark.parametrize("audience", ["group:no-such-group", "nonsense", ""])
async def test_an_unknown_audience_is_refused(admin_app: App, audience: str) -> None:
    with pytest.raises(UnknownAudience):
        await enqueue_announcement(admin_app.store, audience, "Hallo", DEFAULT_NOW)
    assert await outbox_chats(admin_app.db) == []


async def test_broadcast_by_a_resident_is_refused(admin_app: App) -> None:
    await add_contacts(admin_app.store, ["ana", "ben"], subscribed=["ana"])
    mallory = Resident(admin_app.handle, "mallory")

    await mallory.command("/broadcast Alle herhören")
    assert "Administrator" in mallory.last_text
    assert mallory.choices == []
    assert await outbox_chats(admin_app.db) == []


async def test_broadcast_by_an_administrator_asks_then_queues(admin_app: App) -> None:
    await add_contacts(admin_app.store, ["ana", "ben", "cem"], subscribed=["ana"])
    admin = Resident(admin_app.handle, "admin")

    await admin.command("/broadcast Das Bürgerbüro ist morgen geschlossen.")
    assert "Das Bürgerbüro ist morgen geschlossen." in admin.last_text
    # ana, ben, cem and the administrator are reachable; ana subscribed.
    assert admin.choices == ["An Abonnent:innen (1)", "An alle (4)", "Abbrechen"]
    assert await outbox_chats(admin_app.db) == []  # nothing before the confirmation

    everyone = admin.choice("An alle (4)").payload
    await admin.press("An alle (4)")
    assert admin.last_text == "Die Mitteilung geht an 4 Empfänger:innen.\nNach Sprache: Deutsch 4"
    assert await outbox_chats(admin_app.db) == ["c-admin", "c-ana", "c-ben", "c-cem"]
    stored = await rows(admin_app.db, OutboxMessage)
    assert {r.payload["text"] for r in stored} == {"Das Bürgerbüro ist morgen geschlossen."}

    await admin.press_payload(everyone)  # the same button again is stale
    assert len(await rows(admin_app.db, OutboxMessage)) == 4


async def test_broadcast_to_subscribers(admin_app: App) -> None:
    await add_contacts(admin_app.store, ["ana", "ben"], subscribed=["ana"])
    admin = Resident(admin_app.handle, "admin")
    await admin.command("/broadcast Neuigkeiten")
    await admin.press("An Abonnent:innen (1)")
    assert admin.last_text == "Die Mitteilung geht an 1 Empfänger:in.\nNach Sprache: Deutsch 1"
    assert await outbox_chats(admin_app.db) == ["c-ana"]


async def test_broadcast_cancelled_queues_nothing(admin_app: App) -> None:
    await add_contacts(admin_app.store, ["ana"], subscribed=["ana"])
    admin = Resident(admin_app.handle, "admin")
    await admin.command("/broadcast Doch nicht")
    await admin.press("Abbrechen")
    assert "Abgebrochen" in admin.last_text
    assert await outbox_chats(admin_app.db) == []


async def test_broadcast_without_text_explains(admin_app: App) -> None:
    admin = Resident(admin_app.handle, "admin")
    await admin.command("/broadcast")
    assert "/broadcast" in admin.last_text
    assert admin.choices == []


async def test_text_while_choosing_the_audience_asks_again(admin_app: App) -> None:
    admin = Resident(admin_app.handle, "admin")
    await admin.command("/broadcast Hallo")
    await admin.say("hm?")
    assert admin.choices[-1] == "Abbrechen"
    assert await outbox_chats(admin_app.db) == []


# ---- the command line ----------------------------------------------------------------


@pytest.fixture
async def cli_db(tmp_path: Path) -> AsyncIterator[str]:
    """A migrated SQLite file with three reachable contacts and one who blocked the bot."""
    url = f"sqlite+aiosqlite:///{tmp_path}/cli.db"
    db = Database(url)
    await upgrade_to_head(db)
    store = Store.over(db)
    await add_contacts(store, ["ana", "ben", "cem", "dana"], subscribed=["ana"])
    await store.contacts.set_unreachable(Platform.TELEGRAM, "c-dana", DEFAULT_NOW)
    await db.dispose()
    yield url


@pytest.fixture
def mitreden(
    cli_db: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> Cli:
    """`mitreden --config config.example.toml ARGS` on that file, in this process."""
    return Cli(capsys, monkeypatch, cli_db)


async def test_cli_broadcast_queues_one_row_per_recipient(cli_db: str, mitreden: Cli) -> None:
    done = mitreden("broadcast", "--to", "all", "--yes", "--no-wait", "Sitzung fällt aus")
    assert done.code == 0, done.err
    assert "3 recipient(s)" in done.out

    db = Database(cli_db)
    try:
        assert await outbox_chats(db) == ["c-ana", "c-ben", "c-cem"]
        query = select(OutboxMessage.payload)
        payloads = await db.run(lambda session: session.exec(query).all())
    finally:
        await db.dispose()
    assert {p["text"] for p in payloads} == {"Sitzung fällt aus"}


async def test_cli_broadcast_to_nonsense_exits_2(cli_db: str, mitreden: Cli) -> None:
    done = mitreden("broadcast", "--to", "nonsense", "--no-wait", "Hallo")
    assert done.code == 2
    assert "unknown audience 'nonsense'" in done.err

    db = Database(cli_db)
    try:
        assert await outbox_chats(db) == []
    finally:
        await db.dispose()


async def test_cli_broadcast_shows_progress_until_delivered(cli_db: str, mitreden: Cli) -> None:
    """Without --no-wait the command waits and draws a bar; here the 'bot' is the test."""
    command = asyncio.create_task(
        mitreden.run_async("broadcast", "--to", "subscribers", "--yes", "Nur für Abonnent:innen")
    )
    db = Database(cli_db)
    try:
        for _ in range(600):
            queued = await db.run(lambda session: session.exec(select(OutboxMessage.id)).all())
            if queued:
                break
            await asyncio.sleep(0.05)
        (row_id,) = queued
        sent = (
            update(OutboxMessage)
            .where(col(OutboxMessage.id) == row_id)
            .values(state=OutboxState.SENT, sent_at=DEFAULT_NOW + timedelta(seconds=1))
        )
        await db.run(lambda session: session.exec(sent))
        done = await asyncio.wait_for(command, 30)
    finally:
        if not command.done():  # the command waits until nothing is left to send: end it
            everything = update(OutboxMessage).values(state=OutboxState.DEAD)
            await db.run(lambda session: session.exec(everything))
            await asyncio.wait_for(command, 30)
        await db.dispose()
    assert done.code == 0, done.err
    assert "1 recipient(s)" in done.out
    assert "1/1 sent 1, failed 0, blocked 0" in done.err


# ---- in every language ------------------------------------------------------------------


async def set_languages(store: Store, languages: dict[str, str]) -> None:
    for name, language in languages.items():
        contact, _ = await store.contacts.get_or_add_contact(
            ContactKey(Platform.TELEGRAM, f"u-{name}", f"c-{name}", name), DEFAULT_NOW
        )
        assert contact.id is not None
        await store.contacts.set_language(contact.id, language)


async def texts_by_chat(db: Database) -> dict[str, str]:
    stored = await rows(db, OutboxMessage)
    return {r.chat_id: r.payload["text"] for r in stored}


async def test_each_resident_gets_the_announcement_in_their_language(admin_app: App) -> None:
    store = admin_app.store
    await add_contacts(store, ["ana", "ben", "cem", "dana"], subscribed=[])
    await set_languages(store, {"ben": "en", "cem": "ar", "dana": "tr"})
    texts = {"de": "Das Büro ist zu.", "en": "The office is closed.", "ar": "المكتب مغلق."}

    _, count = await enqueue_announcement(store, "all", texts, DEFAULT_NOW)
    assert count == 4
    assert await texts_by_chat(admin_app.db) == {
        "c-ana": "Das Büro ist zu.",
        "c-ben": "The office is closed.",
        "c-cem": "المكتب مغلق.",
        "c-dana": "Das Büro ist zu.",  # no Turkish text: German
    }
    recipients = await recipients_of(store, "all")
    assert count_languages(recipients, texts) == {"de": 2, "en": 1, "ar": 1}
    # A working group's chats read the city's language.
    await enqueue_announcement(store, "group:uag-bildung", texts, DEFAULT_NOW)
    assert (await texts_by_chat(admin_app.db))["-1001"] == "Das Büro ist zu."


def test_sections_name_their_language() -> None:
    written = "Das Büro ist zu.\n\n[en]\nThe office is closed.\n[de-simple]\nDas Büro ist zu.\n"
    assert parse_sections(written, ("de", "de_simple", "en")) == {
        "de": "Das Büro ist zu.",
        "en": "The office is closed.",
        "de_simple": "Das Büro ist zu.",
    }
    with pytest.raises(UnknownLanguage):
        parse_sections("Hallo\n[xx]\nHi", ("de", "en"))


async def test_broadcast_in_sections_says_who_gets_which_language(admin_app: App) -> None:
    await add_contacts(admin_app.store, ["ana", "ben", "cem"], subscribed=[])
    await set_languages(admin_app.store, {"ben": "en", "cem": "uk"})
    admin = Resident(admin_app.handle, "admin")

    await admin.command("/broadcast Das Büro ist zu.\n[en]\nThe office is closed.")
    assert "Das Büro ist zu." in admin.last_text and "The office" not in admin.last_text
    assert "Texte in: Deutsch, English." in admin.last_text
    assert "bekommt den Text auf Deutsch" in admin.last_text
    await admin.press("An alle (4)")
    assert admin.last_text == (
        "Die Mitteilung geht an 4 Empfänger:innen.\nNach Sprache: Deutsch 3, English 1"
    )
    texts = await texts_by_chat(admin_app.db)
    assert texts["c-ben"] == "The office is closed." and texts["c-cem"] == "Das Büro ist zu."

    await admin.command("/broadcast Hallo\n[xx]\nHi")
    assert admin.last_text == "Diese Sprache kenne ich nicht: xx"
    await admin.command("/broadcast [en]\nOnly English")
    assert "/broadcast Ihr Text" in admin.last_text and "[en]" in admin.last_text


async def test_cli_broadcast_in_every_language(cli_db: str, mitreden: Cli, tmp_path: Path) -> None:
    db = Database(cli_db)
    try:
        await set_languages(Store.over(db), {"ben": "en", "cem": "ar"})
    finally:
        await db.dispose()

    done = mitreden(
        "broadcast", "--to", "all", "--yes", "--no-wait", "Sitzung fällt aus",
        "--text-en", "Meeting cancelled",
    )  # fmt: skip
    assert done.code == 0, done.err
    assert "announcement queued for 3 recipient(s): de 2, en 1" in done.out
    assert "in de for those who chose" in done.out and "ar" in done.out

    written = tmp_path / "mitteilung.txt"
    written.write_text("Das Büro ist zu.\n[en]\nThe office is closed.\n[ar]\nالمكتب مغلق.\n")
    done = mitreden("broadcast", "--to", "all", "--yes", "--no-wait", "--file", str(written))
    assert done.code == 0, done.err
    assert "announcement queued for 3 recipient(s): de 1, en 1, ar 1" in done.out
    db = Database(cli_db)
    try:
        stored = await rows(db, OutboxMessage)
    finally:
        await db.dispose()
    texts = Counter(r.payload["text"] for r in stored)
    assert texts == Counter(
        {
            "Sitzung fällt aus": 2,
            "Meeting cancelled": 1,
            "Das Büro ist zu.": 1,
            "The office is closed.": 1,
            "المكتب مغلق.": 1,
        }
    )

    refused = mitreden("broadcast", "--to", "all", "--yes", "--text-en", "Only English")
    assert refused.code == 2 and "needs its text in de" in refused.err
    written.write_text("Hallo\n[xx]\nHi\n")
    refused = mitreden("broadcast", "--to", "all", "--yes", "--file", str(written))
    assert refused.code == 2 and "[xx] is not one of bot.languages" in refused.err
    # Without a terminal and without --yes, the question names the languages too.
    asked = mitreden("broadcast", "--to", "all", "Hallo", "--text-en", "Hello")
    assert asked.code == 2 and "de 2, en 1" in asked.err
