"""What a coordinator sees every day in the working group's chat, on Telegram over the fake Bot
API, in German and in other languages (issue 17, coordinators): the item's history in
sentences, state names in the coordinator's language, fields by name, the last day of a year,
only the actions that apply, and what to do when an answer missed the bot's prompt.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from handlers.context import format_day
from testkit.fakebotapi import BotMessage, Chat, User
from testkit.support import FakeClock
from tests.e2e.conftest import RunningBot, StartBot
from tests.e2e.test_coordinator_telegram import press_in_group, sent_is_recorded, submit

pytestmark = pytest.mark.e2e
REF = "F-2026-0001"
TEXT = "Mehr Deutschkurse am Abend, bitte."
CODES = ("created", "taken", "resident_reply", "in_progress")  # as the history stores them


@pytest.fixture
async def bot(start_bot: StartBot) -> RunningBot:
    """The bot with the outbox delivered beside the channel, as `mitreden run` runs them."""
    return await start_bot(deliver=True)


async def working_group(
    bot: RunningBot, *coordinators: User, others: tuple[User, ...] = ()
) -> Chat:
    """uag-bildung's chat with its coordinators (and other people) in it."""
    group = bot.api.add_group("UAG Bildung", [c.id for c in (*coordinators, *others)])
    membership = bot.app.store.membership
    for coordinator in coordinators:
        assert await membership.add_coordinator("uag-bildung", "telegram", str(coordinator.id))
    assert await membership.add_group_chat("uag-bildung", "telegram", str(group.id))
    return group


async def command(bot: RunningBot, chat: Chat, user: User, text: str) -> BotMessage:
    """`user` types `text` in `chat`; returns the bot's next message there."""
    sent = len(bot.api.messages_to(chat.id))
    bot.api.inject_text(user.id, text, chat.id)
    return (await bot.messages(chat.id, sent + 1))[sent]


def history(message: BotMessage, heading: str) -> list[str]:
    """The history lines of an /item answer, each without its date."""
    lines = (message.text or "").splitlines()
    return [line.split(" · ", 1)[1] for line in lines[lines.index(heading) + 1 :]]


# ---- 1. the history in sentences ---------------------------------------------------------


@pytest.mark.parametrize(
    ("language", "heading", "sentences"),
    [
        (
            "de",
            "Verlauf:",
            [
                "Eingegangen (Bürger:in)",
                "Cora hat es übernommen",
                "Antwort von Cora an die Bürger:in: Ab September gibt es einen Abendkurs.",
                "Antwort der Bürger:in: Danke! Gibt es auch Kinderbetreuung?",
                "Cora hat den Status geändert: abgelehnt – Dafür fehlt das Geld.",
            ],
        ),
        (
            "en",
            "History:",
            [
                "Received (resident)",
                "Cora took it on",
                "Answer from Cora to the resident: Ab September gibt es einen Abendkurs.",
                "Answer from the resident: Danke! Gibt es auch Kinderbetreuung?",
                "Cora changed the state: declined – Dafür fehlt das Geld.",
            ],
        ),
        (
            "uk",
            "Історія:",
            [
                "Надійшло (автор звернення)",
                "Взято в роботу: Cora",
                "Відповідь від Cora авторові звернення: Ab September gibt es einen Abendkurs.",
                "Відповідь автора звернення: Danke! Gibt es auch Kinderbetreuung?",
                "Статус змінено (Cora): відхилено – Dafür fehlt das Geld.",
            ],
        ),
    ],
)
async def test_item_history_is_told_in_sentences_of_the_coordinators_language(
    bot: RunningBot, language: str, heading: str, sentences: list[str]
) -> None:
    rosa = bot.resident("Rosa", language_code="de")
    cora = bot.resident("Cora", language_code=language)
    group = await working_group(bot, cora)
    await submit(bot, rosa.id, TEXT)
    await bot.message_with(group.id, "Neue Rückmeldung")

    await command(bot, group, cora, f"/take {REF}")
    await command(bot, group, cora, f"/reply {REF} Ab September gibt es einen Abendkurs.")
    answer = await bot.message_with(rosa.id, "Ab September gibt es einen Abendkurs.")
    await sent_is_recorded(bot, rosa.id, answer.message_id)
    bot.api.inject_text(
        rosa.id, "Danke! Gibt es auch Kinderbetreuung?", reply_to_message_id=answer.message_id
    )
    await bot.message_with(group.id, "Danke! Gibt es auch Kinderbetreuung?")
    await command(bot, group, cora, f"/state {REF} declined Dafür fehlt das Geld.")

    card = await command(bot, group, cora, f"/item {REF}")

    assert history(card, heading) == sentences
    assert not [code for code in CODES if code in (card.text or "")]


