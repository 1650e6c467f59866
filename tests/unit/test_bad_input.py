"""Bad input gets a clear answer and changes nothing (DESIGN.md, rule 5)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlmodel import col

from bot.app import App
from storage.models import Attachment, Contact, FeedbackItem
from testkit.support import FakeClock, Resident, count, photo, rows

TOO_LONG = "Ihre Nachricht ist zu lang"
STALE = "Diese Schaltfläche gehört zu einer früheren Frage und gilt nicht mehr."
DOES_NOT_FIT = "Das passt nicht zur aktuellen Frage."
KIND_QUESTION = "Was für eine Rückmeldung ist das?"


@dataclass(frozen=True)
class Snapshot:
    """What a bad input must not change."""

    state: tuple[str, str, int, dict[str, Any]] | None
    items: int
    attachments: int


async def snapshot(app: App, resident: Resident) -> Snapshot:
    contacts = await rows(app.db, Contact, col(Contact.user_id) == f"u-{resident.name}")
    state = None
    if contacts:
        found = await app.store.conversations.get_state(contacts[0].id or 0)
        if found is not None:
            state = (found.flow, found.step, found.version, dict(found.data))
    return Snapshot(state, await count(app.db, FeedbackItem), await count(app.db, Attachment))


async def in_kind_step(app: App, alice: Resident) -> Snapshot:
    await alice.say("Mehr Radwege")
    before = await snapshot(app, alice)
    assert before.state is not None and before.state[1] == "kind"
    return before


async def test_text_over_the_limit_is_refused_and_changes_nothing(
    app: App, alice: Resident
) -> None:
    await alice.command("/feedback")
    before = await snapshot(app, alice)

    await alice.say("x" * 4001)

    assert len(alice.replies) == 1
    assert TOO_LONG in alice.last_text
    assert "4001 Zeichen, höchstens 4000" in alice.last_text
    assert "Es wurde nichts gespeichert." in alice.last_text
    assert await snapshot(app, alice) == before


async def test_text_over_the_limit_outside_a_flow_starts_nothing(
    app: App, alice: Resident
) -> None:
    await alice.say("y" * 5000)

    assert TOO_LONG in alice.last_text
    assert await snapshot(app, alice) == Snapshot(None, 0, 0)


async def test_text_of_exactly_the_limit_is_accepted(app: App, alice: Resident) -> None:
    text = "z" * 4000

    answer = await alice.submit(text)

    assert "F-2026-0001" in answer
    (item,) = await rows(app.db, FeedbackItem)
    assert item.text == text


async def test_feedback_command_with_text_of_exactly_the_limit_is_accepted(
    app: App, alice: Resident
) -> None:
    await alice.command("/feedback " + "z" * 4000)

    assert alice.last_text == KIND_QUESTION
    before = await snapshot(app, alice)
    assert before.state is not None and len(before.state[3]["text"]) == 4000
    await alice.command("/feedback " + "z" * 4001)
    assert TOO_LONG in alice.last_text
    assert await snapshot(app, alice) == before


async def test_empty_and_blank_messages_are_refused(app: App, alice: Resident) -> None:
    before = await in_kind_step(app, alice)

    for blank in ("", "   ", "\n\t "):
        await alice.say(blank)
        assert alice.last_text.startswith("Ihre Nachricht ist leer.")
        assert await snapshot(app, alice) == before


async def test_unknown_command_is_named_and_changes_nothing(app: App, alice: Resident) -> None:
    before = await in_kind_step(app, alice)

    await alice.command("/frobnicate now")

    assert alice.last_text == "Den Befehl /frobnicate kenne ich nicht. /help zeigt, was ich kann."
    assert await snapshot(app, alice) == before


async def test_answer_that_does_not_fit_repeats_the_question(app: App, alice: Resident) -> None:
    before = await in_kind_step(app, alice)

    for wrong in ("vielleicht", "9", "0"):
        await alice.say(wrong)
        assert alice.replies[0].text.startswith(DOES_NOT_FIT)
        assert alice.last_text == KIND_QUESTION
        assert alice.choices == ["Vorschlag", "Kritik", "Frage", "Lob"]
        assert await snapshot(app, alice) == before


async def test_button_of_an_earlier_step_is_stale(app: App, alice: Resident) -> None:
    await alice.say("Mehr Radwege")
    old_kind = alice.choice("Kritik").payload
    await alice.press("Vorschlag")
    before = await snapshot(app, alice)

    await alice.press_payload(old_kind)

    assert alice.last_text == STALE
    assert await snapshot(app, alice) == before
    assert before.state is not None and before.state[3]["kind"] == "suggestion"


async def test_button_of_the_same_step_from_an_earlier_round_is_stale(
    app: App, alice: Resident
) -> None:
    await alice.say("Erste Fassung")
    first_round = alice.choice("Lob").payload
    await alice.command("/cancel")
    await alice.say("Zweite Fassung")  # the kind question again, but a new version
    before = await snapshot(app, alice)

    await alice.press_payload(first_round)

    assert alice.last_text == STALE
    assert await snapshot(app, alice) == before


async def test_button_pressed_after_submission_is_stale(app: App, alice: Resident) -> None:
    await alice.say("Mehr Radwege")
    kind_button = alice.choice("Frage").payload
    await alice.submit("Mehr Radwege")
    before = await snapshot(app, alice)
    assert before == Snapshot(None, 1, 0)

    await alice.press_payload(kind_button)

    assert alice.last_text == STALE
    assert await snapshot(app, alice) == before


async def test_confirm_pressed_twice_stores_one_item(app: App, alice: Resident) -> None:
    await alice.say("Doppelt gedrückt")
    await alice.press("Vorschlag")
    await alice.press("Sonstiges")
    await alice.press("Anonym bleiben")
    confirm = alice.choice("Abschicken").payload

    await alice.press_payload(confirm)
    assert "F-2026-0001" in alice.last_text
    await alice.press_payload(confirm)

    assert alice.last_text == STALE
    assert await count(app.db, FeedbackItem) == 1


async def test_confirm_pressed_twice_at_the_same_instant_stores_one_item(
    app: App, alice: Resident
) -> None:
    await alice.say("Doppelt gedrückt")
    await alice.press("Vorschlag")
    await alice.press("Sonstiges")
    await alice.press("Anonym bleiben")
    confirm = alice.choice("Abschicken").payload

    first, second = await asyncio.gather(
        app.handle(alice.incoming(payload=confirm)), app.handle(alice.incoming(payload=confirm))
    )

    assert "F-2026-0001" in first[-1].text
    assert second[-1].text == STALE
    assert await count(app.db, FeedbackItem) == 1


async def test_malformed_payload_is_stale(app: App, alice: Resident) -> None:
    before = await in_kind_step(app, alice)

    for payload in ("nonsense", "v1:kind:", "vx:kind:praise", "v1:field:bildung"):
        await alice.press_payload(payload)
        assert alice.last_text == STALE
        assert await snapshot(app, alice) == before


async def test_unsupported_media_is_explained(app: App, alice: Resident) -> None:
    before = await in_kind_step(app, alice)

    for kind in ("sticker", "voice", "location"):
        await alice.send(alice.incoming(unsupported=kind))
        assert alice.last_text.startswith("Mit dieser Art von Nachricht kann ich nichts anfangen.")
        assert await snapshot(app, alice) == before


async def test_flood_gets_one_warning_then_silence_then_service_again(
    app: App, alice: Resident, bob: Resident, clock: FakeClock
) -> None:
    for _ in range(20):
        await alice.command("/help")
        assert alice.last_text.startswith("So funktioniert mitreden")

    warning = await alice.command("/help")
    assert len(warning) == 1
    assert warning[0].text.startswith("Sie schicken sehr viele Nachrichten in kurzer Zeit.")

    clock.advance(timedelta(seconds=30))
    before = await snapshot(app, alice)
    for _ in range(10):
        assert await alice.say("Das hier wird ignoriert") == []
    assert await snapshot(app, alice) == before  # dropped messages start no flow
    await bob.command("/help")  # other people are not affected
    assert bob.last_text.startswith("So funktioniert mitreden")

    clock.advance(timedelta(seconds=30))
    await alice.say("Jetzt wieder")
    assert alice.last_text == KIND_QUESTION


async def test_too_many_attachments_are_refused(app: App, alice: Resident) -> None:
    await alice.say("Viele Fotos")
    for n in range(1, 11):
        await alice.attach(photo(f"{n}.jpg"))
    assert alice.replies[0].text == "Datei angehängt (10 Dateien bei dieser Rückmeldung)."
    before = await snapshot(app, alice)

    await alice.attach(photo("11.jpg"))

    assert alice.last_text == "Sie können höchstens 10 Dateien anhängen."
    assert await snapshot(app, alice) == before
    await alice.say("Lob")  # the refusal shows no buttons; typing the label still answers
    await alice.press("Sonstiges")
    await alice.press("Anonym bleiben")
    await alice.press("Abschicken")
    await alice.command("/status F-2026-0001")
    assert "Anhänge: 10" in alice.last_text


async def test_group_chat_messages_that_are_not_commands_are_ignored(app: App) -> None:
    group = Resident(app.handle, "group")

    assert await group.send(group.incoming(text="Hallo zusammen", is_group=True)) == []
    assert await count(app.db, Contact) == 0
