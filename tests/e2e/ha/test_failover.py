"""Three `mitreden run` processes on one PostgreSQL behind HAProxy, while residents write:
one is SIGKILLed (the leader), then each is restarted in turn (SIGTERM, start again), as an
upgrade without downtime does.

Residents type their whole feedback flow at once (the text, then kind, field, anonymity and
"Abschicken" as typed answers, each a separate update) without waiting for the answers. The
fake Bot API pushes a chat's updates one after another as Telegram does, and HAProxy spreads
them over the processes, so one chat's consecutive updates land in different processes. Only
a per-chat order across processes gives each resident the five answers in order and the
item with the kind, field and anonymity they typed; one update out of line is answered with
"that does not fit the current question" and leaves the item wrong or missing. Meanwhile the
outbox sends a broadcast. The witnesses are the fake's record of what each chat received, the
database's items and inbox, and HAProxy's log.

How many: the issue's 200 residents in the wave cut by the kill, and 200 writing flow after
flow during the three restarts (about 35 s on this 2-core machine with the fake, HAProxy,
PostgreSQL and three bots on it).
"""

from __future__ import annotations

import asyncio
import signal
import time
from collections import Counter
from typing import Any

import pytest
from sqlmodel import select

from handlers.messages import Platform, Reply, reply_record
from storage.db import Database
from storage.inbox import InboxStore
from storage.inbox_models import InboxUpdate
from storage.models import ConversationState, FeedbackItem, OutboxMessage
from storage.outbox import NewMessage, OutboxStore
from testkit.fakebotapi import FakeBotApi
from testkit.support import DEFAULT_NOW
from tests.e2e.ha.conftest import BotProcess, Fleet, FleetFactory

pytestmark = [pytest.mark.e2e, pytest.mark.postgres]

KILL_WAVE = 200  # residents writing while a process is killed (the 200)
ROLLING = 200  # residents writing flow after flow during the rolling restart
BROADCAST = 240  # outbox messages, sent while the process is killed
WORKERS = 4  # delivery workers a process (conftest): at most these repeat at a SIGKILL
TAKEOVER_SECONDS = 5.0  # a new leader after the leader was killed, at the latest

ANSWERS = ("Vorschlag", "Bildung und Sprache", "Anonym bleiben", "Abschicken")
PROMPTS = (
    "Was für eine Rückmeldung ist das?",
    "Zu welchem Handlungsfeld gehört sie?",
    "Soll die Arbeitsgruppe Ihren Namen sehen?",
    "Bitte prüfen Sie Ihre Rückmeldung",
    "Vielen Dank!",
)


def texts(api: FakeBotApi, chat: int) -> list[str]:
    return [m.text or "" for m in api.messages_to(chat)]


def type_flow(api: FakeBotApi, chat: int, text: str) -> None:
    """The whole flow typed at once, without waiting for an answer."""
    for message in (text, *ANSWERS):
        api.inject_text(chat, message)


async def write_flow(fleet: Fleet, chat: int, text: str) -> None:
    """The whole flow typed at once; returns when the bot thanked for it."""
    before = sum("Vielen Dank!" in t for t in texts(fleet.api, chat))
    type_flow(fleet.api, chat, text)

    async def thanked() -> bool:
        return sum("Vielen Dank!" in t for t in texts(fleet.api, chat)) > before

    await fleet.until(thanked, f"the thanks for {text!r}", within=60)


def without_one_resend(received: list[str]) -> list[str]:
    """`received` without the first message that came twice in a row: a turn's replies sent
    again by the process that took over from one killed after it had sent them."""
    for n in range(1, len(received)):
        if received[n] == received[n - 1]:
            return received[:n] + received[n + 1 :]
    return received


def in_order(received: list[str], flows: int) -> bool:
    """Whether `received` holds the five answers of each flow in order, one after another."""
    expected = [prompt for _ in range(flows) for prompt in PROMPTS]
    if len(received) != len(expected):
        return False
    return all(prompt in text for prompt, text in zip(expected, received, strict=True))


async def query(url: str, statement: Any) -> list[Any]:
    db = Database(url)
    try:
        return await db.run(lambda session: list(session.exec(statement).all()))
    finally:
        await db.dispose()


async def enqueue(url: str, chats: list[int]) -> None:
    db = Database(url)
    try:
        await OutboxStore(db).enqueue(
            [
                NewMessage(
                    f"ha-{n:03d}",
                    Platform.TELEGRAM,
                    str(chat),
                    {"text": f"ha-{n:03d}"},
                    DEFAULT_NOW,
                )
                for n, chat in enumerate(chats)
            ],
            DEFAULT_NOW,
        )
    finally:
        await db.dispose()


def broadcast_received(api: FakeBotApi) -> Counter[str]:
    return Counter(
        r.text or ""
        for r in api.sent_log
        if r.method == "sendMessage" and r.status == 200 and (r.text or "").startswith("ha-")
    )


