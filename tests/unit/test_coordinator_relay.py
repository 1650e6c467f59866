"""Answers relayed between a working group and the resident: /reply and the "Answer" button
to the resident (in their language, the coordinator unnamed unless configured), and the
resident's answers back (/reply REF text, or a reply to the bot's message) to the group."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from bot.app import App
from bot.config import Settings
from storage.models import Contact, ItemEvent
from testkit.support import (
    ARBEIT_CHAT,
    BILDUNG_CHAT,
    FakeClock,
    GroupMember,
    Resident,
    coordination_settings,
    item_reference,
    outbox_rows,
    rows,
)

REF = "F-2026-0001"
MakeApp = Callable[..., Awaitable[App]]
ANSWER = (
    "Antwort von {sender} zu Ihrer Rückmeldung F-2026-0001:\n\n{text}\n\n"
    "Sie können direkt auf diese Nachricht antworten oder /reply F-2026-0001 Ihr Text "
    "schreiben."
)


async def submit(app: App, name: str = "rosa") -> Resident:
    resident = Resident(app.handle, name)
    await resident.submit("Mehr Deutschkurse am Abend")
    return resident


async def sent(app: App, chat_id: str, message_id: str) -> None:
    """Mark the chat's last outbox row sent as `message_id`, as delivery would."""
    row = (await outbox_rows(app.db, chat_id))[-1]
    await app.store.outbox.set_sent(row.id, app.clock.now(), message_id)


async def test_reply_is_relayed_to_the_resident_without_naming_the_coordinator(
    coordination: App, clock: FakeClock
) -> None:
    await submit(coordination)
    clock.advance()
    cora = Resident(coordination.handle, "cora")

    await cora.command(f"/reply {REF} Der Kurs startet im September.\nAnmeldung bei der VHS.")

    assert cora.last_text == f"Ihre Antwort auf {REF} ist unterwegs."
    (row,) = await outbox_rows(coordination.db, "c-rosa")
    (rosa,) = await rows(coordination.db, Contact, Contact.user_id == "u-rosa")
    assert (row.platform, row.is_group, row.contact_id) == ("telegram", False, rosa.id)
    assert item_reference(row) == REF
    assert row.payload["text"] == ANSWER.format(
        sender="Unter-AG Bildung und Sprache",
        text="Der Kurs startet im September.\nAnmeldung bei der VHS.",
    )
    assert "Cora" not in row.payload["text"] and "u-cora" not in row.payload["text"]
    item = await coordination.store.items.get_item(REF)
    assert item is not None
    assert (item.state, item.first_answered_at) == ("answered", clock.now())
    event = (await coordination.store.items.list_history(item.id or 0))[-1]
    assert (event.actor, event.action, event.text) == (
        "telegram:u-cora",
        "reply",
        "Der Kurs startet im September.\nAnmeldung bei der VHS.",
    )


async def test_reply_names_the_coordinator_when_configured(
    make_app: MakeApp, settings: Settings
) -> None:
    app = await make_app(coordination_settings(settings, name_coordinators=True))
    await submit(app)
    await Resident(app.handle, "cora").command(f"/reply {REF} Danke!")
    (row,) = await outbox_rows(app.db, "c-rosa")
    assert row.payload["text"] == ANSWER.format(
        sender="Cora (Unter-AG Bildung und Sprache)", text="Danke!"
    )
    assert "u-cora" not in row.payload["text"]


async def test_an_english_resident_is_answered_and_told_in_english(coordination: App) -> None:
    emma = Resident(coordination.handle, "emma", language_code="en")
    await emma.submit(
        "More evening classes",
        kind="Suggestion",
        field="Education and language",
        anonymity="Stay anonymous",
        confirm="Send",
    )
    cora = Resident(coordination.handle, "cora")  # a German coordinator
    await cora.command(f"/reply {REF} Der Kurs startet im September.")
    await cora.command(f"/state {REF} implemented")
    assert cora.last_text == f"{REF} ist jetzt umgesetzt. Die Person wurde informiert."

    answer, state = [row.payload["text"] for row in await outbox_rows(coordination.db, "c-emma")]
    assert answer.startswith(
        f"Answer from Sub-group education and language to your feedback {REF}:\n\n"
        "Der Kurs startet im September.\n\n"
    )
    assert "Antwort" not in answer
    assert state == f"Your feedback {REF} is now: implemented."


