"""The feedback conversation on Telegram, as a resident sees it in the fake Bot API server."""

from __future__ import annotations

import asyncio
import re

import pytest

from storage.models import Attachment, ConversationState
from testkit.fakebotapi import BotMessage
from testkit.support import rows
from tests.e2e.conftest import RunningBot, StartBot

pytestmark = pytest.mark.e2e

REFERENCE = re.compile(r"F-2026-\d{4}")
KIND_QUESTION = "Was für eine Rückmeldung ist das?"
FIELD_QUESTION = "Zu welchem Handlungsfeld gehört sie?"
ANONYMITY_QUESTION = "Soll die Arbeitsgruppe Ihren Namen sehen?"
STALE = "Diese Schaltfläche gehört zu einer früheren Frage und gilt nicht mehr."
PHOTO = b"\xff\xd8\xff\xe0" + bytes(range(256)) * 2


def labels(buttons: list[list[str]]) -> list[str]:
    return [label for row in buttons for label in row]


async def go_to_confirm(bot: RunningBot, user_id: int, text: str) -> tuple[BotMessage, list[str]]:
    """Write `text` and press through to the confirm question; returns (prompt, query ids)."""
    bot.api.inject_text(user_id, text)
    prompt = await bot.message_with(user_id, KIND_QUESTION)
    queries = []
    for step, label in enumerate(("Vorschlag", "Bildung und Sprache", "Anonym bleiben"), 1):
        queries.append(bot.press(user_id, prompt, label))
        await bot.edited(prompt, step)
    return prompt, queries


async def test_feedback_flow_edits_one_message_in_place(bot: RunningBot) -> None:
    anna = bot.resident("Anna")
    bot.api.inject_text(anna.id, "Die Haltestelle am Markt braucht eine Bank.")
    (prompt,) = await bot.messages(anna.id, 1)
    assert prompt.text == KIND_QUESTION
    assert prompt.buttons == [["Vorschlag", "Kritik"], ["Frage", "Lob"]]

    queries = [bot.press(anna.id, prompt, "Vorschlag")]
    await bot.edited(prompt, 1)
    assert prompt.text == FIELD_QUESTION
    assert "Bildung und Sprache" in labels(prompt.buttons)
    assert "Vorschlag" not in labels(prompt.buttons)  # the kind keyboard is gone

    queries.append(bot.press(anna.id, prompt, "Bildung und Sprache"))
    await bot.edited(prompt, 2)
    assert prompt.text is not None and prompt.text.startswith(ANONYMITY_QUESTION)
    assert prompt.buttons == [["Anonym bleiben"], ["Mit meinem Namen"]]

    queries.append(bot.press(anna.id, prompt, "Anonym bleiben"))
    await bot.edited(prompt, 3)
    assert prompt.text is not None and prompt.text.startswith("Bitte prüfen Sie")
    assert "Die Haltestelle am Markt braucht eine Bank." in prompt.text
    assert prompt.buttons == [["Abschicken"], ["Abbrechen"]]

    queries.append(bot.press(anna.id, prompt, "Abschicken"))
    await bot.edited(prompt, 4)
    assert prompt.text is not None and prompt.text.startswith("Vielen Dank!")
    reference = REFERENCE.search(prompt.text)
    assert reference is not None
    assert "Unter-AG Bildung und Sprache" in prompt.text
    assert prompt.reply_markup is None

    # One message in the chat, edited four times in place; every press answered.
    assert [m.message_id for m in bot.api.messages_to(anna.id)] == [prompt.message_id]
    edits = bot.api.calls(method="editMessageText", chat_id=anna.id)
    assert [e.message_id for e in edits] == [prompt.message_id] * 4
    assert all(e.status == 200 for e in edits)
    await asyncio.gather(*(bot.answered(q) for q in queries))
    assert all(bot.api.queries[q].answered for q in queries)

    (item,) = await bot.items()
    assert item.reference == reference.group()
    assert (item.kind, item.field_key, item.group_key) == ("suggestion", "bildung", "uag-bildung")
    assert item.anonymous is True and item.platform == "telegram"
    assert item.text == "Die Haltestelle am Markt braucht eine Bank."


