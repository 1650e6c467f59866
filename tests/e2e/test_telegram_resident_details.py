"""Details residents stumbled over (issue 17), as they see them on Telegram over the fake Bot
API server: a photo's caption in the middle of the flow, four items filed quickly, what the
privacy texts and /help name, and a postponement told to someone on the waitlist."""

from __future__ import annotations

import json
import re

import pytest

from storage.models import Attachment
from testkit.fakebotapi import BotMessage
from testkit.support import FakeClock, rows
from tests.e2e.conftest import RunningBot, StartBot
from tests.event_support import TITLE, add_round_table, berlin

pytestmark = pytest.mark.e2e

REFERENCE = re.compile(r"F-2026-\d{4}")
PHOTO = b"\xff\xd8\xff\xe0" + bytes(range(256)) * 2
NOT_FITTING = "Das passt nicht zur aktuellen Frage"
FLOOD = "Sie schicken sehr viele Nachrichten"
SUBMIT = ("Vorschlag", "Bildung und Sprache", "Anonym bleiben", "Abschicken")


async def newest(bot: RunningBot, user_id: int, n: int) -> BotMessage:
    """The newest of the first `n` bot messages in the chat, once there are `n`."""
    return (await bot.messages(user_id, n))[n - 1]


async def press_through(bot: RunningBot, user_id: int, prompt: BotMessage, *labels: str) -> None:
    for step, label in enumerate(labels, 1):
        bot.press(user_id, prompt, label)
        await bot.edited(prompt, step)


# ---- a caption sent while the bot asks for a choice ------------------------------------


@pytest.mark.parametrize(
    ("language", "kind", "labels", "kept"),
    [
        (
            "de",
            "Was für eine Rückmeldung ist das?",
            ("Kritik", "Bildung und Sprache", "Anonym bleiben", "Abschicken"),
            "Ihren Text dazu habe ich als Beschreibung der Datei gespeichert.",
        ),
        (
            "en",
            "What kind of feedback is this?",
            ("Criticism", "Education and language", "Stay anonymous", "Send"),
            "I have saved your text with the file as its description.",
        ),
    ],
)
async def test_a_caption_sent_during_a_choice_is_kept_with_the_photo(
    bot: RunningBot, language: str, kind: str, labels: tuple[str, ...], kept: str
) -> None:
    anna = bot.resident("Anna", language_code=language)
    bot.api.inject_text(anna.id, "Schlagloch vor der Schule")
    await bot.message_with(anna.id, kind)

    bot.api.inject_photo(anna.id, PHOTO, caption="Das Loch ist 30 cm tief")
    attached = await newest(bot, anna.id, 2)
    assert attached.text is not None and attached.text.endswith(kept)
    prompt = await newest(bot, anna.id, 3)
    assert prompt.text == kind  # the question again, not answered by the caption
    assert not any(NOT_FITTING in (t or "") for t in bot.api.texts_to(anna.id))
    await press_through(bot, anna.id, prompt, *labels)
    assert REFERENCE.search(prompt.text or "")

    (item,) = await bot.items()
    assert item.text == "Schlagloch vor der Schule"
    (photo,) = await rows(bot.app.db, Attachment, Attachment.item_id == item.id)
    assert (photo.data, photo.caption) == (PHOTO, "Das Loch ist 30 cm tief")

    # The resident finds it in what is stored about them.
    bot.api.inject_text(anna.id, "/mydata")
    export = await bot.until(
        lambda: next((m for m in bot.api.messages_to(anna.id) if m.data), None),
        "the /mydata file",
    )
    (exported,) = json.loads(export.data or b"")["feedback"]
    assert [a["caption"] for a in exported["attachments"]] == ["Das Loch ist 30 cm tief"]


# ---- the flood limit counts what a person types ------------------------------------------


async def test_five_items_filed_quickly_with_the_buttons_are_all_taken(bot: RunningBot) -> None:
    """Five items in one minute are 5 typed texts and 20 presses: over the limit of 20 if the
    presses counted."""
    rosa = bot.resident("Rosa")
    for n in range(1, 6):
        bot.api.inject_text(rosa.id, f"Vorschlag Nummer {n}")
        prompt = await newest(bot, rosa.id, n)
        assert prompt.text == "Was für eine Rückmeldung ist das?", bot.api.texts_to(rosa.id)
        await press_through(bot, rosa.id, prompt, *SUBMIT)
        assert (prompt.text or "").startswith("Vielen Dank!")

    assert len(await bot.items()) == 5
    assert not any(FLOOD in (t or "") for t in bot.api.texts_to(rosa.id))


# ---- the privacy texts and /help name the commands ---------------------------------------


