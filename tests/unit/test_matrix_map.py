"""Matrix events → Incoming and Reply → contents, built offline from nio's own event classes."""

from __future__ import annotations

from typing import Any

from nio import Event, RoomSendError

from bot.matrix_map import ChoiceMemory, render_text, strip_reply_fallback, to_incoming
from bot.matrix_send import send_error, txn_base, txn_id
from bot.sending import RateLimited, TemporaryFailure, Unreachable
from handlers.messages import UNDECRYPTABLE, Choice, Reply

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


def test_choices_are_numbered_and_typed_back() -> None:
    reply = Reply("Welche Sprache?", (Choice("Deutsch", "lang:de"), Choice("English", "lang:en")))
    assert render_text(reply) == "Welche Sprache?\n\n1) Deutsch\n2) English"
    memory = ChoiceMemory()
    memory.offered(ROOM, "$menu", [reply])
    typed, _ = incoming({"msgtype": "m.text", "body": "2"})
    assert memory.resolve(typed).payload == "lang:en"
    label, _ = incoming({"msgtype": "m.text", "body": "deutsch"})
    assert memory.resolve(label).payload == "lang:de"
    memory.offered(ROOM, None, [Reply("Danke")])  # a turn without choices ends the prompt
    assert memory.resolve(typed).payload is None
    # In a group room a typed choice counts only as a reply to the card that offered it.
    group, _ = incoming({"msgtype": "m.text", "body": "2"}, group=True)
    assert memory.resolve(group).payload is None
    answer = {
        "msgtype": "m.text",
        "body": "2",
        "m.relates_to": {"m.in_reply_to": {"event_id": "$menu"}},
    }
    on_card, _ = incoming(answer, group=True)
    assert memory.resolve(on_card).payload == "lang:en"


def test_errors_and_transaction_ids() -> None:
    limited = RoomSendError("Too many", "M_LIMIT_EXCEEDED", retry_after_ms=1500)
    error = send_error(limited)
    assert isinstance(error, RateLimited) and error.seconds == 1.5
    assert isinstance(send_error(RoomSendError("no", "M_FORBIDDEN")), Unreachable)
    assert isinstance(send_error(RoomSendError("down")), TemporaryFailure)
    key = "resident:F-2026-0001:abc"
    assert txn_base(key) == txn_base(key) != txn_base(key + "x")
    assert txn_id(txn_base(key), 0) != txn_id(txn_base(key), 1)
