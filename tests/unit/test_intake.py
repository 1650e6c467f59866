"""The feedback flow as a resident lives it, end to end through `App.handle` on SQLite."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlmodel import col

from bot.app import App
from handlers.i18n import LANGUAGE_NAMES
from storage.db import Database
from storage.models import Attachment, Contact, ConversationState, FeedbackItem, ItemEvent
from testkit.support import FakeClock, Resident, count, document, photo, rows

KINDS = ["Vorschlag", "Kritik", "Frage", "Lob"]
FIELDS = [
    "Bildung und Sprache",
    "Arbeit und Ausbildung",
    "Wohnen und Zusammenleben im Quartier",
    "Gesundheit und Pflege",
    "Antirassismus und Antidiskriminierung",
    "Teilhabe und Partizipation",
    "Sonstiges",
]


async def state_of(app: App, resident: Resident) -> ConversationState | None:
    contact = await contact_of(app, resident)
    return await app.store.conversations.get_state(contact.id or 0)


async def contact_of(app: App, resident: Resident) -> Contact:
    (contact,) = await rows(app.db, Contact, col(Contact.user_id) == f"u-{resident.name}")
    return contact


async def test_free_text_starts_the_flow_with_the_kind_question(app: App, alice: Resident) -> None:
    await alice.say("Abends mehr Deutschkurse, bitte")

    assert alice.last_text == "Was für eine Rückmeldung ist das?"
    assert alice.choices == KINDS
    state = await state_of(app, alice)
    assert state is not None and state.step == "kind"
    assert state.data == {"text": "Abends mehr Deutschkurse, bitte", "source": "1"}


async def test_feedback_command_without_text_asks_for_it(app: App, alice: Resident) -> None:
    await alice.command("/feedback")

    assert "Bitte schreiben Sie Ihre Rückmeldung" in alice.last_text
    assert alice.choices == []
    await alice.say("Der Spielplatz braucht Schatten")
    assert alice.last_text == "Was für eine Rückmeldung ist das?"
    state = await state_of(app, alice)
    assert state is not None and state.data["text"] == "Der Spielplatz braucht Schatten"


async def test_feedback_command_with_text_goes_straight_to_the_kind(
    app: App, alice: Resident
) -> None:
    await alice.command("/feedback Mehr Sprechstunden im Bürgeramt")

    assert alice.last_text == "Was für eine Rückmeldung ist das?"
    state = await state_of(app, alice)
    assert state is not None and state.data == {"text": "Mehr Sprechstunden im Bürgeramt"}


async def test_whole_flow_gives_reference_and_group_and_stores_the_item(
    app: App, alice: Resident
) -> None:
    await alice.say("Abends mehr Deutschkurse, bitte")
    await alice.press("Vorschlag")
    assert alice.last_text == "Zu welchem Handlungsfeld gehört sie?"
    assert alice.choices == FIELDS
    await alice.press("Bildung und Sprache")
    assert alice.choices == ["Anonym bleiben", "Mit meinem Namen"]
    await alice.press("Mit meinem Namen")
    summary = alice.last_text
    assert "Art: Vorschlag" in summary
    assert "Handlungsfeld: Bildung und Sprache" in summary
    assert "Sichtbarkeit: mit Namen" in summary
    assert "Abends mehr Deutschkurse, bitte" in summary
    assert alice.choices == ["Abschicken", "Abbrechen"]

    await alice.press("Abschicken")

    assert "Ihre Referenz: F-2026-0001" in alice.last_text
    assert "Weitergeleitet an: Unter-AG Bildung und Sprache" in alice.last_text
    (item,) = await rows(app.db, FeedbackItem)
    assert item.reference == "F-2026-0001"
    assert (item.kind, item.field_key, item.group_key) == ("suggestion", "bildung", "uag-bildung")
    assert item.anonymous is False
    assert item.text == "Abends mehr Deutschkurse, bitte"
    assert item.language == "de"
    assert item.state == "received"
    assert item.platform == "telegram"
    assert item.created_at == app.clock.now()
    (event,) = await rows(app.db, ItemEvent)
    assert (event.item_id, event.action, event.state) == (item.id, "created", "received")
    assert await state_of(app, alice) is None  # the flow has ended


async def test_anonymous_is_the_stored_choice(app: App, alice: Resident) -> None:
    await alice.submit("Anonymer Hinweis", anonymity="Anonym bleiben")

    (item,) = await rows(app.db, FeedbackItem)
    assert item.anonymous is True


async def test_item_is_committed_before_the_resident_is_told(app: App, alice: Resident) -> None:
    await alice.submit("Mehr Bänke am Marktplatz")

    # Another connection (as another process would) sees the item the moment the reply exists.
    other = Database(app.db.url)
    try:
        (item,) = await rows(other, FeedbackItem)
    finally:
        await other.dispose()
    assert item.reference in alice.last_text


async def test_field_owned_by_a_group_goes_to_that_group(app: App, alice: Resident) -> None:
    answer = await alice.submit(
        "Wohnungsbesichtigungen", field="Wohnen und Zusammenleben im Quartier"
    )

    assert "Weitergeleitet an: Unter-AG Wohnen" in answer
    (item,) = await rows(app.db, FeedbackItem)
    assert item.group_key == "uag-wohnen"


async def test_unowned_field_goes_to_the_default_group(app: App, alice: Resident) -> None:
    answer = await alice.submit("Etwas ganz anderes", field="Sonstiges")

    assert "Weitergeleitet an: AG Integration" in answer
    (item,) = await rows(app.db, FeedbackItem)
    assert (item.field_key, item.group_key) == ("sonstiges", "ag-integration")


async def test_typed_numbers_and_labels_answer_the_choices(app: App, alice: Resident) -> None:
    await alice.say("Die Ausländerbehörde ist schwer erreichbar")
    await alice.say("2")  # Kritik
    await alice.say("arbeit und ausbildung")  # a label, in any case
    await alice.say("1.")  # Anonym bleiben, typed as "1."
    assert alice.choices == ["Abschicken", "Abbrechen"]
    await alice.say("Abschicken")

    assert "F-2026-0001" in alice.last_text
    (item,) = await rows(app.db, FeedbackItem)
    assert (item.kind, item.field_key, item.anonymous) == ("criticism", "arbeit", True)


async def test_cancel_leaves_the_flow_and_stores_nothing(app: App, alice: Resident) -> None:
    await alice.say("Eigentlich doch nicht")
    await alice.press("Lob")

    await alice.command("/cancel")

    assert alice.last_text == "Abgebrochen. Es wurde nichts gespeichert."
    assert await state_of(app, alice) is None
    assert await count(app.db, FeedbackItem) == 0
    await alice.command("/cancel")
    assert alice.last_text == "Es gibt gerade nichts abzubrechen."


async def test_cancel_button_at_confirmation_stores_nothing(app: App, alice: Resident) -> None:
    await alice.submit("Doch lieber nicht", confirm="Abbrechen")

    assert alice.last_text == "Abgebrochen. Es wurde nichts gespeichert."
    assert await count(app.db, FeedbackItem) == 0
    assert await state_of(app, alice) is None


async def test_cancel_drops_the_files_collected_in_the_flow(app: App, alice: Resident) -> None:
    await alice.say("Mit Foto")
    await alice.attach(photo())
    await alice.command("/cancel")

    assert await count(app.db, Attachment) == 0


async def test_files_sent_during_the_flow_are_attached_to_the_item(
    app: App, alice: Resident
) -> None:
    await alice.say("Schlagloch vor der Schule")
    await alice.attach(photo())
    assert alice.replies[0].text == "Datei angehängt (1 Datei bei dieser Rückmeldung)."
    assert alice.last_text == "Was für eine Rückmeldung ist das?"  # the question is repeated
    await alice.press("Kritik")
    await alice.attach(document())
    assert alice.replies[0].text == "Datei angehängt (2 Dateien bei dieser Rückmeldung)."
    await alice.press("Sonstiges")
    await alice.press("Anonym bleiben")
    await alice.press("Abschicken")
    assert "F-2026-0001" in alice.last_text

    await alice.command("/status F-2026-0001")

    assert "Anhänge: 2" in alice.last_text
    (item,) = await rows(app.db, FeedbackItem)
    files = await rows(app.db, Attachment)
    assert sorted(f.file_name for f in files) == ["brief.pdf", "pothole.jpg"]
    assert {f.item_id for f in files} == {item.id}
    assert {f.data for f in files} == {photo().data, document().data}


async def test_a_photo_without_a_flow_starts_one(app: App, alice: Resident) -> None:
    await alice.attach(photo())

    assert alice.replies[0].text == "Datei angehängt (1 Datei bei dieser Rückmeldung)."
    assert "Bitte schreiben Sie Ihre Rückmeldung" in alice.last_text
    await alice.say("Das Foto zeigt den kaputten Aufzug")
    assert alice.last_text == "Was für eine Rückmeldung ist das?"
    await alice.press("Kritik")
    await alice.press("Sonstiges")
    await alice.press("Anonym bleiben")
    await alice.press("Abschicken")
    (item,) = await rows(app.db, FeedbackItem)
    assert item.text == "Das Foto zeigt den kaputten Aufzug"
    (file,) = await rows(app.db, Attachment)
    assert file.item_id == item.id


async def test_a_photo_with_caption_starts_the_flow_with_its_text(
    app: App, alice: Resident
) -> None:
    await alice.attach(photo(), text="Kaputter Aufzug am Bahnhof")

    assert alice.last_text == "Was für eine Rückmeldung ist das?"
    state = await state_of(app, alice)
    assert state is not None and state.data == {
        "text": "Kaputter Aufzug am Bahnhof",
        "source": "1",
    }


async def test_platform_language_english_is_preselected_and_remembered(app: App) -> None:
    emma = Resident(app.handle, "emma", language_code="en-GB")

    answer = await emma.submit(
        "More evening language classes",
        kind="Suggestion",
        field="Education and language",
        anonymity="Stay anonymous",
        confirm="Send",
    )

    assert answer.startswith("Thank you! Your feedback has been received.")
    assert "F-2026-0001" in answer
    assert "Sub-group education and language" in answer
    assert (await contact_of(app, emma)).language == "en"
    (item,) = await rows(app.db, FeedbackItem)
    assert item.language == "en"


async def test_language_command_switches_and_is_remembered(app: App, alice: Resident) -> None:
    await alice.command("/language")
    shipped = app.router.catalogues.languages
    assert alice.choices == [LANGUAGE_NAMES[code] for code in shipped]
    assert {"Deutsch", "English"} <= set(alice.choices)

    await alice.press("English")

    assert alice.last_text.startswith("From now on I will write to you in English.")
    assert (await contact_of(app, alice)).language == "en"
    # The platform still says German; the choice stored in the contact row wins.
    alice.language_code = "de"
    await alice.say("Something")
    assert alice.last_text == "What kind of feedback is this?"


async def test_language_command_with_code_switches_back(app: App) -> None:
    emma = Resident(app.handle, "emma", language_code="en")
    await emma.command("/language de")

    assert emma.last_text.startswith("Ich schreibe Ihnen ab jetzt auf Deutsch.")
    assert (await contact_of(app, emma)).language == "de"


async def test_reference_year_follows_the_city_time_zone(
    app: App, alice: Resident, clock: FakeClock
) -> None:
    clock.set(datetime(2026, 12, 31, 23, 30, tzinfo=UTC))  # already 2027 in Berlin

    answer = await alice.submit("Frohes neues Jahr")

    assert "Ihre Referenz: F-2027-0001" in answer
    (item,) = await rows(app.db, FeedbackItem)
    assert item.created_at == datetime(2026, 12, 31, 23, 30, tzinfo=UTC)


async def test_references_count_up_across_residents(
    app: App, alice: Resident, bob: Resident
) -> None:
    assert "F-2026-0001" in await alice.submit("Erstens")
    assert "F-2026-0002" in await bob.submit("Zweitens")
    assert "F-2026-0003" in await alice.submit("Drittens")