async def test_reply_to_a_resident_who_blocked_the_bot_is_kept(coordination: App) -> None:
    await submit(coordination)
    await coordination.mark_unreachable("telegram", "c-rosa")
    cora = Resident(coordination.handle, "cora")
    await cora.command(f"/reply {REF} Danke!")
    assert cora.last_text == (
        "Die Antwort ist gespeichert, aber die Person ist nicht mehr erreichbar."
    )
    assert await outbox_rows(coordination.db, "c-rosa") == []
    assert [e.action for e in await rows(coordination.db, ItemEvent)][-1] == "reply"


async def test_reply_usage(coordination: App) -> None:
    await submit(coordination)
    cora = Resident(coordination.handle, "cora")
    await cora.command(f"/reply {REF}")
    assert cora.last_text == "So geht es: /reply F-2026-0042 Ihr Text"
    await cora.command("/reply")
    assert cora.last_text == "So geht es: /reply F-2026-0042 Ihr Text"
    await cora.command("/reply 42 Hallo")
    assert cora.last_text == "Bitte geben Sie eine Referenz an, z. B. /reply F-2026-0042."


async def test_coordinator_answers_by_replying_to_the_group_notification(
    coordination: App,
) -> None:
    await submit(coordination)
    await sent(coordination, BILDUNG_CHAT, "77")
    cora = GroupMember(coordination.handle, "cora", BILDUNG_CHAT)

    await cora.reply_to("77", "Wir prüfen das bis Freitag.")

    assert cora.last_text == f"Ihre Antwort auf {REF} ist unterwegs."
    (row,) = await outbox_rows(coordination.db, "c-rosa")
    assert "Wir prüfen das bis Freitag." in row.payload["text"]


async def test_coordinator_of_another_group_cannot_answer_by_replying(
    coordination: App,
) -> None:
    await submit(coordination)
    await sent(coordination, BILDUNG_CHAT, "77")
    otto = GroupMember(coordination.handle, "otto", BILDUNG_CHAT)
    await otto.reply_to("77", "Hallo")
    assert otto.last_text == f"{REF} gehört nicht zu Ihren Arbeitsgruppen."
    assert await outbox_rows(coordination.db, "c-rosa") == []


# ---- the resident answers back ------------------------------------------------------------


async def test_resident_answers_back_with_reply_command(
    coordination: App, clock: FakeClock
) -> None:
    rosa = await submit(coordination)
    await Resident(coordination.handle, "cora").command(f"/reply {REF} Welche Uhrzeit?")
    clock.advance()

    await rosa.command(f"/reply {REF.lower()} Ab 18 Uhr wäre gut.")

    assert rosa.last_text == (
        f"Danke, Ihre Nachricht zu {REF} ist an die Arbeitsgruppe weitergegeben."
    )
    _, relayed = await outbox_rows(coordination.db, BILDUNG_CHAT)
    assert relayed.is_group and item_reference(relayed) == REF
    assert relayed.payload["text"].startswith(f"Antwort der Person\n\n{REF} · Vorschlag")
    assert relayed.payload["text"].endswith("Mehr Deutschkurse am Abend\n\nAb 18 Uhr wäre gut.")
    assert [label for label, _ in relayed.payload["choices"]] == [
        "Übernehmen",
        "Antworten",
        "Status ändern",
    ]
    event = (await rows(coordination.db, ItemEvent))[-1]
    assert (event.actor, event.action, event.text, event.at) == (
        "resident",
        "resident_reply",
        "Ab 18 Uhr wäre gut.",
        clock.now(),
    )
    await rosa.command(f"/reply {REF}")
    assert rosa.last_text == "So geht es: /reply F-2026-0042 Ihr Text"


