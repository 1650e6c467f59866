"""Matrix events → Incoming and Reply → contents, built offline from nio's own event classes."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from nio import Event, RoomSendError

from bot.channels.matrix.map import ChoiceMemory, render_text, strip_reply_fallback, to_incoming
from bot.channels.matrix.send import reply_base, send_error, txn_base, txn_id
from bot.delivery.sending import RateLimited, TemporaryFailure, Unreachable
from handlers.messages import UNDECRYPTABLE, Choice, Reply
from storage.bot_messages import KEEP, KEEP_HANDLED, BotMessageStore
from storage.db import Database
from storage.items.handling import ItemStore
from testkit.support import FakeClock

ROOM = "!dm:localhost"


def event(content: dict[str, Any], kind: str = "m.room.message") -> Event:
    source = {
        "type": kind,
        "sender": "@anna:localhost",
        "event_id": "$e1",
        "origin_server_ts": 1,
        "content": content,
    }
    parsed = Event.parse_event(source)
    assert isinstance(parsed, Event)
    return parsed


def incoming(content: dict[str, Any], kind: str = "m.room.message", group: bool = False) -> Any:
    mapped = to_incoming(event(content, kind), ROOM, is_group=group, display_name="Anna")
    assert mapped is not None
    return mapped


def test_text_and_commands_with_slash_or_bang() -> None:
    plain, _ = incoming({"msgtype": "m.text", "body": "Mehr Bänke"})
    assert (plain.text, plain.command, plain.chat_id, plain.platform) == (
        "Mehr Bänke",
        None,
        ROOM,
        "matrix",
    )
    slash, _ = incoming({"msgtype": "m.text", "body": "/status F-2026-0001"})
    bang, _ = incoming({"msgtype": "m.text", "body": "!status F-2026-0001"})
    assert slash.command == bang.command == "status"
    assert slash.args == bang.args == ("F-2026-0001",)


def test_reply_drops_the_quoted_fallback_and_names_the_event() -> None:
    content = {
        "msgtype": "m.text",
        "body": "> <@bot:localhost> F-2026-0001 ...\n\nDanke!",
        "m.relates_to": {"m.in_reply_to": {"event_id": "$card"}},
    }
    reply, _ = incoming(content, group=True)
    assert (reply.text, reply.reply_to, reply.is_group) == ("Danke!", "$card", True)
    assert strip_reply_fallback("no quote") == "no quote"


def test_files_notices_edits_and_undecryptable() -> None:
    _, wanted = incoming(
        {
            "msgtype": "m.image",
            "body": "loch.jpg",
            "url": "mxc://localhost/abc",
            "info": {"mimetype": "image/jpeg", "size": 12},
        }
    )
    assert wanted is not None and (wanted.kind, wanted.url, wanted.size) == (
        "photo",
        "mxc://localhost/abc",
        12,
    )
    audio, none = incoming({"msgtype": "m.audio", "body": "a", "url": "mxc://localhost/x"})
    assert none is None and audio.unsupported == "m.audio"
    assert to_incoming(event({"msgtype": "m.notice", "body": "bot"}), ROOM, is_group=False) is None
    edit = {"msgtype": "m.text", "body": "* x", "m.new_content": {"body": "x"}}
    assert to_incoming(event(edit), ROOM, is_group=False) is None  # replaces nothing named
    changed, _ = incoming(
        {
            "msgtype": "m.text",
            "body": "* Mehr Bänke am Markt",
            "m.new_content": {"msgtype": "m.text", "body": "Mehr Bänke am Markt"},
            "m.relates_to": {"rel_type": "m.replace", "event_id": "$original"},
        }
    )
    assert (changed.text, changed.edited, changed.message_id) == (
        "Mehr Bänke am Markt",
        True,
        "$original",
    )
    encrypted = {
        "algorithm": "m.megolm.v1.aes-sha2",
        "ciphertext": "abc",
        "sender_key": "k",
        "device_id": "D",
        "session_id": "s",
    }
    broken, _ = incoming(encrypted, kind="m.room.encrypted")
    assert broken.unsupported == UNDECRYPTABLE and broken.text == ""


async def test_choices_are_numbered_and_typed_back(backend: Database) -> None:
    reply = Reply("Welche Sprache?", (Choice("Deutsch", "lang:de"), Choice("English", "lang:en")))
    assert render_text(reply) == "Welche Sprache?\n\n1) Deutsch\n2) English"
    clock = FakeClock()
    memory = ChoiceMemory(BotMessageStore(backend), clock)
    await memory.offered(ROOM, [("$menu", reply)], is_group=False, answering="$hi")
    typed, _ = incoming({"msgtype": "m.text", "body": "2"})
    assert (await memory.resolve(typed)).payload == "lang:en"
    label, _ = incoming({"msgtype": "m.text", "body": "deutsch"})
    assert (await memory.resolve(label)).payload == "lang:de"
    # A turn without choices ends the prompt.
    await memory.offered(ROOM, [("$thanks", Reply("Danke"))], is_group=False, answering="$2")
    assert (await memory.resolve(typed)).payload is None
    # In a group room a typed choice counts only as a reply to the message that offered it.
    await memory.offered(ROOM, [("$menu", reply), (None, reply)], is_group=True, answering=None)
    group, _ = incoming({"msgtype": "m.text", "body": "2"}, group=True)
    assert (await memory.resolve(group)).payload is None
    answer = {
        "msgtype": "m.text",
        "body": "2",
        "m.relates_to": {"m.in_reply_to": {"event_id": "$menu"}},
    }
    on_card, _ = incoming(answer, group=True)
    assert (await memory.resolve(on_card)).payload == "lang:en"
    # The messages answered are known after a restart, for a week; the choices for `KEEP`.
    # Their replies were sent: none is left to send again.
    assert await memory.answered(ROOM, ["$hi", "$2", "$other"]) == {"$hi": [], "$2": []}
    clock.advance(KEEP_HANDLED + timedelta(seconds=1))
    assert await memory.forget_old() == 2
    assert await memory.answered(ROOM, ["$hi", "$2"]) == {}
    assert (await memory.resolve(on_card)).payload == "lang:en"
    clock.advance(KEEP - KEEP_HANDLED)
    assert await memory.forget_old() == 1
    assert (await memory.resolve(on_card)).payload is None


async def test_replies_kept_with_a_message_until_they_were_sent(backend: Database) -> None:
    """What a turn answers is kept with the person's message until it went out: a process
    that syncs on after the one that handled it died finds the replies to send."""
    memory = ChoiceMemory(BotMessageStore(backend), FakeClock())
    menu = Reply("Welche Sprache?", (Choice("Deutsch", "lang:de"),), choice_columns=2)
    await memory.answering(ROOM, "$hi", [menu, Reply("Hallo!")])
    assert await memory.answered(ROOM, ["$hi", "$other"]) == {"$hi": [menu, Reply("Hallo!")]}
    await memory.offered(
        ROOM, [("$menu", menu), ("$hallo", Reply("Hallo!"))], is_group=False, answering="$hi"
    )
    assert await memory.answered(ROOM, ["$hi"]) == {"$hi": []}


async def test_an_answer_in_a_direct_chat_keeps_the_item_it_names(backend: Database) -> None:
    memory = ChoiceMemory(BotMessageStore(backend), FakeClock())
    items = ItemStore(backend)
    confirmation = Reply("Vielen Dank! Ihre Referenz: F-2026-0007")
    listing = Reply("F-2026-0007 · eingegangen\nF-2026-0008 · eingegangen")
    sent = [("$thanks", confirmation), ("$list", listing)]
    await memory.offered(ROOM, sent, is_group=False, answering="$a")
    await memory.offered(
        "!group:localhost", [("$ok", confirmation)], is_group=True, answering="$b"
    )
    assert await items.reference_for_message("matrix", ROOM, "$thanks") == "F-2026-0007"
    assert await items.reference_for_message("matrix", ROOM, "$list") is None  # which one?
    # In a group room only notifications name items: a remark never reaches a resident.
    assert await items.reference_for_message("matrix", "!group:localhost", "$ok") is None


def test_errors_and_transaction_ids() -> None:
    limited = RoomSendError("Too many", "M_LIMIT_EXCEEDED", retry_after_ms=1500)
    error = send_error(limited)
    assert isinstance(error, RateLimited) and error.seconds == 1.5
    assert isinstance(send_error(RoomSendError("no", "M_FORBIDDEN")), Unreachable)
    assert isinstance(send_error(RoomSendError("down")), TemporaryFailure)
    key = "resident:F-2026-0001:abc"
    assert txn_base(key) == txn_base(key) != txn_base(key + "x")
    assert txn_id(txn_base(key), 0) != txn_id(txn_base(key), 1)
    # A reply's ids follow from the event it answers: the same on every handling of it.
    assert reply_base("$e1", 0) == reply_base("$e1", 0)
    assert len({reply_base("$e1", 0), reply_base("$e1", 1), reply_base("$e2", 0)}) == 3