@pytest.mark.parametrize(
    ("language", "privacy", "reply_line"),
    [
        (
            "de",
            "/mydata schickt Ihnen alles, was über Sie gespeichert ist; /forget löscht es.",
            "/reply F-2026-0042 Text – der Arbeitsgruppe zu Ihrer Rückmeldung schreiben",
        ),
        (
            "en",
            "/mydata sends you everything stored about you; /forget erases it.",
            "/reply F-2026-0042 text – write to the working group about your feedback",
        ),
    ],
)
async def test_privacy_in_short_names_mydata_and_forget_and_help_names_reply(
    bot: RunningBot, language: str, privacy: str, reply_line: str
) -> None:
    anna = bot.resident("Anna", language_code=language)
    bot.api.inject_text(anna.id, "/start")
    notice = await newest(bot, anna.id, 2)
    assert notice.text is not None and notice.text.endswith(privacy)
    assert "schreiben Sie uns" not in notice.text and "write to us" not in notice.text

    bot.api.inject_text(anna.id, "/help")
    help_text = (await newest(bot, anna.id, 3)).text or ""
    assert reply_line in help_text.splitlines()


# ---- a postponement told to the waitlist -------------------------------------------------


REGISTERING = {  # language: (the list of events, the button, the waitlist answer)
    "de": ("Veranstaltungen, für die Sie sich anmelden können", "Anmelden", "Warteliste"),
    "en": ("Events you can register for", "Register", "waiting list"),
}


async def register(bot: RunningBot, user_id: int, language: str, answer: str) -> None:
    """/events → the round table → register; waits for the answer containing `answer`."""
    events, button, _ = REGISTERING[language]
    bot.api.inject_text(user_id, "/events")
    prompt = await bot.message_with(user_id, events)
    bot.press(user_id, prompt, TITLE)
    await bot.edited(prompt, 1)
    bot.press(user_id, prompt, button)
    await bot.message_with(user_id, answer)


@pytest.fixture
async def delivering(start_bot: StartBot) -> RunningBot:
    """The bot with the outbox delivered beside the channel, as `mitreden run` runs them."""
    return await start_bot(deliver=True)


@pytest.mark.parametrize(
    ("language", "postponed", "still_waiting", "registered_only"),
    [
        (
            "de",
            "wird verschoben. Neuer Termin:",
            "Sie stehen weiter auf der Warteliste; wird ein Platz frei, bekommen Sie ihn",
            ("Ihre Anmeldung gilt weiter", "Kalenderdatei"),
        ),
        (
            "en",
            "is postponed. New date:",
            "You are still on the waiting list; if a place becomes free, you get it",
            ("registration remains valid", "calendar file"),
        ),
    ],
)
async def test_someone_on_the_waitlist_is_told_of_a_postponement_without_a_calendar_file(
    delivering: RunningBot,
    clock: FakeClock,
    language: str,
    postponed: str,
    still_waiting: str,
    registered_only: tuple[str, ...],
) -> None:
    bot = delivering
    await add_round_table(bot.app, capacity=1, workshops=False)
    clock.set(berlin(2026, 10, 1, 9, 0))
    rosa, emil = bot.resident("Rosa"), bot.resident("Emil", language_code=language)
    cora = bot.resident("Cora")
    assert await bot.app.store.membership.add_coordinator("uag-bildung", "telegram", str(cora.id))
    await register(bot, rosa.id, "de", "Ihr Code")
    await register(bot, emil.id, language, REGISTERING[language][2])

    bot.api.inject_text(cora.id, "/postpone rt2026 2026-11-16 Der Saal ist belegt")
    moved = await bot.message_with(cora.id, "ist verschoben auf")
    # The coordinator reads who has a place and who waits, counted apart.
    assert (moved.text or moved.caption or "").endswith(
        " 1 angemeldete Person bekommt Bescheid. "
        "1 Person auf der Warteliste bekommt ebenfalls Bescheid."
    )

    # Rosa has a place: her notice comes with the calendar file, as before.
    registered = await bot.message_with(rosa.id, "wird verschoben")
    assert "Ihre Anmeldung gilt weiter; die Kalenderdatei ist angehängt." in (
        registered.caption or ""
    )
    assert registered.data is not None and b"BEGIN:VCALENDAR" in registered.data
    # Emil is on the waitlist: told that he still is, with the new date and the reason, and
    # without a calendar file that would tell him he had a place.
    waiting = await bot.message_with(emil.id, postponed)
    assert waiting.text is not None, "a text message, not a file with a caption"
    assert still_waiting in waiting.text
    assert "Der Saal ist belegt" in waiting.text and "/myevents" in waiting.text
    assert not any(words in waiting.text for words in registered_only)
    assert waiting.data is None
    assert bot.api.calls(method="sendDocument", chat_id=emil.id) == []