async def test_resident_answers_back_by_replying_to_the_bots_message(
    coordination: App,
) -> None:
    rosa = await submit(coordination)
    await Resident(coordination.handle, "cora").command(f"/reply {REF} Welche Uhrzeit?")
    await sent(coordination, "c-rosa", "501")

    await rosa.send(rosa.incoming(text="Abends ab 18 Uhr.", reply_to="501"))
    await rosa.send(rosa.incoming(text="Oder samstags.", reply_to="501"))  # the same second

    assert rosa.last_text == (
        f"Danke, Ihre Nachricht zu {REF} ist an die Arbeitsgruppe weitergegeben."
    )
    relayed = [row.payload["text"] for row in await outbox_rows(coordination.db, BILDUNG_CHAT)]
    assert len(relayed) == 3  # the new item, then both answers: none lost
    assert relayed[1].endswith("\n\nAbends ab 18 Uhr.")
    assert relayed[2].endswith("\n\nOder samstags.")
    texts = [e.text for e in await rows(coordination.db, ItemEvent) if e.actor == "resident"]
    assert texts == [None, "Abends ab 18 Uhr.", "Oder samstags."]


async def test_answers_back_go_to_the_items_current_group(coordination: App) -> None:
    rosa = await submit(coordination)
    await Resident(coordination.handle, "ada").command(f"/assign {REF} uag-arbeit")
    await rosa.command(f"/reply {REF} Danke!")
    (forwarded, answer) = await outbox_rows(coordination.db, ARBEIT_CHAT)
    assert forwarded.payload["text"].startswith("Weitergeleitete Rückmeldung")
    assert answer.payload["text"].startswith("Antwort der Person")


async def test_a_reply_to_a_message_about_no_item_is_ordinary_input(coordination: App) -> None:
    rosa = await submit(coordination)
    await rosa.send(rosa.incoming(text="Noch eine Idee: Sprachcafés", reply_to="999"))
    assert rosa.last_text == "Was für eine Rückmeldung ist das?"


async def test_nobody_answers_back_on_someone_elses_item(coordination: App) -> None:
    await submit(coordination)
    bob = Resident(coordination.handle, "bob")
    await bob.command(f"/reply {REF} Ich auch!")
    assert bob.last_text == f"Unter {REF} finde ich keine Rückmeldung von Ihnen. /mine zeigt alle."
    assert len(await outbox_rows(coordination.db, BILDUNG_CHAT)) == 1


async def test_a_reply_to_any_message_naming_the_item_reaches_the_group(
    coordination: App,
) -> None:
    """Telegram passes the replied-to text along: a resident's reply counts even before
    delivery recorded which message it sent, but only in the private chat."""
    rosa = await submit(coordination)
    (confirmation,) = rosa.replies
    await rosa.send(
        rosa.incoming(
            text="Noch etwas: auch samstags?", reply_to="999", quoted_text=confirmation.text
        )
    )
    assert rosa.last_text.startswith(f"Danke, Ihre Nachricht zu {REF}")
    events = await rows(coordination.db, ItemEvent)
    assert [e.action for e in events][-1] == "resident_reply"

    # A list naming several items says nothing about which one: ordinary input then.
    await rosa.send(
        rosa.incoming(
            text="Hallo", reply_to="998", quoted_text=f"{REF} · Vorschlag\nF-2026-0002 · Lob"
        )
    )
    assert not rosa.last_text.startswith("Danke, Ihre Nachricht")


async def test_in_a_group_only_recorded_notifications_relay_a_reply(coordination: App) -> None:
    await submit(coordination)
    cora = GroupMember(coordination.handle, "cora", BILDUNG_CHAT)
    await cora.send(
        cora.incoming(
            text="ok", reply_to="997", quoted_text=f"{REF} ist jetzt bei Ihnen (in Bearbeitung)."
        )
    )
    assert cora.replies == []
    replies = [e for e in await rows(coordination.db, ItemEvent) if e.action == "reply"]
    assert replies == []