# ---- 2. state names in the coordinator's language, and in German always ------------------


@pytest.mark.parametrize(
    ("language", "typed", "usage"),
    [
        (
            "de",
            "abgelehnt",
            "So geht es: /state F-2026-0042 STATUS [Anmerkung]. Status: eingegangen, "
            "in Bearbeitung, beantwortet, umgesetzt, abgelehnt, abgeschlossen.",
        ),
        (
            "en",
            "Abgelehnt",  # German is understood from everyone
            "Like this: /state F-2026-0042 STATE [note]. States: received, in progress, "
            "answered, implemented, declined, closed.",
        ),
        (
            "tr",
            "reddedildi",
            "Şöyle: /state F-2026-0042 DURUM [not]. Durumlar: alındı, işleniyor, yanıtlandı, "
            "uygulandı, reddedildi, kapatıldı.",
        ),
    ],
)
async def test_state_names_are_the_coordinators_and_german(
    bot: RunningBot, language: str, typed: str, usage: str
) -> None:
    rosa = bot.resident("Rosa", language_code="de")
    cora = bot.resident("Cora", language_code=language)
    group = await working_group(bot, cora)
    await submit(bot, rosa.id, TEXT)
    await bot.message_with(group.id, "Neue Rückmeldung")

    assert (await command(bot, group, cora, f"/state {REF}")).text == usage
    done = await command(bot, group, cora, f"/state {REF} {typed} Passt nicht")
    assert REF in (done.text or "") and usage not in (done.text or "")
    await bot.message_with(rosa.id, "Anmerkung der Arbeitsgruppe: Passt nicht")

    (item,) = await bot.items()
    assert item.state == "declined"
    last = (await bot.app.store.items.list_history(item.id or 0))[-1]
    assert (last.action, last.state, last.text) == ("state", "declined", "Passt nicht")


@pytest.mark.parametrize(
    ("language", "typed", "confirmation"),
    [
        ("de", "in Bearbeitung", f"{REF} ist jetzt in Bearbeitung."),
        ("de", "In Bearbeitung Rückfrage bei der VHS", f"{REF} ist jetzt in Bearbeitung."),
        ("en", "in progress", "in progress"),
        ("ru", "В работе", "в работе"),
        ("ar", "قيد المعالجة", "قيد المعالجة"),
    ],
)
async def test_a_state_name_of_two_words_is_understood(
    bot: RunningBot, language: str, typed: str, confirmation: str
) -> None:
    rosa = bot.resident("Rosa", language_code="de")
    cora = bot.resident("Cora", language_code=language)
    group = await working_group(bot, cora)
    await submit(bot, rosa.id, TEXT)
    await bot.message_with(group.id, "Neue Rückmeldung")

    done = await command(bot, group, cora, f"/state {REF} {typed}")
    assert confirmation in (done.text or "")
    (item,) = await bot.items()
    assert item.state == "in_progress"


# ---- 3. fields and groups by name in /pending and /stats ---------------------------------


