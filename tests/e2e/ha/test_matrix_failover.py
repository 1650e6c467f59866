"""The Matrix sync moves with the lead: three processes on one PostgreSQL share one Matrix
device (its keys and sync position in one store directory); only the leader syncs. When it is
killed, another leads within seconds, syncs on from the saved position, and answers what the
resident wrote meanwhile, once; what the killed one answered is not answered again. A clean
stop of the next leader hands the sync over the same way. On the real Synapse."""

from __future__ import annotations

import signal

import pytest

from handlers.messages import Reply, reply_record
from storage.bot_messages import BotMessageStore
from storage.db import Database
from storage.models import FeedbackItem
from testkit.support import DEFAULT_NOW, rows
from testkit.synapse import Registered
from tests.e2e.ha.conftest import FleetFactory
from tests.e2e.matrix.conftest import Lab
from tests.e2e.matrix.test_matrix_flow import KIND_QUESTION, submit

pytestmark = [pytest.mark.e2e, pytest.mark.postgres]


def matrix_env(lab: Lab, account: Registered) -> dict[str, str]:
    """One bot device for every process: its keys and sync position in one store."""
    return {
        "MITREDEN_MATRIX_HOMESERVER": lab.synapse.url,
        "MITREDEN_MATRIX_USER_ID": account.user_id,
        "MITREDEN_MATRIX_PASSWORD": account.password,
        "MITREDEN_MATRIX_STORE_DIR": str(lab.tmp / "matrix-store"),
    }


async def test_the_matrix_sync_moves_to_the_next_leader_and_answers_everything_once(
    fleet: FleetFactory, lab: Lab
) -> None:
    account = lab.bot_account()
    f = await fleet(3, extra_env=matrix_env(lab, account))
    first = await f.one_leader()
    anna = await lab.person("anna")
    room = await anna.direct_chat(account.user_id, encrypted=True)
    await submit(anna, room, "Mehr Schatten auf dem Spielplatz.")

    first.signal(signal.SIGKILL)
    assert await first.exited(5) == -signal.SIGKILL
    before = len(anna.bodies(room))
    await anna.say(room, "Eine zweite Rückmeldung, während der Leiter fehlt.")
    second = await f.one_leader(within=10)
    assert second is not first
    await anna.answer(room, KIND_QUESTION, after=before)
    await anna.say(room, "/cancel")
    await anna.answer(room, "Abgebrochen", after=before)

    first.start()
    await f.started(first)
    second.signal(signal.SIGTERM)  # a clean hand-over, as in a rolling restart
    assert await second.exited(30) == 0
    third = await f.one_leader(within=10)
    assert third is not second
    await submit(anna, room, "Eine dritte, nach dem zweiten Wechsel.")

    bodies = anna.bodies(room)
    assert sum(KIND_QUESTION in b for b in bodies) == 3, bodies  # each text answered once
    assert sum("Vielen Dank!" in b for b in bodies) == 2, bodies
    assert sum("Abgebrochen" in b for b in bodies) == 1, bodies
    db = Database(f.database_url)
    try:
        items = await rows(db, FeedbackItem)
    finally:
        await db.dispose()
    assert sorted(i.text for i in items) == [
        "Eine dritte, nach dem zweiten Wechsel.",
        "Mehr Schatten auf dem Spielplatz.",
    ]


async def test_replies_stored_before_the_leader_stopped_are_sent_not_handled_again(
    fleet: FleetFactory, lab: Lab
) -> None:
    """The bot committed its answer to a message and stopped before it was sent (the sync
    position still before the message): at the next sync the stored answer goes out, and the
    message is not handled a second time."""
    account = lab.bot_account()
    f = await fleet(1, extra_env=matrix_env(lab, account))
    (bot,) = f.bots
    bea = await lab.person("bea")
    room = await bea.direct_chat(account.user_id, encrypted=True)
    await bea.say(room, "Mehr Bänke am Fluss.")
    await bea.answer(room, KIND_QUESTION)
    bot.signal(signal.SIGTERM)
    assert await bot.exited(30) == 0

    before = len(bea.bodies(room))
    typed = await bea.say(room, "1")  # "Vorschlag", answered while the bot was away
    stored = "Gespeicherte Antwort: Zu welchem Handlungsfeld gehört sie?"
    db = Database(f.database_url)
    try:
        await BotMessageStore(db).add_answer(
            "matrix", room, typed, [reply_record(Reply(stored))], DEFAULT_NOW
        )
    finally:
        await db.dispose()
    bot.start()
    await f.started(bot)
    await bea.answer(room, stored, after=before)
    await bea.say(room, "/cancel")
    await bea.answer(room, "Abgebrochen", after=before)
    assert bea.bodies(room)[before:] == [stored, bea.bodies(room)[-1]]  # nothing else
    assert "the replies to" in bot.output()
