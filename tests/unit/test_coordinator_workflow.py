"""State changes: every allowed transition of handlers.workflow.TRANSITIONS is carried out
(history, resident told), every other one is refused and changes nothing; and the buttons on
an item notification (take, answer, state menu, a reason for "declined")."""

from __future__ import annotations

from itertools import product
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import update
from sqlmodel import col

from bot.app import App
from handlers.context import Voice
from handlers.i18n import LANGUAGE_NAMES, Catalogues
from handlers.labels import read_state
from handlers.workflow import NEEDS_NOTE, TRANSITIONS, allowed_next
from storage.models import Contact, FeedbackItem, ItemEvent, ItemState
from testkit.support import (
    BILDUNG_CHAT,
    FakeClock,
    GroupMember,
    Resident,
    count,
    outbox_rows,
    rows,
)

REF = "F-2026-0001"
STATES = [s.value for s in ItemState]
LABELS = {
    "received": "eingegangen",
    "in_progress": "in Bearbeitung",
    "answered": "beantwortet",
    "implemented": "umgesetzt",
    "declined": "abgelehnt",
    "closed": "abgeschlossen",
}


@pytest.fixture
async def submitted(coordination: App) -> App:
    await Resident(coordination.handle, "rosa").submit("Mehr Deutschkurse am Abend")
    return coordination


async def put_in_state(app: App, state: str) -> None:
    change = update(FeedbackItem).where(col(FeedbackItem.reference) == REF).values(state=state)
    await app.db.run(lambda session: session.exec(change))


async def item(app: App) -> FeedbackItem:
    found = await app.store.items.get_item(REF)
    assert found is not None
    return found


async def told(app: App) -> list[str]:
    return [row.payload["text"] for row in await outbox_rows(app.db, "c-rosa")]


def test_the_workflow_covers_every_state() -> None:
    assert set(TRANSITIONS) == set(STATES)
    reachable = {target for targets in TRANSITIONS.values() for target in targets}
    assert reachable == set(STATES) - {"received"}  # nothing goes back to "received"
    assert all(state not in TRANSITIONS[state] for state in STATES)
    assert {"declined"} == NEEDS_NOTE
    assert allowed_next("implemented") == ["closed"]


@pytest.mark.parametrize(
    ("language", "typed", "read"),
    [
        ("de", "in-progress", ("in_progress", "")),
        ("de", "INPROGRESS", ("in_progress", "")),
        ("de", "Closed", ("closed", "")),
        ("de", "done", None),
        ("de", "abgelehnt Passt nicht", ("declined", "Passt nicht")),
        (
            "de",
            "in   Bearbeitung\nRückfrage\nbei der VHS",
            ("in_progress", "Rückfrage\nbei der VHS"),
        ),
        ("de", "in", None),
        ("de", "abgelehntes", None),
        ("en", "In Progress, says Ana", ("in_progress", "says Ana")),
        ("en", "Abgelehnt too expensive", ("declined", "too expensive")),  # German: always
        ("tr", "reddedildi Bütçe yok", ("declined", "Bütçe yok")),
        ("uk", "У роботі", ("in_progress", "")),
        ("ru", "дан ответ спасибо", ("answered", "спасибо")),
        ("ar", "مرفوضة لا توجد ميزانية", ("declined", "لا توجد ميزانية")),
        ("de_simple", "die Stadt macht das ab Herbst", ("implemented", "ab Herbst")),
        ("de_simple", "umgesetzt", ("implemented", "")),
    ],
)
def test_a_state_is_read_in_the_coordinators_language_and_in_german(
    language: str, typed: str, read: tuple[str, str] | None
) -> None:
    catalogues = Catalogues(tuple(LANGUAGE_NAMES))
    speaker = Voice(language, catalogues.get(language), ZoneInfo("Europe/Berlin"))
    assert read_state(speaker, typed) == read


