"""A resident changes a message after sending it: the new text counts while the item is
still being written; afterwards they are told it cannot, and nothing changes."""

from __future__ import annotations

from bot.app import App
from storage.models import FeedbackItem
from testkit.support import Resident, rows

CHANGED = "Geändert: Ihre Rückmeldung hat jetzt den neuen Text."
TOO_LATE = (
    "Eine geänderte Nachricht kann ich nur übernehmen, solange die Rückmeldung dazu noch nicht "
    "abgeschickt ist. Schicken Sie Ergänzungen bitte als neue Nachricht."
)


async def test_a_typo_fixed_during_the_questions_is_what_gets_submitted(
    app: App, alice: Resident
) -> None:
    await alice.say("Mehr Deutschkurse am Abnd")  # message 1
    await alice.press("Vorschlag")

    replies = await alice.edit("1", "Mehr Deutschkurse am Abend")

    assert replies[0].text == CHANGED
    assert replies[1].text == "Zu welchem Handlungsfeld gehört sie?"  # the same question again
    assert "Bildung und Sprache" in alice.choices
    await alice.press("Bildung und Sprache")
    await alice.press("Anonym bleiben")
    assert "Mehr Deutschkurse am Abend" in alice.last_text  # the summary shows the new text
    await alice.press("Abschicken")
    (item,) = await rows(app.db, FeedbackItem)
    assert item.text == "Mehr Deutschkurse am Abend"


async def test_a_change_at_the_summary_shows_the_summary_again_and_old_buttons_go_stale(
    app: App, alice: Resident
) -> None:
    await alice.say("Der Bus 12 fährt zu selten")  # message 1
    for label in ("Kritik", "Arbeit und Ausbildung", "Anonym bleiben"):
        await alice.press(label)
    old_send = next(c.payload for c in alice.replies[-1].choices if c.label == "Abschicken")

    await alice.edit("1", "Der Bus 12 fährt abends zu selten")

    assert alice.replies[0].text == CHANGED
    assert "Der Bus 12 fährt abends zu selten" in alice.last_text
    new_send = next(c.payload for c in alice.replies[-1].choices if c.label == "Abschicken")
    await alice.press_payload(old_send)  # the summary that showed the old text
    assert await rows(app.db, FeedbackItem) == []
    await alice.press_payload(new_send)
    (item,) = await rows(app.db, FeedbackItem)
    assert item.text == "Der Bus 12 fährt abends zu selten"


async def test_a_change_after_sending_is_refused_and_the_item_keeps_its_text(
    app: App, alice: Resident
) -> None:
    await alice.submit("Die Beratung sollte auch samstags öffnen")  # message 1

    await alice.edit("1", "Die Beratung sollte auch sonntags öffnen")

    assert alice.last_text == TOO_LATE
    (item,) = await rows(app.db, FeedbackItem)
    assert item.text == "Die Beratung sollte auch samstags öffnen"


async def test_a_change_to_another_message_does_not_replace_the_text(
    app: App, alice: Resident
) -> None:
    await alice.say("Erster Gedanke")  # message 1, sent into no flow: it starts the item
    await alice.press("Frage")
    field = next(c.payload for c in alice.replies[-1].choices if c.label == "Sonstiges")
    await alice.edit("7", "Etwas ganz anderes")

    assert alice.last_text == TOO_LATE
    await alice.press_payload(field)  # the flow goes on where it was
    await alice.press("Anonym bleiben")
    assert "Erster Gedanke" in alice.last_text


async def test_changes_in_a_group_chat_get_no_answer(app: App) -> None:
    cora = Resident(app.handle, "cora")
    replies = await cora.send(
        cora.incoming(text="korrigiert", edited=True, message_id="3", is_group=True)
    )
    assert replies == []


async def test_a_live_location_moving_on_gets_no_answer(app: App, alice: Resident) -> None:
    moved = alice.incoming(edited=True, message_id="1", unsupported="location")
    assert await alice.send(moved) == []
