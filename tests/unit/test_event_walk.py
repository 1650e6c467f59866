"""An event from invitation to the day after, planned at an injected `now`: every message
once, to exactly the right people, at the right time. On the way: a full workshop with its
waitlist promotion, a late registrant, a replaced document, and the change from summer to
winter time between the document reminder and the event (Europe/Berlin, 25 Oct 2026)."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

from bot.app import App
from storage.events.models import Registration
from storage.models import OutboxMessage
from testkit.support import ADA, ARBEIT_CHAT, BILDUNG_CHAT, FakeClock, Resident, rows
from tests.event_support import (
    ARBEIT,
    BILDUNG,
    TITLE,
    add_round_table,
    berlin,
    chats,
    contact_id,
    event_rows,
    events_planner,
    register,
)

SECOND = timedelta(seconds=1)


async def test_an_event_from_invitation_to_the_day_after(
    coordination: App, clock: FakeClock
) -> None:
    app = coordination
    planner = events_planner(app)
    clock.set(berlin(2026, 9, 1, 9, 0))
    rosa, ali, eva, tom, mia = (
        Resident(app.handle, n) for n in ("rosa", "ali", "eva", "tom", "mia")
    )
    for resident in (rosa, ali, eva, tom):
        await resident.command("/subscribe")
    await tom.command("/stop")  # subscribed, but wants nothing on the bot's initiative
    await mia.command("/start")  # not subscribed
    event = await add_round_table(app)
    assert event.id is not None

    # Invitations when registration opens, to reachable subscribers only.
    opens = berlin(2026, 9, 28, 9, 0)
    assert await planner.next_due(clock.now()) == opens
    assert await planner.plan(opens - SECOND) == 0
    assert await planner.plan(opens) == 3
    assert await chats(app, "invite") == ["c-ali", "c-eva", "c-rosa"]
    (invitation,) = [r for r in await event_rows(app, "invite") if r.chat_id == "c-rosa"]
    assert invitation.idempotency_key == f"ev{event.id}:s1:invite:c{await contact_id(app, 'rosa')}"
    assert TITLE in invitation.payload["text"] and "/events" in invitation.payload["text"]
    assert invitation.due_at == opens
    assert await planner.plan(opens + timedelta(minutes=5)) == 0

    # No documents a week before they are due: the coordinators are reminded.
    docs_due = berlin(2026, 10, 12, 10, 0)
    missing_at = berlin(2026, 10, 5, 10, 0)
    assert await planner.plan(missing_at - SECOND) == 0
    assert await planner.plan(missing_at) == 3
    assert await chats(app, "docs-missing") == sorted(
        [ADA.partition(":")[2], ARBEIT_CHAT, BILDUNG_CHAT]
    )

    # Rosa takes the last place of the Bildung workshop; Ali is put on its waitlist.
    clock.set(berlin(2026, 10, 6, 12, 0))
    await rosa.command("/events")
    await rosa.press(TITLE)
    assert rosa.choices == [f"{BILDUNG} (1 frei)", ARBEIT, "Ohne Workshop"]
    await rosa.press(f"{BILDUNG} (1 frei)")
    assert "Mit „Anmelden“" in rosa.last_text  # the privacy notice before anything is stored
    await rosa.press("Anmelden")
    assert "Ihr Code:" in rosa.last_text and "12. Okt. 2026" in rosa.last_text
    (ics,) = rosa.replies[-1].files
    assert ics.file_name == "rt2026.ics" and b"DTSTART:20261026T090000Z" in ics.data
    await ali.command("/events")
    await ali.press(TITLE)
    assert f"{BILDUNG} (voll, Warteliste)" in ali.choices
    await ali.press(f"{BILDUNG} (voll, Warteliste)")
    await ali.press("Anmelden")
    assert "Warteliste (Platz 1)" in ali.last_text

    doc = await app.store.events.add_document(
        event.id, "Integrationskonzept", "konzept.pdf", "application/pdf", b"%PDF v1", clock.now()
    )

    # The deadline reminder goes to subscribers who have not registered: Eva.
    reminder_at = berlin(2026, 10, 20, 12, 0)
    assert await planner.plan(docs_due - SECOND) == 0
    # The documents, 14 local days before 10:00 on 26 Oct (summer time then: 08:00 UTC).
    assert docs_due.hour == 8
    assert await planner.plan(docs_due) == 1
    (docs,) = await event_rows(app, "docs")
    assert docs.chat_id == "c-rosa" and docs.payload["event_files"] == [doc.id]
    files = (await app.resolve(docs.payload)).files
    assert [(f.file_name, f.data) for f in files] == [("konzept.pdf", b"%PDF v1")]

    # Lu registers late: the documents go out at once.
    clock.set(berlin(2026, 10, 14, 9, 30))
    lu = Resident(app.handle, "lu")
    answer = await register(lu, ARBEIT)
    assert "Die Unterlagen kommen gleich" in answer
    assert await chats(app, "docs") == ["c-lu", "c-rosa"]

    # A replaced document: a notice with the new version to everyone who had the old one.
    clock.set(berlin(2026, 10, 15, 9, 0))
    replaced = await app.store.events.replace_document(
        doc.id or 0, "konzept-v2.pdf", "application/pdf", b"%PDF v2", clock.now()
    )
    assert replaced is not None and replaced.version == 2
    assert await planner.plan(clock.now()) == 2
    notices = await event_rows(app, f"doc{doc.id}:v2")
    assert sorted(r.chat_id for r in notices) == ["c-lu", "c-rosa"]
    assert "Version 2" in notices[0].payload["text"]
    assert (await app.resolve(notices[0].payload)).files[0].data == b"%PDF v2"

    # Rosa cancels: Ali gets her place, is told, and gets the documents at once.
    clock.set(berlin(2026, 10, 16, 9, 0))
    await rosa.command("/myevents")
    await rosa.press(f"Abmelden: {TITLE}")
    assert "abgemeldet" in rosa.last_text
    (promoted,) = await event_rows(app, "promoted")
    assert (
        promoted.chat_id == "c-ali" and "Ein Platz ist frei geworden" in promoted.payload["text"]
    )
    assert await chats(app, "docs") == ["c-ali", "c-lu", "c-rosa"]
    states = {r.contact_id: r.state for r in await rows(app.db, Registration)}
    assert states[await contact_id(app, "ali")] == "registered"
    assert states[await contact_id(app, "rosa")] == "cancelled"

    assert await planner.plan(reminder_at - SECOND) == 0
    assert await planner.plan(reminder_at) == 1
    assert await chats(app, "deadline") == ["c-eva"]  # Rosa registered once: no reminder

    # The evening before: 18:00 city time, winter time since the night before (17:00 UTC).
    eve = berlin(2026, 10, 25, 18, 0)
    assert eve.hour == 17
    assert await planner.next_due(eve - timedelta(hours=1)) == eve
    assert await planner.plan(eve - SECOND) == 0
    assert await planner.plan(eve) == 2
    eve_rows = await event_rows(app, "eve")
    assert sorted(r.chat_id for r in eve_rows) == ["c-ali", "c-lu"]
    (to_ali,) = [r for r in eve_rows if r.chat_id == "c-ali"]
    assert [label for label, _ in to_ali.payload["choices"]] == [
        "Ich komme",
        "Ich kann nicht kommen",
    ]
    assert (await app.resolve(to_ali.payload)).files[0].file_name == "rt2026.ics"

    # Ali cannot come after all: the place is freed.
    clock.set(eve + timedelta(minutes=10))
    ali.replies = [ali_reply_from(to_ali)]
    await ali.press("Ich kann nicht kommen")
    assert "abgemeldet" in ali.last_text
    await lu.press_payload(to_ali.payload["choices"][0][1])
    assert "bis morgen" in lu.last_text

    # The day after: nothing more is planned, and every message went out exactly once.
    after = berlin(2026, 10, 27, 9, 0)
    assert await planner.plan(after) == 0
    assert await planner.next_due(after) is None
    keys = Counter(r.idempotency_key for r in await rows(app.db, OutboxMessage))
    assert max(keys.values()) == 1
    assert not [r for r in await event_rows(app) if r.chat_id in ("c-tom", "c-mia")]


def ali_reply_from(row: OutboxMessage):  # type: ignore[no-untyped-def]
    """The reminder as Ali's chat shows it, so that `press` finds its buttons."""
    from handlers.messages import reply_from_payload

    return reply_from_payload(row.payload)
