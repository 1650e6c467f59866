"""The real bot on a real Synapse, residents and coordinators driven by matrix-nio clients.

Synapse starts once per session (`synapse` in tests/e2e/conftest.py, shared with the tests of
several processes in tests/e2e/ha). Each test registers its own bot and
people, so tests do not see each other's rooms; `start_bot()` wires the bot with
`bot.app.bootstrap` (its Matrix channel backing off quickly, the outbox polled often) and runs
the channel and the delivery beside it with `bot.runtime.run`, as `mitreden run` does.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pytest
from nio import (
    AsyncClient,
    AsyncClientConfig,
    LoginResponse,
    RoomCreateResponse,
    RoomMessage,
    RoomSendResponse,
)

from bot.app import App, bootstrap
from bot.channels.matrix.channel import MatrixChannel
from bot.config import Settings
from bot.runtime import run
from handlers.settings import DeliverySettings
from storage.db import Database
from testkit.synapse import Registered, Synapse

WAIT_SECONDS = 20.0
ENCRYPTION = {
    "type": "m.room.encryption",
    "state_key": "",
    "content": {"algorithm": "m.megolm.v1.aes-sha2"},
}
_names = itertools.count(1)


async def until(condition: Callable[[], Any], what: str, within: float = WAIT_SECONDS) -> Any:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while True:
        value = condition()
        if value:
            return value
        if loop.time() > deadline:
            raise AssertionError(f"timed out after {within}s waiting for {what}")
        await asyncio.sleep(0.05)


@dataclass
class Person:
    """A resident or coordinator in Element's place: a nio client that syncs in the back."""

    account: Registered
    client: AsyncClient
    received: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)
    task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        login = await self.client.login(self.account.password, device_name="test")
        assert isinstance(login, LoginResponse), login
        self.client.add_event_callback(self._on_message, RoomMessage)
        self.task = asyncio.create_task(self.client.sync_forever(timeout=1000, full_state=True))

    async def _on_message(self, room: Any, event: RoomMessage) -> None:
        if event.sender != self.client.user_id:
            self.received.append((room.room_id, event.event_id, event.source["content"]))

    async def direct_chat(self, bot_id: str, *, encrypted: bool) -> str:
        """Start a direct chat with the bot (as Element does) and wait until it joined."""
        created = await self.client.room_create(
            is_direct=True, invite=[bot_id], initial_state=[ENCRYPTION] if encrypted else []
        )
        assert isinstance(created, RoomCreateResponse), created
        await self.until_member(created.room_id, bot_id)
        return created.room_id

    async def group_room(self, invite: list[str]) -> str:
        created = await self.client.room_create(name="UAG", invite=invite)
        assert isinstance(created, RoomCreateResponse), created
        return created.room_id

    async def until_member(self, room_id: str, user_id: str) -> None:
        def joined() -> bool:
            room = self.client.rooms.get(room_id)
            return room is not None and user_id in room.users and user_id not in room.invited_users

        await until(joined, f"{user_id} in {room_id}")

    async def say(self, room_id: str, text: str, reply_to: str | None = None) -> str:
        content: dict[str, Any] = {"msgtype": "m.text", "body": text}
        if reply_to:
            content["m.relates_to"] = {"m.in_reply_to": {"event_id": reply_to}}
        sent = await self.client.room_send(
            room_id, "m.room.message", content, ignore_unverified_devices=True
        )
        assert isinstance(sent, RoomSendResponse), sent
        return str(sent.event_id)

    def bodies(self, room_id: str) -> list[str]:
        return [c.get("body", "") for r, _, c in self.received if r == room_id]

    async def answer(self, room_id: str, contains: str, after: int = 0) -> str:
        """The first message (from position `after`) in the room that contains `contains`."""

        def found() -> str | None:
            return next((b for b in self.bodies(room_id)[after:] if contains in b), None)

        return str(await until(found, f"{contains!r} in {room_id}: {self.bodies(room_id)}"))

    def event_with(self, room_id: str, contains: str) -> str:
        return next(e for r, e, c in self.received if r == room_id and contains in c["body"])

    async def stop(self) -> None:
        if self.task is not None:
            self.client.stop_sync_forever()
            self.task.cancel()
            await asyncio.gather(self.task, return_exceptions=True)
        await self.client.close()


