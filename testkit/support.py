"""Test helpers: an injectable clock, a resident who talks to the app, database peeks."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func
from sqlmodel import SQLModel, select

from handlers.messages import (
    Attachment,
    ChatId,
    Choice,
    Incoming,
    Platform,
    Reply,
    UserId,
    parse_command,
)
from storage.db import Database

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE_CONFIG = ROOT / "config.example.toml"

# A summer afternoon in 2026: Berlin and UTC are in the same year and the same day.
DEFAULT_NOW = datetime(2026, 6, 15, 12, 0, tzinfo=UTC)


class FakeClock:
    """A clock that only moves when the test says so (satisfies handlers.clock.Clock)."""

    def __init__(self, now: datetime = DEFAULT_NOW) -> None:
        self.set(now)

    def now(self) -> datetime:
        return self._now

    def set(self, now: datetime) -> None:
        if now.tzinfo is None:
            raise ValueError("FakeClock needs an aware time")
        self._now = now.astimezone(UTC)

    def advance(self, delta: timedelta = timedelta(seconds=1)) -> datetime:
        self._now += delta
        return self._now


Handle = Callable[[Incoming], Awaitable[list[Reply]]]


class Resident:
    """One person in a private chat with the bot; scenarios read like the conversation.

    Every call returns the replies and keeps them in `replies` (the last turn) and
    `transcript` (all turns), so `press` can find the button the resident sees.
    """

    def __init__(
        self,
        handle: Handle,
        name: str = "alice",
        *,
        platform: Platform = Platform.TELEGRAM,
        language_code: str | None = None,
    ) -> None:
        self._handle = handle
        self.name = name
        self.platform = platform
        self.language_code = language_code
        self.replies: list[Reply] = []
        self.transcript: list[Reply] = []
        self._counter = 0

    def incoming(self, **values: Any) -> Incoming:
        self._counter += 1
        base = Incoming(
            platform=self.platform,
            user_id=UserId(f"u-{self.name}"),
            chat_id=ChatId(f"c-{self.name}"),
            display_name=self.name.capitalize(),
            language_code=self.language_code,
            message_id=str(self._counter),
        )
        return replace(base, **values)

    async def send(self, incoming: Incoming) -> list[Reply]:
        self.replies = await self._handle(incoming)
        self.transcript.extend(self.replies)
        return self.replies

    async def say(self, text: str) -> list[Reply]:
        """Type a message (commands included, as a channel would parse them)."""
        parsed = parse_command(text)
        if parsed is not None:
            return await self.send(self.incoming(text=text, command=parsed.name, args=parsed.args))
        return await self.send(self.incoming(text=text))

    async def edit(self, message_id: str, text: str) -> list[Reply]:
        """Change the text of an earlier message (`message_id` is that message's)."""
        return await self.send(self.incoming(text=text, edited=True, message_id=message_id))

    async def command(self, text: str) -> list[Reply]:
        assert parse_command(text) is not None, f"{text!r} is not a command"
        return await self.say(text)

    async def press(self, label: str) -> list[Reply]:
        """Press the button labelled `label` in the last replies."""
        return await self.send(self.incoming(payload=self.choice(label).payload))

    async def press_payload(self, payload: str) -> list[Reply]:
        return await self.send(self.incoming(payload=payload))

    async def attach(self, *files: Attachment, text: str = "") -> list[Reply]:
        return await self.send(self.incoming(text=text, attachments=files))

    def choice(self, label: str) -> Choice:
        for reply in reversed(self.replies):
            for choice in reply.choices:
                if choice.label == label:
                    return choice
        offered = [c.label for r in self.replies for c in r.choices]
        raise AssertionError(f"no button {label!r} in the last replies; offered: {offered}")

    @property
    def choices(self) -> list[str]:
        return [c.label for r in self.replies for c in r.choices]

    @property
    def last_text(self) -> str:
        assert self.replies, "the bot did not answer"
        return self.replies[-1].text

    @property
    def all_text(self) -> str:
        return "\n".join(r.text for r in self.replies)

    async def submit(
        self,
        text: str,
        *,
        kind: str = "Vorschlag",
        field: str = "Bildung und Sprache",
        anonymity: str = "Anonym bleiben",
        confirm: str = "Abschicken",
    ) -> str:
        """Go through the whole feedback flow with buttons; returns the final answer."""
        await self.say(text)
        await self.press(kind)
        await self.press(field)
        await self.press(anonymity)
        await self.press(confirm)
        return self.last_text


def photo(name: str = "pothole.jpg", data: bytes = b"\xff\xd8jpeg") -> Attachment:
    return Attachment(kind="photo", file_name=name, mime_type="image/jpeg", data=data)


def document(name: str = "brief.pdf", data: bytes = b"%PDF-1.7") -> Attachment:
    return Attachment(kind="document", file_name=name, mime_type="application/pdf", data=data)


async def count(db: Database, table: type[SQLModel], *where: Any) -> int:
    query = select(func.count()).select_from(table).where(*where)
    return await db.run(lambda session: session.exec(query).one())


async def rows(db: Database, table: type[SQLModel], *where: Any) -> list[Any]:
    query = select(table).where(*where)
    return await db.run(lambda session: list(session.exec(query).all()))


# ---- coordination: working groups with coordinators, chats and administrators -------------

CORA = "telegram:u-cora"  # coordinates uag-bildung
OTTO = "telegram:u-otto"  # coordinates uag-arbeit
ADA = "telegram:u-ada"  # administrator
BILDUNG_CHAT = "g-bildung"  # uag-bildung's notification chat
ARBEIT_CHAT = "g-arbeit"  # uag-arbeit's notification chat


def coordination_settings(
    settings: Any, *, administrators: tuple[str, ...] = (ADA,), **coordination: Any
) -> Any:
    """config.example.toml with coordinators and chats for uag-bildung and uag-arbeit and
    `administrators`; `coordination` changes [coordination] settings."""
    members = {
        "uag-bildung": ((CORA,), (f"telegram:{BILDUNG_CHAT}",)),
        "uag-arbeit": ((OTTO,), (f"telegram:{ARBEIT_CHAT}",)),
    }
    groups = tuple(
        replace(g, coordinators=members[g.key][0], chats=members[g.key][1])
        if g.key in members
        else g
        for g in settings.groups
    )
    return replace(
        settings,
        groups=groups,
        bot=replace(settings.bot, administrators=administrators),
        coordination=replace(settings.coordination, **coordination),
    )


class GroupMember(Resident):
    """Someone writing in a group chat (the working group's notification chat)."""

    def __init__(self, handle: Handle, name: str, group_chat: str, **options: Any) -> None:
        super().__init__(handle, name, **options)
        self.group_chat = group_chat

    def incoming(self, **values: Any) -> Incoming:
        return super().incoming(**{"chat_id": ChatId(self.group_chat), "is_group": True, **values})

    async def reply_to(self, message_id: str, text: str) -> list[Reply]:
        """Answer with Telegram's "reply" gesture on the bot's message `message_id`."""
        return await self.send(self.incoming(text=text, reply_to=message_id))


async def outbox_rows(db: Database, chat_id: str | None = None) -> list[Any]:
    """The outbox rows (optionally of one chat) in the order they were queued."""
    from storage.models import OutboxMessage

    query = select(OutboxMessage).order_by(OutboxMessage.id)  # type: ignore[arg-type]
    if chat_id is not None:
        query = query.where(OutboxMessage.chat_id == chat_id)
    return await db.run(lambda session: list(session.exec(query).all()))


def item_reference(row: Any) -> str | None:
    """The item an outbox row is about (a column of its own, or inside older payloads)."""
    return getattr(row, "reference", None) or row.payload.get("ref")