@pytest.mark.parametrize(
    ("language", "scopes", "field"),
    [
        (
            "de",
            ("Bildung und Sprache", "bildung und sprache", "Unter-AG Bildung und Sprache"),
            "Bildung und Sprache",
        ),
        (
            "en",
            ("Education and language", "Bildung und Sprache", "uag-bildung", "bildung"),
            "Education and language",
        ),
    ],
)
async def test_pending_and_stats_name_fields_and_take_a_name_of_several_words(
    bot: RunningBot, clock: FakeClock, language: str, scopes: tuple[str, ...], field: str
) -> None:
    rosa = bot.resident("Rosa", language_code="de")
    cora = bot.resident("Cora", language_code=language)
    group = await working_group(bot, cora)
    await submit(bot, rosa.id, TEXT)
    await bot.message_with(group.id, "Neue Rückmeldung")

    for scope in ("", *scopes):
        listing = await command(bot, group, cora, f"/pending {scope}".strip())
        (line,) = (listing.text or "").splitlines()[1:]
        assert line.startswith(f"{REF} · ") and f" · {field} · " in line, (scope, line)

    clock.advance(timedelta(hours=1))  # the last 30 days end now
    stats = (await command(bot, group, cora, "/stats")).text or ""
    assert f"\n  {field}: 1\n" in stats
    assert "bildung:" not in stats


async def test_pending_names_what_it_does_not_know_in_full(bot: RunningBot) -> None:
    cora = bot.resident("Cora", language_code="de")
    group = await working_group(bot, cora)
    unknown = await command(bot, group, cora, "/pending Bildung und Kunst")
    assert unknown.text == "Bildung und Kunst ist weder eine Arbeitsgruppe noch ein Handlungsfeld."
    other = await command(bot, group, cora, "/pending unter-ag arbeit und ausbildung")
    assert other.text == "Unter-AG Arbeit und Ausbildung gehört nicht zu Ihren Arbeitsgruppen."


# ---- 4. the last day of a year -----------------------------------------------------------


@pytest.mark.parametrize("language", ["de", "en", "ar"])
async def test_stats_of_a_year_end_on_its_last_day(bot: RunningBot, language: str) -> None:
    rosa = bot.resident("Rosa", language_code="de")
    cora = bot.resident("Cora", language_code=language)
    group = await working_group(bot, cora)
    await submit(bot, rosa.id, TEXT)
    await bot.message_with(group.id, "Neue Rückmeldung")

    stats = (await command(bot, group, cora, "/stats 2026")).text or ""

    zone = ZoneInfo(bot.settings.bot.timezone)
    first, last, after = (
        format_day(datetime(year, month, day, 12, tzinfo=zone), zone, language)
        for year, month, day in ((2026, 1, 1), (2026, 12, 31), (2027, 1, 1))
    )
    heading = stats.splitlines()[0]
    assert first in heading and last in heading and after not in heading
    if language == "de":
        assert heading == "1 Rückmeldung vom 1. Jan. 2026 bis 31. Dez. 2026"


# ---- 5. only the actions that apply ------------------------------------------------------


async def test_item_offers_only_the_actions_that_apply_to_its_state(bot: RunningBot) -> None:
    rosa = bot.resident("Rosa", language_code="de")
    cora = bot.resident("Cora", language_code="de")
    otto = bot.resident("Otto", language_code="de")
    group = await working_group(bot, cora, otto)
    await submit(bot, rosa.id, TEXT)
    card = await bot.message_with(group.id, "Neue Rückmeldung")

    async def item_buttons(who: User) -> list[list[str]]:
        return (await command(bot, group, who, f"/item {REF}")).buttons

    everything = [["Übernehmen"], ["Antworten"], ["Status ändern"]]
    assert await item_buttons(cora) == everything
    await command(bot, group, cora, f"/take {REF}")
    assert await item_buttons(cora) == [["Antworten"], ["Status ändern"]]  # hers already
    assert await item_buttons(otto) == everything

    done = await command(bot, group, cora, f"/state {REF} umgesetzt")
    assert done.text == f"{REF} ist jetzt umgesetzt. Die Person wurde informiert."
    assert await item_buttons(otto) == [["Antworten"], ["Status ändern"]]
    refused = await command(bot, group, otto, f"/take {REF}")
    assert refused.text == f"{REF} ist umgesetzt: Übernehmen geht nicht mehr."

    # The first card still shows the button; pressed, it changes nothing, and the card keeps
    # its buttons: answering and changing the state still apply.
    sent = len(bot.api.messages_to(group.id))
    answered = await bot.answered(press_in_group(bot, otto.id, group.id, card, "Übernehmen"))
    assert answered["text"] == f"{REF} ist umgesetzt: Übernehmen geht nicht mehr."
    assert await item_buttons(otto) == [["Antworten"], ["Status ändern"]]  # the press is done
    assert len(bot.api.messages_to(group.id)) == sent + 1  # only the /item answer
    assert card.buttons == everything and not card.edits
    (item,) = await bot.items()
    assert (item.state, item.assignee) == ("implemented", f"telegram:{cora.id}")


