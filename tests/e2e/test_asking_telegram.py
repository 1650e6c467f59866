"""The city asks back, on Telegram (the real bot against the fake Bot API, the outbox
delivered, the clock injected): the survey after a postponed event reaches the registrants
after the new date, its reminder once, nothing after the close, and its free text becomes a
suggestion routed to the workshop's working group; a poll's answers are counted once per
person and its results are sent back to every participant."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.delivery.scheduler import Planner
from handlers.asking.polls import new_poll
from handlers.events.admin import postpone_event
from storage.asking_models import PollAnswer, SurveyAnswer
from testkit.fakebotapi import BotMessage, User
from testkit.support import FakeClock, rows
from tests.e2e.conftest import RunningBot, StartBot
from tests.event_support import BILDUNG, TITLE, add_round_table, berlin

pytestmark = pytest.mark.e2e

EVENT_QUESTION = "Wie nützlich war die Veranstaltung für Sie?"


def planner(bot: RunningBot, name: str) -> Planner:
    (found,) = [p for p in bot.app.planners if getattr(p, "name", "") == name]
    return found


async def started(bot: RunningBot, name: str) -> User:
    """A resident who has written to the bot (/start), so that it can write to them."""
    user = bot.resident(name)
    bot.api.inject_text(user.id, "/start")
    await bot.messages(user.id, 1)
    return user


def sent_with(bot: RunningBot, user: User, text: str) -> list[BotMessage]:
    return [m for m in bot.api.messages_to(user.id) if text in (m.text or "")]


async def test_the_survey_after_a_postponed_event(start_bot: StartBot, clock: FakeClock) -> None:
    clock.set(berlin(2026, 10, 6, 12, 0))
    bot = await start_bot(deliver=True)
    app = bot.app
    surveys = planner(bot, "surveys")
    event = await add_round_table(app, bildung_capacity=5)
    assert event.id is not None
    bildung = (await app.store.events.list_workshops(event.id))[0].workshop
    rosa, eva = await started(bot, "Rosa"), await started(bot, "Eva")
    for user in (rosa, eva):
        contact = await bot.contact(user.id)
        assert contact.id is not None
        await app.store.registrations.register(
            event.id, contact.id, bildung.id, clock.now(), lambda *_: []
        )

    # The round table moves by two weeks: the survey follows the new date.
    moved = await postpone_event(
        app.deps, event, berlin(2026, 11, 9, 10, 0), "Der Saal ist belegt", clock.now()
    )
    assert moved is not None
    await bot.message_with(rosa.id, "wird verschoben")
    clock.set(berlin(2026, 10, 27, 10, 0))  # the day after the old date
    assert await surveys.plan(clock.now()) == 0
    opens = berlin(2026, 11, 10, 10, 0)
    assert await surveys.next_due(clock.now()) == opens
    clock.set(opens)
    assert await surveys.plan(clock.now()) == 2
    question = await bot.message_with(rosa.id, EVENT_QUESTION)
    assert question.buttons == [["1", "2", "3", "4", "5"]]
    assert TITLE in (question.text or "") and "9. Nov. 2026" in (question.text or "")

    # Rosa rates the event and her workshop, then writes what the group should take up.
    bot.press(rosa.id, question, "4")
    workshop = await bot.message_with(rosa.id, f"Workshop „{BILDUNG}“")
    bot.press(rosa.id, workshop, "5")
    await bot.message_with(rosa.id, "Was sollte die Arbeitsgruppe aufgreifen?")
    bot.api.inject_text(rosa.id, "Sprachkurse mit Kinderbetreuung am Abend")
    prompt = await bot.message_with(rosa.id, "Soll die Arbeitsgruppe Ihren Namen sehen?")
    bot.press(rosa.id, prompt, "Anonym bleiben")
    await bot.edited(prompt, 1)
    assert "Art: Vorschlag" in (prompt.text or "")
    bot.press(rosa.id, prompt, "Abschicken")
    await bot.edited(prompt, 2)
    assert "Unter-AG Bildung und Sprache" in (prompt.text or "")
    (item,) = await bot.items()
    assert (item.kind, item.field_key, item.group_key) == ("suggestion", "bildung", "uag-bildung")
    (answer,) = await rows(app.db, SurveyAnswer)
    assert (answer.event_rating, answer.workshop_rating) == (4, 5)

    # One reminder three days later, to Eva only; planned twice, sent once.
    clock.set(berlin(2026, 11, 13, 10, 0))
    assert await surveys.plan(clock.now()) == 1
    assert await surveys.plan(clock.now() + timedelta(minutes=1)) == 0
    reminder = await bot.message_with(eva.id, "Erinnerung:")
    assert sent_with(bot, rosa, "Erinnerung:") == []

    # The survey closes a week after it went out: Eva's late answer is not counted, and
    # nothing more reaches the residents.
    clock.set(berlin(2026, 11, 17, 10, 0))
    await surveys.plan(clock.now())
    before = {user.id: len(bot.api.messages_to(user.id)) for user in (rosa, eva)}
    bot.press(eva.id, reminder, "3")
    await bot.message_with(eva.id, "nicht mehr gezählt")
    assert len(await rows(app.db, SurveyAnswer)) == 1
    assert await surveys.plan(clock.now() + timedelta(days=3)) == 0
    assert len(bot.api.messages_to(rosa.id)) == before[rosa.id]
    assert len(bot.api.messages_to(eva.id)) == before[eva.id] + 1  # the polite refusal
    assert len(sent_with(bot, eva, EVENT_QUESTION)) == 2  # the survey and its one reminder


async def test_a_poll_with_its_results_sent_back(start_bot: StartBot, clock: FakeClock) -> None:
    bot = await start_bot(deliver=True)
    app = bot.app
    assert app.deps is not None
    polls = planner(bot, "polls")
    rosa, eva = await started(bot, "Rosa"), await started(bot, "Eva")
    now = clock.now()
    texts = {
        "de": {
            "question": "Wo soll das nächste Treffen sein?",
            "options": ["Rathaus", "Bibliothek"],
        }
    }
    poll = await app.store.polls.add_poll(
        await new_poll(app.deps, "treffpunkt", texts, "all", now, now + timedelta(days=7), now)
    )

    assert await polls.plan(now) == 2
    asked = {user.id: await bot.message_with(user.id, "Umfrage: Wo soll") for user in (rosa, eva)}
    assert asked[rosa.id].buttons == [["Rathaus"], ["Bibliothek"]]
    bot.press(rosa.id, asked[rosa.id], "Bibliothek")
    await bot.message_with(rosa.id, "Danke! Ihre Antwort: Bibliothek")
    bot.press(eva.id, asked[eva.id], "Rathaus")
    await bot.message_with(eva.id, "Danke! Ihre Antwort: Rathaus")
    bot.press(eva.id, asked[eva.id], "Bibliothek")  # changed her mind: counted once
    await bot.message_with(eva.id, "Geändert: Ihre Antwort ist jetzt Bibliothek.")
    assert len(await rows(app.db, PollAnswer)) == 2

    # At the close every participant gets the results, with the response rate.
    clock.set(poll.closes_at)
    assert await polls.plan(clock.now()) == 2
    results = await bot.message_with(rosa.id, "Ergebnis der Umfrage")
    assert results.text == (
        "Ergebnis der Umfrage: Wo soll das nächste Treffen sein?\n"
        "• Rathaus: 0 (0 %)\n"
        "• Bibliothek: 2 (100 %)\n"
        "Rücklauf: 100 % (2 von 2)\n"
        "Ihre Antwort: Bibliothek"
    )
    await bot.message_with(eva.id, "Ergebnis der Umfrage")

    # An answer after the close is answered politely and not counted.
    bot.press(rosa.id, asked[rosa.id], "Rathaus")
    await bot.message_with(rosa.id, "nicht mehr gezählt")
    assert sorted(a.option for a in await rows(app.db, PollAnswer)) == [1, 1]
    assert await polls.plan(clock.now() + timedelta(days=1)) == 0
    assert len(sent_with(bot, rosa, "Ergebnis der Umfrage")) == 1
