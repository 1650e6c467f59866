"""Helpers for event tests: the yearly round table on 2026-10-26 (the Monday after the change
from summer to winter time in Europe/Berlin), and the outbox rows an event caused."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from bot.app import App
from bot.delivery.scheduler import Planner
from storage.events.models import Event, Workshop
from storage.models import Contact
from testkit.support import Resident, outbox_rows, rows

BERLIN = ZoneInfo("Europe/Berlin")
TITLE = "Runder Tisch Integration 2026"
BILDUNG = "Lokaltermin Bildung und Sprache"
ARBEIT = "Lokaltermin Arbeit und Ausbildung"


def berlin(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=BERLIN).astimezone(UTC)


async def add_round_table(
    app: App,
    *,
    capacity: int | None = 30,
    bildung_capacity: int | None = 1,
    workshops: bool = True,
) -> Event:
    """The round table: 26 Oct 2026 10:00-16:00, registration 28 Sep - 23 Oct 12:00."""
    now = berlin(2026, 9, 1, 9, 0)
    event = Event(
        slug="rt2026",
        title=TITLE,
        description="Bericht zum Integrationskonzept, am Nachmittag Lokaltermine.",
        place="Bürgersaal im Rathaus Kassel",
        starts_at=berlin(2026, 10, 26, 10, 0),
        ends_at=berlin(2026, 10, 26, 16, 0),
        registration_opens_at=berlin(2026, 9, 28, 9, 0),
        registration_deadline=berlin(2026, 10, 23, 12, 0),
        capacity=capacity,
        documents_lead_days=14,
        created_at=now,
        updated_at=now,
    )
    specs = (
        [
            Workshop(event_id=0, title=BILDUNG, field_key="bildung", capacity=bildung_capacity),
            Workshop(event_id=0, title=ARBEIT, field_key="arbeit"),
        ]
        if workshops
        else []
    )
    return await app.store.events.add_event(event, specs)


def events_planner(app: App) -> Planner:
    (found,) = [p for p in app.planners if getattr(p, "name", "") == "events"]
    return found


async def event_rows(app: App, stage: str | None = None) -> list[Any]:
    """Outbox rows about events (key "ev..."), optionally of one stage ("invite", "docs")."""
    found = [r for r in await outbox_rows(app.db) if r.idempotency_key.startswith("ev")]
    if stage is None:
        return found
    return [
        r
        for r in found
        if f":{stage}:" in r.idempotency_key or r.idempotency_key.endswith(f":{stage}")
    ]


async def contact_id(app: App, name: str) -> int:
    (contact,) = await rows(app.db, Contact, Contact.user_id == f"u-{name}")
    assert contact.id is not None
    return int(contact.id)


async def chats(app: App, stage: str) -> list[str]:
    return sorted(r.chat_id for r in await event_rows(app, stage))


async def register(resident: Resident, workshop: str | None = BILDUNG, title: str = TITLE) -> str:
    """/events → the round table → a workshop (its label starts with `workshop`) → Anmelden."""
    await resident.command("/events")
    await resident.press(title)
    if workshop is not None:
        (label,) = [c for c in resident.choices if c.startswith(workshop)]
        await resident.press(label)
    elif "Ohne Workshop" in resident.choices:
        await resident.press("Ohne Workshop")
    await resident.press("Anmelden")
    return resident.last_text


async def deliver(app: App) -> int:
    """Mark every due row sent, as the delivery workers would have by now."""
    now = app.clock.now()
    claimed = await app.store.outbox.claim_due(
        now, limit=10_000, worker="test", lease=timedelta(minutes=1)
    )
    for row in claimed:
        await app.store.outbox.set_sent(row.id, now)
    return len(claimed)