async def test_photo_during_the_flow_is_attached_to_the_item(bot: RunningBot) -> None:
    anna = bot.resident("Anna")
    bot.api.inject_text(anna.id, "Schlagloch vor der Schule")
    await bot.message_with(anna.id, KIND_QUESTION)
    bot.api.inject_photo(anna.id, PHOTO)
    await bot.message_with(anna.id, "Datei angehängt (1 Datei")
    # The question comes again after the file; answer it on the newest message.
    prompt = (await bot.messages(anna.id, 3))[-1]
    assert prompt.text == KIND_QUESTION
    for step, label in enumerate(
        ("Kritik", "Bildung und Sprache", "Anonym bleiben", "Abschicken"), 1
    ):
        bot.press(anna.id, prompt, label)
        await bot.edited(prompt, step)
    reference = REFERENCE.search(prompt.text or "")
    assert reference is not None

    (item,) = await bot.items()
    (attachment,) = await rows(bot.app.db, Attachment, Attachment.item_id == item.id)
    assert attachment.data == PHOTO and attachment.kind == "photo"

    bot.api.inject_text(anna.id, f"/status {reference.group()}")
    status = await bot.message_with(anna.id, "Anhänge:")
    assert "Anhänge: 1" in (status.text or "")
    assert reference.group() in (status.text or "")


async def test_document_first_then_text(bot: RunningBot) -> None:
    anna = bot.resident("Anna")
    pdf = b"%PDF-1.7\n" + b"x" * 300
    bot.api.inject_document(anna.id, pdf, file_name="antrag.pdf", mime_type="application/pdf")
    await bot.message_with(anna.id, "Datei angehängt (1 Datei")
    await bot.message_with(anna.id, "Bitte schreiben Sie Ihre Rückmeldung")
    prompt, _ = await go_to_confirm(bot, anna.id, "Formular ist unverständlich")
    bot.press(anna.id, prompt, "Abschicken")
    await bot.edited(prompt, 4)
    (item,) = await bot.items()
    (attachment,) = await rows(bot.app.db, Attachment, Attachment.item_id == item.id)
    assert (attachment.data, attachment.file_name) == (pdf, "antrag.pdf")
    assert attachment.mime_type == "application/pdf"


async def test_document_over_the_size_limit_is_refused(start_bot: StartBot) -> None:
    bot = await start_bot(max_download_bytes=1000)
    anna = bot.resident("Anna")
    bot.api.inject_document(anna.id, b"x" * 5000, file_name="gross.pdf")
    answer = await bot.message_with(anna.id, "zu groß")
    assert "Es wurde nichts gespeichert." in (answer.text or "")
    assert bot.api.calls(method="getFile") == []  # refused by its announced size
    assert await rows(bot.app.db, Attachment) == []
    assert await bot.items() == []


async def test_status_and_mine(bot: RunningBot) -> None:
    anna = bot.resident("Anna")
    bot.api.inject_text(anna.id, "/mine")
    await bot.message_with(anna.id, "Sie haben noch keine Rückmeldung geschickt.")
    prompt, _ = await go_to_confirm(bot, anna.id, "Mehr Deutschkurse am Abend")
    bot.press(anna.id, prompt, "Abschicken")
    await bot.edited(prompt, 4)
    (item,) = await bot.items()

    bot.api.inject_text(anna.id, "/mine")
    mine = await bot.message_with(anna.id, "Ihre Rückmeldungen:")
    assert f"{item.reference} · Vorschlag · eingegangen" in (mine.text or "")
    bot.api.inject_text(anna.id, f"/status {item.reference.lower()}")
    status = await bot.message_with(anna.id, "Arbeitsgruppe:")
    text = status.text or ""
    assert text.startswith(item.reference)
    assert "Handlungsfeld: Bildung und Sprache" in text
    assert "Arbeitsgruppe: Unter-AG Bildung und Sprache" in text
    assert "Stand: eingegangen" in text and "Anhänge: 0" in text
    bot.api.inject_text(anna.id, "/status F-2026-9999")
    await bot.message_with(anna.id, "Unter F-2026-9999 finde ich keine Rückmeldung")


