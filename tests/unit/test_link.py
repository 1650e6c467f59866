"""One resident on Telegram and Matrix: /link joins the two contacts, so that language and
items are shared and notifications go to the platform used last."""

from __future__ import annotations

import re
from datetime import timedelta

from bot.app import App
from handlers.announce import enqueue_announcement
from handlers.messages import Platform
from storage.models import Contact
from testkit.support import FakeClock, Resident, outbox_rows, rows

REF = "F-2026-0001"


def residents(app: App) -> tuple[Resident, Resident]:
    telegram = Resident(app.handle, "anna", platform=Platform.TELEGRAM)
    matrix = Resident(app.handle, "anna", platform=Platform.MATRIX)
    return telegram, matrix


async def link(first: Resident, second: Resident) -> str:
    await first.command("/link")
    found = re.search(r"/link ([A-Z0-9]{8})", first.last_text)
    assert found is not None, first.last_text
    await second.command(f"/link {found.group(1)}")
    return found.group(1)


async def test_linked_contacts_share_items_and_language(app: App, clock: FakeClock) -> None:
    telegram, matrix = residents(app)
    await telegram.submit("Mehr Deutschkurse am Abend")
    await telegram.command("/language en")
    await matrix.say("/mine")
    assert REF not in matrix.all_text  # not linked yet: a stranger

    await link(telegram, matrix)

    assert matrix.last_text.startswith("Connected.")
    await matrix.command("/mine")
    assert REF in matrix.all_text
    await matrix.command(f"/status {REF}")
    assert REF in matrix.all_text
    contacts = await rows(app.db, Contact)
    assert {c.language for c in contacts} == {"en"}
    assert len({c.person_id for c in contacts}) == 1 and contacts[0].person_id is not None

    await matrix.command("/language de")  # one language for the person
    assert {c.language for c in await rows(app.db, Contact)} == {"de"}


async def test_notifications_go_to_the_platform_used_last(
    coordination: App, clock: FakeClock
) -> None:
    telegram, matrix = residents(coordination)
    await telegram.submit("Mehr Deutschkurse am Abend")
    clock.advance(timedelta(minutes=1))
    await link(telegram, matrix)
    cora = Resident(coordination.handle, "cora")

    clock.advance(timedelta(minutes=1))
    await matrix.say("/mine")
    await cora.command(f"/reply {REF} Der Kurs startet im September.")
    clock.advance(timedelta(minutes=1))
    await telegram.say("/mine")
    await cora.command(f"/reply {REF} Anmeldung bei der VHS.")

    to_resident = [r for r in await outbox_rows(coordination.db) if r.contact_id is not None]
    assert [(r.platform, r.chat_id) for r in to_resident] == [
        ("matrix", "c-anna"),
        ("telegram", "c-anna"),
    ]
    assert "September" in to_resident[0].payload["text"]


async def test_a_wrong_or_expired_code_links_nothing(app: App, clock: FakeClock) -> None:
    telegram, matrix = residents(app)
    await matrix.command("/link ABCDEFGH")
    assert "kenne ich nicht" in matrix.last_text
    await telegram.command("/link")
    code = re.search(r"/link ([A-Z0-9]{8})", telegram.last_text)
    assert code is not None
    await telegram.command(f"/link {code.group(1)}")  # one's own code
    assert "kenne ich nicht" in telegram.last_text
    clock.advance(timedelta(minutes=16))
    await matrix.command(f"/link {code.group(1)}")
    assert "kenne ich nicht" in matrix.last_text
    assert all(c.person_id is None for c in await rows(app.db, Contact))


async def test_an_announcement_reaches_a_linked_person_once(app: App, clock: FakeClock) -> None:
    telegram, matrix = residents(app)
    await telegram.say("/start")
    await link(telegram, matrix)
    clock.advance(timedelta(minutes=20))
    await matrix.say("/mine")  # Matrix is the platform used last
    ben = Resident(app.handle, "ben")
    await ben.say("/start")

    assert await app.store.contacts.count_reachable(subscribed_only=False) == 2
    _, count = await enqueue_announcement(app.store, "all", "Hallo", clock.now())
    assert count == 2
    queued = await outbox_rows(app.db)
    assert sorted((r.platform, r.chat_id) for r in queued) == [
        ("matrix", "c-anna"),
        ("telegram", "c-ben"),
    ]