@pytest.mark.parametrize(("old", "new"), list(product(STATES, STATES)))
async def test_state_change(submitted: App, clock: FakeClock, old: str, new: str) -> None:
    await put_in_state(submitted, old)
    events, before = await count(submitted.db, ItemEvent), await told(submitted)
    cora = Resident(submitted.handle, "cora")

    await cora.command(f"/state {REF} {new} Ab dem Herbstsemester")

    if old == new:
        assert cora.last_text == f"{REF} ist schon {LABELS[new]}."
    elif new in TRANSITIONS[old]:
        assert cora.last_text == f"{REF} ist jetzt {LABELS[new]}. Die Person wurde informiert."
        assert (await item(submitted)).state == new
        (event,) = (await submitted.store.items.list_history((await item(submitted)).id or 0))[
            events:
        ]
        assert (event.actor, event.action, event.state, event.text, event.at) == (
            "telegram:u-cora",
            "state",
            new,
            "Ab dem Herbstsemester",
            clock.now(),
        )
        assert await told(submitted) == [
            *before,
            f"Neuer Stand Ihrer Rückmeldung {REF}: {LABELS[new]}.\n"
            "Anmerkung der Arbeitsgruppe: Ab dem Herbstsemester",
        ]
        return
    else:
        assert cora.last_text == f"Von {LABELS[old]} nach {LABELS[new]} geht es nicht."
    assert (await item(submitted)).state == old
    assert await count(submitted.db, ItemEvent) == events
    assert await told(submitted) == before


@pytest.mark.parametrize("old", [s for s in STATES if "declined" in TRANSITIONS[s]])
async def test_declined_needs_a_reason(submitted: App, old: str) -> None:
    await put_in_state(submitted, old)
    cora = Resident(submitted.handle, "cora")
    await cora.command(f"/state {REF} declined")
    assert cora.last_text == (
        f"Für abgelehnt ist eine Begründung nötig: /state {REF} abgelehnt Begründung"
    )
    assert (await item(submitted)).state == old


async def test_first_answer_time_is_kept_from_the_first_answer(
    submitted: App, clock: FakeClock
) -> None:
    cora = Resident(submitted.handle, "cora")
    clock.advance()
    first = clock.now()
    await cora.command(f"/state {REF} answered")
    clock.advance()
    await cora.command(f"/state {REF} in_progress")
    clock.advance()
    await cora.command(f"/state {REF} answered")
    assert (await item(submitted)).first_answered_at == first


# ---- buttons on the notification ---------------------------------------------------------


async def notification_choices(app: App) -> dict[str, str]:
    (row,) = await outbox_rows(app.db, BILDUNG_CHAT)
    return {label: payload for label, payload in row.payload["choices"]}


async def test_take_button(submitted: App) -> None:
    buttons = await notification_choices(submitted)
    cora = GroupMember(submitted.handle, "cora", BILDUNG_CHAT)
    await cora.press_payload(buttons["Übernehmen"])
    assert cora.last_text == f"{REF} ist jetzt bei Ihnen (in Bearbeitung)."
    assert (await item(submitted)).assignee == "telegram:u-cora"


async def test_answer_button_then_the_typed_answer_is_relayed(submitted: App) -> None:
    buttons = await notification_choices(submitted)
    cora = GroupMember(submitted.handle, "cora", BILDUNG_CHAT)
    await cora.press_payload(buttons["Antworten"])
    assert cora.last_text == (
        f"Bitte schreiben Sie jetzt Ihre Antwort auf {REF}. Sie geht an die Person, die die "
        "Rückmeldung geschickt hat. /cancel bricht ab."
    )
    assert await told(submitted) == []

    # In a group the bot sees a reply to its message (Telegram's privacy mode).
    await cora.reply_to("4711", "Der Kurs startet im September.")

    assert cora.last_text == f"Ihre Antwort auf {REF} ist unterwegs."
    (answer,) = await told(submitted)
    assert "Der Kurs startet im September." in answer
    state = await submitted.store.conversations.get_state(await _contact(submitted, "cora"))
    assert state is None
    assert (await item(submitted)).state == "answered"


