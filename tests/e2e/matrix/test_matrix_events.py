"""An event registration in an encrypted Matrix direct chat: the numbered choices, the code
and the calendar file, and the event's documents arriving as files."""

from __future__ import annotations

from datetime import timedelta

import pytest

from storage.events.models import Event, Registration, Workshop
from testkit.support import rows
from tests.e2e.matrix.conftest import Lab, until

pytestmark = pytest.mark.e2e


async def test_registration_brings_code_calendar_and_documents(lab: Lab) -> None:
    bot = await lab.start_bot()
    app = bot.app
    now = app.clock.now()
    # Five days ahead with documents 14 days before: a late registrant gets them at once.
    event = await app.store.events.add_event(
        Event(
            slug="rt-matrix",
            title="Runder Tisch Integration 2027",
            description="Bericht zum Integrationskonzept, am Nachmittag Lokaltermine.",
            place="Bürgersaal im Rathaus Kassel",
            starts_at=now + timedelta(days=5),
            ends_at=now + timedelta(days=5, hours=6),
            registration_opens_at=now - timedelta(days=1),
            registration_deadline=now + timedelta(days=3),
            capacity=30,
            documents_lead_days=14,
            created_at=now,
            updated_at=now,
        ),
        [
            Workshop(
                event_id=0,
                title="Lokaltermin Bildung und Sprache",
                field_key="bildung",
                capacity=10,
            )
        ],
    )
    assert event.id is not None
    document = b"%PDF-1.7\nIntegrationskonzept " * 200
    await app.store.events.add_document(
        event.id,
        "Integrationskonzept",
        "integrationskonzept.pdf",
        "application/pdf",
        document,
        now,
    )
    anna = await lab.person("anna")
    room = await anna.direct_chat(bot.account.user_id, encrypted=True)

    await anna.say(room, "/events")
    await anna.answer(room, "Veranstaltungen, für die Sie sich anmelden können")
    for answer, next_prompt in (
        ("1", "Welchen Workshop"),
        ("1", "Bitte prüfen Sie Ihre Anmeldung"),
        ("Anmelden", "Die Unterlagen kommen gleich"),
    ):
        seen = len(anna.bodies(room))
        await anna.say(room, answer)
        await anna.answer(room, next_prompt, after=seen)

    def files() -> list[str]:
        return [
            c.get("body", "")
            for r, _, c in anna.received
            if r == room and c.get("msgtype") == "m.file"
        ]

    await until(lambda: len(files()) >= 2, "the calendar file and the document")
    assert any(name.endswith(".ics") for name in files())
    assert "integrationskonzept.pdf" in files()
    (registration,) = await rows(app.db, Registration)
    assert registration.state == "registered" and registration.workshop_id is not None