# ---- 6. an answer that missed the prompt -------------------------------------------------


@pytest.mark.parametrize(
    ("language", "hint"),
    [
        (
            "de",
            f"Das habe ich nicht weitergegeben. Um {REF} zu beantworten, antworten Sie direkt "
            "auf meine Frage (die Nachricht nach links wischen oder antippen und „Antworten“ "
            f"wählen) oder schreiben Sie /reply {REF} Ihr Text. /cancel bricht ab.",
        ),
        (
            "en",
            f"I have not passed that on. To answer {REF}, reply to my question directly (swipe "
            f"the message left, or tap it and choose “Reply”), or send /reply {REF} your text. "
            "/cancel stops.",
        ),
    ],
)
async def test_a_plain_message_after_answer_says_how_to_answer(
    bot: RunningBot, language: str, hint: str
) -> None:
    rosa = bot.resident("Rosa", language_code="de")
    cora = bot.resident("Cora", language_code=language)
    otto = bot.resident("Otto", language_code="de")
    mia = bot.resident("Mia", language_code="de")
    group = await working_group(bot, cora, otto, others=(mia,))
    elsewhere = bot.api.add_group("Stammtisch", [cora.id])
    await submit(bot, rosa.id, TEXT)
    card = await bot.message_with(group.id, "Neue Rückmeldung")
    bot.api.inject_text(cora.id, "Guten Morgen zusammen!", group.id)  # no prompt yet
    await bot.answered(press_in_group(bot, cora.id, group.id, card, "Antworten"))
    before = len(await bot.messages(group.id, 2))
    # In another chat she was not asked anything.
    bot.api.inject_text(cora.id, "Bis heute Abend!", elsewhere.id)
    await command(bot, elsewhere, cora, "/whoami")  # what came before there is handled
    assert len(bot.api.messages_to(elsewhere.id)) == 1

    # Others talk in the group as people do: the bot stays out of it.
    bot.api.inject_text(mia.id, "Wer kümmert sich darum?", group.id)
    bot.api.inject_text(otto.id, "Cora antwortet gleich.", group.id)
    # Cora writes her answer without replying to the prompt: she is told how to send it.
    told = await command(bot, group, cora, "Ja, dienstags um 18 Uhr.")
    assert told.text == hint
    # Once: the group's conversation goes on without a hint after each of her messages.
    bot.api.inject_text(cora.id, "Ich schreibe es gleich richtig.", group.id)
    await command(bot, group, cora, f"/reply {REF} Ja, dienstags um 18 Uhr.")
    await bot.message_with(rosa.id, "Ja, dienstags um 18 Uhr.")
    texts = [m.text for m in bot.api.messages_to(group.id)][before:]
    assert texts.count(hint) == 1 and len(texts) == 2, texts
    to_rosa = "\n".join(m.text or "" for m in bot.api.messages_to(rosa.id))
    assert "Ich schreibe es gleich" not in to_rosa and "Cora antwortet" not in to_rosa
    (item,) = await bot.items()
    history = await bot.app.store.items.list_history(item.id or 0)
    assert [e.action for e in history] == ["created", "reply"]