async def test_stale_button_is_answered_with_a_notice(bot: RunningBot) -> None:
    anna = bot.resident("Anna")
    bot.api.inject_text(anna.id, "Zu wenig Kitaplätze")
    first = await bot.message_with(anna.id, KIND_QUESTION)
    # Typing the kind as a number answers it with a new message, so `first` keeps its
    # (now outdated) keyboard.
    bot.api.inject_text(anna.id, "2")
    second = (await bot.messages(anna.id, 2))[-1]
    assert second.text == FIELD_QUESTION
    contact = await bot.contact(anna.id)
    (before,) = await rows(bot.app.db, ConversationState)

    qid = bot.press(anna.id, first, "Frage")
    answer = await bot.answered(qid)
    assert answer["text"] == STALE
    await bot.until(lambda: first.reply_markup is None, "the stale keyboard removed")
    assert first.text == KIND_QUESTION  # the text stays, only the keyboard goes
    assert second.buttons  # the current question keeps its buttons
    (after,) = await rows(bot.app.db, ConversationState)
    assert (after.contact_id, after.step, after.version, after.data) == (
        contact.id,
        before.step,
        before.version,
        before.data,
    )
    assert after.data["kind"] == "criticism"
    assert len(bot.api.messages_to(anna.id)) == 2


async def test_two_residents_at_the_same_instant(bot: RunningBot) -> None:
    anna, berk = bot.resident("Anna"), bot.resident("Berk")
    bot.api.inject_text(anna.id, "Text von Anna")
    bot.api.inject_text(berk.id, "Text von Berk")
    prompts = await asyncio.gather(
        bot.message_with(anna.id, KIND_QUESTION), bot.message_with(berk.id, KIND_QUESTION)
    )
    choices = {
        anna.id: ("Lob", "Arbeit und Ausbildung", "Mit meinem Namen", "Abschicken"),
        berk.id: ("Frage", "Gesundheit und Pflege", "Anonym bleiben", "Abschicken"),
    }
    for step in range(4):
        for user, prompt in zip((anna, berk), prompts, strict=True):
            bot.press(user.id, prompt, choices[user.id][step])
        await asyncio.gather(*(bot.edited(p, step + 1) for p in prompts))
    texts = [p.text or "" for p in prompts]
    references = [REFERENCE.search(t) for t in texts]
    assert all(references)
    assert references[0].group() != references[1].group()  # type: ignore[union-attr]
    assert "Unter-AG Arbeit und Ausbildung" in texts[0]
    assert "Unter-AG Gesundheit" in texts[1]
    by_text = {i.text: i for i in await bot.items()}
    anna_item, berk_item = by_text["Text von Anna"], by_text["Text von Berk"]
    assert (anna_item.kind, anna_item.field_key, anna_item.anonymous) == (
        "praise",
        "arbeit",
        False,
    )
    assert (berk_item.kind, berk_item.field_key, berk_item.anonymous) == (
        "question",
        "gesundheit",
        True,
    )
    assert anna_item.reference in texts[0] and berk_item.reference in texts[1]


async def test_double_press_on_confirm_stores_one_item(bot: RunningBot) -> None:
    anna = bot.resident("Anna")
    prompt, _ = await go_to_confirm(bot, anna.id, "Bitte mehr Bänke")
    first = bot.press(anna.id, prompt, "Abschicken")
    second = bot.press(anna.id, prompt, "Abschicken")
    await bot.answered(first)
    answer = await bot.answered(second)
    await bot.edited(prompt, 4)
    assert answer["text"] == STALE
    assert len(await bot.items()) == 1
    thanks = [t for t in bot.api.texts_to(anna.id) if t and t.startswith("Vielen Dank")]
    assert len(thanks) == 1
    assert len(bot.api.messages_to(anna.id)) == 1