async def restart(fleet: Fleet, bot: BotProcess) -> None:
    """SIGTERM, a clean exit, and the process started again, ready and proxied to."""
    bot.signal(signal.SIGTERM)
    code = await bot.exited(30)
    assert code == 0, bot.output()[-3000:]
    bot.start()
    await fleet.started(bot)


async def test_a_killed_leader_and_a_rolling_restart_lose_nothing_and_keep_every_line(
    fleet: FleetFactory,
) -> None:
    f = await fleet(3)
    first = await f.one_leader()
    assert f.api.count("setWebhook", 200) >= 1

    # ---- a wave of residents and a broadcast; the leader is killed in the middle --------
    wave = [f.api.add_user(f"Anwohnerin {n}", language_code="de").id for n in range(KILL_WAVE)]
    recipients = [f.api.add_user(f"Abonnent {n}", language_code="de").id for n in range(BROADCAST)]
    await enqueue(f.database_url, recipients)
    for n, chat in enumerate(wave):
        type_flow(f.api, chat, f"Vorschlag {n}: mehr Bänke am Fluss.")

    async def under_way() -> bool:
        thanked = sum(any("Vielen Dank!" in t for t in texts(f.api, c)) for c in wave)
        return thanked >= KILL_WAVE // 4 and sum(broadcast_received(f.api).values()) >= 20

    await f.until(under_way, "a quarter of the wave and some of the broadcast")
    first.signal(signal.SIGKILL)
    killed_at = time.monotonic()
    assert await first.exited(5) == -signal.SIGKILL
    second = await f.one_leader(within=TAKEOVER_SECONDS + 5)
    takeover = time.monotonic() - killed_at
    assert second is not first
    assert takeover < TAKEOVER_SECONDS, takeover
    first.start()
    await f.started(first)

    async def wave_handled() -> bool:
        rows = await query(f.database_url, select(InboxUpdate.handled_at))
        return len(rows) == 5 * KILL_WAVE and all(at is not None for at in rows)

    await f.until(wave_handled, "every update of the wave handled", within=60)
    wave_end = max(row for row in await query(f.database_url, select(InboxUpdate.update_id)))

    async def broadcast_done() -> bool:
        return len(broadcast_received(f.api)) == BROADCAST

    await f.until(broadcast_done, "the whole broadcast")

    # ---- a rolling restart, one process after the other, while residents write ---------
    rolling = [f.api.add_user(f"Anwohner {n}", language_code="de").id for n in range(ROLLING)]
    flows = Counter[int]()
    done_restarting = asyncio.Event()

    async def keep_writing(n: int, chat: int) -> None:
        while not done_restarting.is_set():
            await write_flow(f, chat, f"Anliegen {n}.{flows[chat]}: ein Zebrastreifen.")
            flows[chat] += 1

    writers = asyncio.gather(*(keep_writing(n, chat) for n, chat in enumerate(rolling)))
    leaders = [second]
    for bot in f.bots:
        await restart(f, bot)
        leaders.append(await f.one_leader())
    done_restarting.set()
    await asyncio.wait_for(writers, 90)

    # ---- what the residents received, what the database holds ---------------------------
    inbox = await query(
        f.database_url,
        select(
            InboxUpdate.update_id,
            InboxUpdate.chat_key,
            InboxUpdate.attempts,
            InboxUpdate.handled_at,
        ),
    )
    assert all(handled is not None for *_, handled in inbox)  # nothing left behind
    assert len(inbox) == 5 * (KILL_WAVE + sum(flows.values()))  # every update taken in once
    repeated = [(update, chat) for update, chat, attempts, _ in inbox if attempts > 1]
    # Only the kill can repeat a turn: the one in flight in a chat at that moment.
    assert all(update <= wave_end for update, _ in repeated), repeated
    assert all(attempts <= 2 for _, _, attempts, _ in inbox)
    assert len({chat for _, chat in repeated}) == len(repeated)  # at most one a chat
    repeated_chats = {int(chat) for _, chat in repeated}

    items = await query(f.database_url, select(FeedbackItem))
    by_text = Counter(item.text for item in items)
    for n in range(KILL_WAVE):
        assert by_text[f"Vorschlag {n}: mehr Bänke am Fluss."] == 1
    for n, chat in enumerate(rolling):
        for k in range(flows[chat]):
            assert by_text[f"Anliegen {n}.{k}: ein Zebrastreifen."] == 1
    assert len(items) == KILL_WAVE + sum(flows.values())
    assert {(i.kind, i.field_key, i.anonymous) for i in items} == {("suggestion", "bildung", True)}
    # No update handled twice: a turn cut by the kill left nothing and was handled once by
    # the process that took it over, or it had committed and only its replies went out again.
    for chat in wave:
        received = texts(f.api, chat)
        if chat in repeated_chats:
            assert in_order(without_one_resend(received), 1), received
        else:
            assert in_order(received, 1), received
    for chat in rolling:
        assert flows[chat] >= 1
        assert in_order(texts(f.api, chat), flows[chat]), texts(f.api, chat)

    delivered = broadcast_received(f.api)
    assert set(delivered) == {f"ha-{n:03d}" for n in range(BROADCAST)}  # none lost
    assert sum(delivered.values()) - BROADCAST <= WORKERS  # the killed one's sends in flight
    states = Counter(await query(f.database_url, select(OutboxMessage.state)))
    assert states["sent"] >= BROADCAST and states["pending"] == 0 and states["failed"] == 0

    # Every process took updates in (HAProxy spread them); one leads, and only it plans.
    assert {bot.name for bot in f.bots} <= set(f.proxy.served())
    leader = await f.one_leader()
    ticking = []
    for bot in f.bots:
        figures = await f.metrics(bot)
        assert figures is not None
        if figures.get("mitreden_plan_ticks_total", 0) > 0:
            ticking.append(bot)
    assert ticking == [leader]
    assert f.api.webhook_url.endswith("/telegram") and not f.api.calls(method="deleteWebhook")


