"""/stop on Matrix: a resident who stopped the bot's own messages still gets the working
group's answer and the new state of their item in their (encrypted) direct chat."""

from __future__ import annotations

import pytest

from handlers.announce import enqueue_announcement
from storage.models import OutboxMessage
from testkit.support import rows
from tests.e2e.matrix.conftest import Lab, working_group
from tests.e2e.matrix.test_matrix_flow import REFERENCE, submit

pytestmark = pytest.mark.e2e


async def test_after_stop_answers_and_state_changes_still_reach_the_resident(lab: Lab) -> None:
    group = await working_group(lab)
    bot, cora, group_room, account = group.bot, group.coordinator, group.room, group.bot.account
    anna = await lab.person("anna")
    dm = await anna.direct_chat(account.user_id, encrypted=True)
    found = REFERENCE.search(await submit(anna, dm, "Mehr Sprachkurse am Abend, bitte."))
    assert found is not None
    ref = found.group()
    await cora.answer(group_room, ref)  # the card
    await anna.say(dm, "/stop")
    await anna.answer(dm, "außer Antworten auf Ihre eigenen Nachrichten")

    await cora.say(group_room, f"/reply {ref} Danke! Wir sprechen mit der VHS.")
    await cora.answer(group_room, f"Ihre Antwort auf {ref} ist unterwegs.")
    await anna.answer(dm, "Danke! Wir sprechen mit der VHS.")
    await cora.say(group_room, f"/state {ref} implemented Der Kurs ist eingerichtet.")
    await cora.answer(group_room, f"{ref} ist jetzt umgesetzt. Die Person wurde informiert.")
    told = await anna.answer(dm, f"Neuer Stand Ihrer Rückmeldung {ref}: umgesetzt.")
    assert "Der Kurs ist eingerichtet." in told

    # What the bot sends on its own does not reach her.
    await enqueue_announcement(
        bot.app.store, "all", "Einladung zum Runden Tisch", bot.app.clock.now()
    )
    to_anna = await rows(bot.app.db, OutboxMessage, OutboxMessage.chat_id == dm)
    assert [r.reference for r in to_anna] == [ref, ref]
