"""Working groups on Matrix: the group's room gets the new item, a coordinator takes it by
typing the number of a choice in reply to the card, and a /reply reaches the resident."""

from __future__ import annotations

import pytest

from storage.models import FeedbackItem, OutboxMessage
from testkit.support import rows
from tests.e2e.matrix.conftest import Lab, working_group
from tests.e2e.matrix.test_matrix_flow import REFERENCE, submit

pytestmark = pytest.mark.e2e


async def test_group_room_receives_the_item_and_a_reply_reaches_the_resident(lab: Lab) -> None:
    group = await working_group(lab)
    bot, cora, group_room, account = group.bot, group.coordinator, group.room, group.bot.account
    assert not bot.channel.is_group("!unknown:localhost")
    assert bot.channel.is_group(group_room)

    anna = await lab.person("anna")
    dm = await anna.direct_chat(account.user_id, encrypted=True)
    thanks = await submit(anna, dm, "Mehr Sprachkurse am Abend, bitte.")
    reference = REFERENCE.search(thanks)
    assert reference is not None
    ref = reference.group()

    card = await cora.answer(group_room, ref)
    assert "Mehr Sprachkurse am Abend, bitte." in card
    assert "1) Übernehmen" in card and "2) Antworten" in card
    assert anna.account.user_id not in card  # residents stay anonymous

    # A typed number answers the card it replies to.
    seen = len(cora.bodies(group_room))
    await cora.say(group_room, "1", reply_to=cora.event_with(group_room, ref))
    await cora.answer(group_room, ref, after=seen)

    await cora.say(group_room, f"/reply {ref} Danke! Wir sprechen mit der VHS.")
    answer = await anna.answer(dm, "Danke! Wir sprechen mit der VHS.")
    assert ref in answer

    (item,) = await rows(bot.app.db, FeedbackItem)
    assert item.first_answered_at is not None
    assert item.assignee == f"matrix:{cora.account.user_id}"  # taken by the typed "1"
    sent = await rows(bot.app.db, OutboxMessage)
    assert sent and all(row.state == "sent" for row in sent)
    assert all(row.sent_message_id and row.sent_message_id.startswith("$") for row in sent)