async def left_by_a_dead_process(
    url: str, chat: int, payload: dict[str, Any], reply: Reply
) -> None:
    """An update a process had handled, its reply committed with the turn, when it died."""
    db = Database(url)
    try:
        inbox = InboxStore(db)
        await inbox.add(payload["update_id"], str(chat), payload, DEFAULT_NOW, "mitreden dead:1")
        await inbox.answer(payload["update_id"], [reply_record(reply)])
    finally:
        await db.dispose()


async def test_replies_a_dead_process_stored_are_sent_and_its_update_is_not_handled_again(
    fleet: FleetFactory,
) -> None:
    """A process committed a resident's answer with the bot's reply and died before sending
    it: the process that takes the update over sends that reply and does not handle the
    update a second time (which would answer something else, and could file twice). For a
    typed "Abschicken", and for a pressed button, whose question is then edited into the
    reply without answering the long-gone callback query."""
    f = await fleet(1)
    (bot,) = f.bots
    amina = f.api.add_user("Amina", language_code="de")
    typed = {
        "update_id": 900_001,
        "message": {
            "message_id": 7,
            "date": int(DEFAULT_NOW.timestamp()),
            "chat": {**amina.json(), "type": "private"},
            "from": amina.json(),
            "text": "Abschicken",
        },
    }
    thanks = "Vielen Dank! Ihre Rückmeldung ist eingegangen.\nIhre Referenz: F-2026-0001"
    await left_by_a_dead_process(f.database_url, amina.id, typed, Reply(thanks))

    async def thanked() -> bool:
        return texts(f.api, amina.id) == [thanks]

    await f.until(thanked, "the stored thanks, once")
    assert f"the replies to update {typed['update_id']} sent again" in bot.output()

    # A button: Ben's question about the kind, pressed; the process died before its reply.
    ben = f.api.add_user("Ben", language_code="de")
    f.api.inject_text(ben.id, "Mehr Bänke am Fluss.")

    async def asked() -> bool:
        return any(PROMPTS[0] in t for t in texts(f.api, ben.id))

    await f.until(asked, "the kind question")
    question = f.api.messages_to(ben.id)[-1]
    assert question.reply_markup is not None
    pressed = question.reply_markup["inline_keyboard"][0][0]["callback_data"]
    button = {
        "update_id": 900_002,
        "callback_query": {
            "id": "4711",
            "from": ben.json(),
            "message": dict(question.json),
            "chat_instance": "1",
            "data": pressed,
        },
    }
    stored = "Gespeichert: Zu welchem Handlungsfeld gehört sie?"
    reply = Reply(stored, replaces_prompt=True)
    await left_by_a_dead_process(f.database_url, ben.id, button, reply)

    async def edited() -> bool:
        return texts(f.api, ben.id)[-1] == stored

    await f.until(edited, "the question edited into the stored reply")

    async def all_handled() -> bool:
        rows = await query(f.database_url, select(InboxUpdate.handled_at, InboxUpdate.replies))
        return all(at is not None and replies is None for at, replies in rows)

    await f.until(all_handled, "the updates marked handled, their replies dropped")
    assert len(f.api.messages_to(ben.id)) == 1  # the question, now the reply: nothing else
    assert not f.api.calls(method="answerCallbackQuery")
    assert "telegram 400" not in bot.output()
    assert await query(f.database_url, select(FeedbackItem)) == []  # neither handled again
    (state,) = await query(f.database_url, select(ConversationState.step))
    assert state == "kind"  # Ben's flow is where the process that died left it