async def test_answer_button_in_a_private_chat_and_cancel(submitted: App) -> None:
    cora = Resident(submitted.handle, "cora")
    await cora.press_payload(f"item:answer:{REF}")
    await cora.command("/cancel")
    assert cora.last_text == "Abgebrochen. Es wurde nichts gespeichert."
    await cora.say("Das war nicht für die Person gedacht.")  # ordinary input again
    assert await told(submitted) == []

    await cora.press_payload(f"item:answer:{REF}")
    await cora.say("Wir melden uns bis Freitag.")
    assert cora.last_text == f"Ihre Antwort auf {REF} ist unterwegs."
    assert ["Wir melden uns bis Freitag." in text for text in await told(submitted)] == [True]


async def test_state_menu_offers_the_allowed_states_and_sets_one(submitted: App) -> None:
    buttons = await notification_choices(submitted)
    cora = GroupMember(submitted.handle, "cora", BILDUNG_CHAT)
    await cora.press_payload(buttons["Status ändern"])
    assert cora.last_text == f"Neuer Stand für {REF} (jetzt: eingegangen)?"
    assert cora.choices == [LABELS[s] for s in allowed_next("received")]
    assert cora.choice("umgesetzt").payload == f"item:set:{REF}:implemented"

    await cora.press("umgesetzt")
    assert cora.last_text == f"{REF} ist jetzt umgesetzt. Die Person wurde informiert."
    assert await told(submitted) == [f"Neuer Stand Ihrer Rückmeldung {REF}: umgesetzt."]

    await cora.press_payload(buttons["Status ändern"])
    assert cora.choices == ["abgeschlossen"]


async def test_declined_button_asks_for_the_reason_first(submitted: App) -> None:
    cora = GroupMember(submitted.handle, "cora", BILDUNG_CHAT)
    await cora.press_payload(f"item:set:{REF}:declined")
    assert cora.last_text == (
        f"Bitte schreiben Sie die Begründung für abgelehnt ({REF}). Die Person bekommt sie "
        "zu lesen. /cancel bricht ab."
    )
    assert (await item(submitted)).state == "received"

    await cora.reply_to("4712", "Dafür ist der Landkreis zuständig.")

    assert cora.last_text == f"{REF} ist jetzt abgelehnt. Die Person wurde informiert."
    assert await told(submitted) == [
        f"Neuer Stand Ihrer Rückmeldung {REF}: abgelehnt.\n"
        "Anmerkung der Arbeitsgruppe: Dafür ist der Landkreis zuständig."
    ]


async def test_an_old_declined_button_is_refused_without_asking_for_a_reason(
    submitted: App,
) -> None:
    await put_in_state(submitted, "implemented")
    cora = Resident(submitted.handle, "cora")
    await cora.press_payload(f"item:set:{REF}:declined")
    assert cora.last_text == "Von umgesetzt nach abgelehnt geht es nicht."
    assert await submitted.store.conversations.get_state(await _contact(submitted, "cora")) is None


async def test_stale_and_unknown_item_buttons(submitted: App) -> None:
    cora = Resident(submitted.handle, "cora")
    await cora.press_payload(f"item:set:{REF}:in_progress")
    await cora.press_payload(f"item:set:{REF}:in_progress")  # pressed twice
    assert cora.last_text == f"{REF} ist schon in Bearbeitung."
    await cora.press_payload(f"item:bogus:{REF}")
    assert (cora.last_text, cora.replies[0].notice) == (
        "Diese Schaltfläche gilt nicht mehr.",
        True,
    )
    await cora.press_payload("item:take:F-2026-0999")
    assert cora.last_text == "Eine Rückmeldung F-2026-0999 gibt es nicht."


async def _contact(app: App, name: str) -> int:
    (contact,) = await rows(app.db, Contact, Contact.user_id == f"u-{name}")
    return contact.id or 0
