"""A poll on Matrix (real Synapse, an encrypted direct chat): the question arrives as a
numbered list, the resident answers with the number, changes it with another, and gets the
results with their own answer when the poll closes."""

from __future__ import annotations

from datetime import timedelta

import pytest

from handlers.asking.polls import new_poll
from storage.asking_models import PollAnswer
from testkit.support import rows
from tests.e2e.matrix.conftest import Lab

pytestmark = pytest.mark.e2e


async def test_a_poll_answered_by_number(lab: Lab) -> None:
    bot = await lab.start_bot()
    app = bot.app
    assert app.deps is not None
    (polls,) = [p for p in app.planners if getattr(p, "name", "") == "polls"]
    anna = await lab.person("anna")
    room = await anna.direct_chat(bot.account.user_id, encrypted=True)
    await anna.say(room, "/language")  # she writes to the bot, which then knows her room
    await anna.answer(room, "1) ")

    now = app.clock.now()
    texts = {
        "de": {
            "question": "Wo soll das nächste Treffen sein?",
            "options": ["Rathaus", "Bibliothek", "Stadtteilzentrum"],
        }
    }
    poll = await app.store.polls.add_poll(
        await new_poll(app.deps, "treffpunkt", texts, "all", now, now + timedelta(hours=1), now)
    )
    assert poll.id is not None
    assert await polls.plan(app.clock.now()) == 1
    question = await anna.answer(room, "Umfrage: Wo soll das nächste Treffen sein?")
    assert "1) Rathaus\n2) Bibliothek\n3) Stadtteilzentrum" in question

    seen = len(anna.bodies(room))
    await anna.say(room, "2")
    await anna.answer(room, "Danke! Ihre Antwort: Bibliothek", after=seen)
    (answer,) = await rows(app.db, PollAnswer)
    assert answer.option == 1

    # /polls offers the open poll again; its number changes the answer.
    seen = len(anna.bodies(room))
    await anna.say(room, "/polls")
    await anna.answer(room, "Ihre Antwort bisher: Bibliothek", after=seen)
    seen = len(anna.bodies(room))
    await anna.say(room, "3")
    await anna.answer(room, "Geändert: Ihre Antwort ist jetzt Stadtteilzentrum.", after=seen)
    (answer,) = await rows(app.db, PollAnswer)
    assert answer.option == 2

    # The poll closes: Anna gets the results with her answer.
    await app.store.polls.set_closes_at(poll.id, app.clock.now(), app.clock.now())
    assert await polls.plan(app.clock.now()) == 1
    results = await anna.answer(room, "Ergebnis der Umfrage")
    assert "• Stadtteilzentrum: 1 (100 %)" in results
    assert "Rücklauf: 100 % (1 von 1)" in results and "Ihre Antwort: Stadtteilzentrum" in results