async def test_double_press_keeps_the_next_questions_keyboard(bot: RunningBot) -> None:
    anna = bot.resident("Anna")
    bot.api.inject_text(anna.id, "Doppelt gedrückt")
    prompt = await bot.message_with(anna.id, KIND_QUESTION)
    first = bot.press(anna.id, prompt, "Vorschlag")
    second = bot.press(anna.id, prompt, "Vorschlag")
    await bot.answered(first)
    assert (await bot.answered(second))["text"] == STALE
    await bot.edited(prompt, 1)
    await bot.until(lambda: not bot.app.serializer, "the chat's updates to be done")
    assert prompt.text == FIELD_QUESTION
    # The second (stale) press must not take the field question's buttons away.
    assert "Bildung und Sprache" in labels(prompt.buttons)


async def test_quick_messages_are_answered_in_order(bot: RunningBot) -> None:
    anna = bot.resident("Anna")
    for text in ("Hallo, ich habe eine Frage zum Sprachkurs", "3", "1", "2", "1"):
        bot.api.inject_text(anna.id, text)
    await bot.message_with(anna.id, "Vielen Dank!")
    texts = [t or "" for t in bot.api.texts_to(anna.id)]
    assert texts[0] == KIND_QUESTION
    assert texts[1] == FIELD_QUESTION
    assert texts[2].startswith(ANONYMITY_QUESTION)
    assert texts[3].startswith("Bitte prüfen Sie")
    assert "Art: Frage" in texts[3] and "Sichtbarkeit: mit Namen" in texts[3]
    assert texts[4].startswith("Vielen Dank!")
    assert len(texts) == 5
    (item,) = await bot.items()
    assert (item.kind, item.field_key, item.anonymous) == ("question", "bildung", False)


async def test_english_language_code_preselects_english(bot: RunningBot) -> None:
    emma = bot.resident("Emma", language_code="en")
    bot.api.inject_text(emma.id, "The bus stop needs a bench")
    (prompt,) = await bot.messages(emma.id, 1)
    assert prompt.text == "What kind of feedback is this?"
    contact = await bot.contact(emma.id)
    assert contact.language == "en"


async def test_an_edited_text_replaces_the_draft_before_it_is_sent(bot: RunningBot) -> None:
    rosa = bot.resident("Rosa")
    sent = bot.api.inject_text(rosa.id, "Der Sprachkurs ist zu frueh")
    prompt = await bot.message_with(rosa.id, KIND_QUESTION)
    bot.press(rosa.id, prompt, "Kritik")
    await bot.edited(prompt, 1)

    bot.api.edit_text(rosa.id, sent["message_id"], "Der Sprachkurs beginnt zu früh am Morgen")
    await bot.message_with(rosa.id, "Geändert: Ihre Rückmeldung hat jetzt den neuen Text.")
    *_, changed, again = await bot.messages(rosa.id, 3)  # the question anew, as a new message
    assert changed.text == "Geändert: Ihre Rückmeldung hat jetzt den neuen Text."
    assert again.text == FIELD_QUESTION and again.message_id != prompt.message_id
    for step, label in enumerate(("Bildung und Sprache", "Anonym bleiben", "Abschicken"), 1):
        bot.press(rosa.id, again, label)
        await bot.edited(again, step)

    assert again.text is not None and REFERENCE.search(again.text)
    (item,) = await bot.items()
    assert item.text == "Der Sprachkurs beginnt zu früh am Morgen"

    bot.api.edit_text(rosa.id, sent["message_id"], "Noch eine Änderung")
    await bot.message_with(rosa.id, "solange die Rückmeldung dazu noch nicht abgeschickt ist")
    (item,) = await bot.items()
    assert item.text == "Der Sprachkurs beginnt zu früh am Morgen"
