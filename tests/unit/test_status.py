"""`/status` and `/mine`: residents see their own items, and only their own."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import update
from sqlmodel import col

from bot.app import App
from storage.models import FeedbackItem
from testkit.support import FakeClock, Resident

NOTHING_YET = "Sie haben noch keine Rückmeldung geschickt. Schreiben Sie einfach los."


async def test_status_without_items_says_so(alice: Resident) -> None:
    await alice.command("/status")
    assert alice.last_text == NOTHING_YET
    await alice.command("/mine")
    assert alice.last_text == NOTHING_YET


async def test_status_of_own_item_shows_state_group_and_times(
    app: App, alice: Resident, clock: FakeClock
) -> None:
    await alice.submit("Mehr Kita-Plätze", kind="Frage", field="Bildung und Sprache")

    await alice.command("/status F-2026-0001")

    assert alice.last_text == (
        "F-2026-0001\n"
        "Art: Frage\n"
        "Handlungsfeld: Bildung und Sprache\n"
        "Arbeitsgruppe: Unter-AG Bildung und Sprache\n"
        "Stand: eingegangen\n"
        "Eingegangen: 15. Juni 2026 14:00\n"  # 12:00 UTC is 14:00 in Berlin in summer
        "Zuletzt geändert: 15. Juni 2026 14:00\n"
        "Anhänge: 0\n"
        "Erste Antwort erwartet bis 29. Juni 2026"  # the group answers within 14 days
    )


async def test_status_shows_the_last_change(app: App, alice: Resident, clock: FakeClock) -> None:
    await alice.submit("Mehr Kita-Plätze")
    changed = clock.advance(timedelta(days=2, hours=4, minutes=30))
    change = (  # what a coordinator's command will do
        update(FeedbackItem)
        .where(col(FeedbackItem.reference) == "F-2026-0001")
        .values(state="in_progress", updated_at=changed)
    )
    await app.db.run(lambda session: session.exec(change))

    await alice.command("/status f-2026-0001")  # references are case-insensitive

    assert "Stand: in Bearbeitung" in alice.last_text
    assert "Eingegangen: 15. Juni 2026 14:00" in alice.last_text
    assert "Zuletzt geändert: 17. Juni 2026 18:30" in alice.last_text


async def test_status_in_english(app: App) -> None:
    emma = Resident(app.handle, "emma", language_code="en")
    await emma.submit(
        "More playgrounds",
        kind="Praise",
        field="Other",
        anonymity="Stay anonymous",
        confirm="Send",
    )

    await emma.command("/status F-2026-0001")

    assert "Working group: Integration working group" in emma.last_text
    assert "State: received" in emma.last_text
    assert "Received: 15 Jun 2026, 14:00" in emma.last_text  # British, as the catalogue is


async def test_someone_elses_reference_is_not_found(
    app: App, alice: Resident, bob: Resident
) -> None:
    await alice.submit("Geheimer Hinweis von Alice", field="Gesundheit und Pflege")

    await bob.command("/status F-2026-0001")
    answer_for_other = bob.last_text
    await bob.command("/status F-2026-0099")
    answer_for_missing = bob.last_text

    assert answer_for_other == (
        "Unter F-2026-0001 finde ich keine Rückmeldung von Ihnen. /mine zeigt alle."
    )
    # Nothing tells Bob whether the reference exists: the answer is the same as for none.
    assert answer_for_missing == answer_for_other.replace("0001", "0099")
    assert "Gesundheit" not in answer_for_other
    assert "Alice" not in answer_for_other


async def test_malformed_reference_is_explained(alice: Resident) -> None:
    await alice.submit("Irgendwas")
    for wrong in ("42", "F-26-1", "F-2026-12", "2026-0001", "F-2026-0001x"):
        await alice.command(f"/status {wrong}")
        assert alice.last_text == (
            "Das ist keine Referenz. Eine Referenz sieht so aus: F-2026-0042."
        ), wrong


async def test_mine_lists_own_items_newest_first(
    app: App, alice: Resident, bob: Resident, clock: FakeClock
) -> None:
    await alice.submit("Erstes", kind="Vorschlag")
    clock.advance(timedelta(hours=1))
    await bob.submit("Von Bob")
    clock.advance(timedelta(hours=1))
    await alice.submit("Zweites", kind="Kritik")
    clock.advance(timedelta(hours=1))
    await alice.submit("Drittes", kind="Lob")

    await alice.command("/mine")

    assert alice.last_text.splitlines() == [
        "Ihre Rückmeldungen:",
        "F-2026-0004 · Lob · eingegangen · zuletzt geändert 15. Juni 2026 17:00",
        "F-2026-0003 · Kritik · eingegangen · zuletzt geändert 15. Juni 2026 16:00",
        "F-2026-0001 · Vorschlag · eingegangen · zuletzt geändert 15. Juni 2026 14:00",
        "Details: /status und die Referenz, z. B. /status F-2026-0004",
    ]
    await alice.command("/status")  # without a reference: the same list
    assert alice.last_text.splitlines()[1].startswith("F-2026-0004")