@dataclass
class MatrixBot:
    app: App
    channel: MatrixChannel
    account: Registered
    stop: asyncio.Event
    task: asyncio.Task[None]
    closed: bool = False

    async def shut(self) -> None:
        """Stop the bot (as a signal does) and close its database; again does nothing."""
        if self.closed:
            return
        self.closed = True
        self.stop.set()
        try:
            await asyncio.wait_for(self.task, 20)
        finally:
            await self.app.close()


@dataclass
class Lab:
    synapse: Synapse
    tmp: Path
    settings: Settings
    people: list[Person] = field(default_factory=list)
    bots: list[MatrixBot] = field(default_factory=list)

    def register(self, prefix: str) -> Registered:
        return self.synapse.register(f"{prefix}{next(_names)}")

    async def person(self, prefix: str) -> Person:
        account = self.register(prefix)
        store = self.tmp / f"store-{account.user_id}"
        store.mkdir()
        client = AsyncClient(
            self.synapse.url,
            account.user_id,
            store_path=str(store),
            config=AsyncClientConfig(encryption_enabled=True, store_sync_tokens=True),
        )
        person = Person(account, client)
        await person.start()
        self.people.append(person)
        return person

    def bot_account(self) -> Registered:
        account = self.register("bot")
        admin = self.synapse.admin  # type: ignore[attr-defined]
        self.synapse.exempt_from_rate_limits(admin.access_token, account.user_id)
        return account

    async def start_bot(
        self,
        account: Registered | None = None,
        *,
        groups: dict[str, str] | None = None,
        coordinators: dict[str, str] | None = None,
        **matrix_changes: Any,
    ) -> MatrixBot:
        """The bot as `mitreden run` wires it; `groups` maps group keys to their rooms,
        `coordinators` group keys to a coordinator's user id; `matrix_changes` adjust the
        matrix settings (the homeserver's URL too)."""
        account = account or self.bot_account()
        matrix = replace(
            self.settings.matrix,
            **{
                "homeserver": self.synapse.url,
                "user_id": account.user_id,
                "password": account.password,
                "store_dir": str(self.tmp / f"bot-{account.user_id}"),
                **matrix_changes,
            },
        )
        chats = {key: (f"matrix:{room}",) for key, room in (groups or {}).items()}
        settings = replace(
            self.settings,
            matrix=matrix,
            delivery=DeliverySettings(
                workers=2, poll_interval_seconds=0.1, backoff_start_seconds=0.5
            ),
            groups=tuple(
                replace(
                    g,
                    chats=chats.get(g.key, g.chats),
                    coordinators=(f"matrix:{coordinators[g.key]}",)
                    if g.key in (coordinators or {})
                    else g.coordinators,
                )
                for g in self.settings.groups
            ),
        )
        db = Database(f"sqlite+aiosqlite:///{self.tmp}/{account.user_id}.db")
        if not (self.tmp / f"{account.user_id}.db").exists():
            await db.create_all()
        wired = await bootstrap(
            settings,
            db=db,
            migrate=False,
            channels=[lambda app: MatrixChannel(matrix, app, backoff_start=0.2, backoff_cap=1.0)],
        )
        (channel,) = wired.channels
        assert isinstance(channel, MatrixChannel)
        stop = asyncio.Event()
        task = asyncio.create_task(run(wired, stop, schedule=False), name="matrix-e2e")
        bot = MatrixBot(wired.app, channel, account, stop, task)
        self.bots.append(bot)
        await until(channel.ready.is_set, "the bot's first sync")
        return bot


@dataclass
class WorkingGroup:
    """A running bot, the working group's room and its coordinator, who is in it."""

    bot: MatrixBot
    coordinator: Person
    room: str


async def working_group(
    lab: Lab, group: str = "uag-bildung", **matrix_changes: Any
) -> WorkingGroup:
    """Cora opens the group's room with the bot in it, and coordinates the group."""
    account = lab.bot_account()
    cora = await lab.person("cora")
    room = await cora.group_room(invite=[account.user_id])
    bot = await lab.start_bot(
        account, groups={group: room}, coordinators={group: cora.account.user_id}, **matrix_changes
    )
    await cora.until_member(room, account.user_id)
    return WorkingGroup(bot, cora, room)


@pytest.fixture
async def lab(synapse: Synapse, settings: Settings, tmp_path: Path) -> AsyncIterator[Lab]:
    made = Lab(synapse, tmp_path, settings)
    try:
        yield made
    finally:
        for bot in made.bots:
            await bot.shut()
        for person in made.people:
            await person.stop()


StartBot = Callable[..., Awaitable[MatrixBot]]
