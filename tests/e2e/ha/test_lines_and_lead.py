"""The two mechanisms under the fleet tests, each with two "processes" in one test: two
database engines with a lock session each on one PostgreSQL, which is all two processes share.

- One chat, one line across processes: updates of one chat taken in alternately by both are
  handled one after another in update-id order, each once, each by the process that took it
  in, and a repeat of an update (its 200 lost) is not handled again; when a process vanishes
  (its lock session cut, as by a kill) in the middle of a turn, the other one notices at its
  next sweep and handles that update and the chat's next ones.
- What is kept: a handled update's id for a day (Telegram's repeats), not its content.
- One leader: of two, one leads; when its lock session is cut, its duties are told to end at
  once and the other leads within a look or two.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import asyncpg
import pytest

from bot.channels.telegram.inbox import WAIT_SECONDS, InboxIntake
from bot.cluster import Cluster
from storage.db import Database
from storage.inbox import KEEP_HANDLED, Taken
from storage.locks import asyncpg_dsn
from storage.schema import upgrade_to_head
from testkit.support import FakeClock

pytestmark = [pytest.mark.e2e, pytest.mark.postgres]

LOOK = 0.05  # seconds between two looks (sweep, lead): short, the test waits on conditions


async def until(condition: Any, what: str, within: float = 10.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not condition():
        if loop.time() > deadline:
            raise AssertionError(f"timed out after {within}s waiting for {what}")
        await asyncio.sleep(0.01)


async def cut(url: str, name: str) -> None:
    """End the lock session of process `name` from outside, as a kill or a broken network
    ends it: PostgreSQL frees its locks."""
    admin = await asyncpg.connect(asyncpg_dsn(url))
    try:
        cut_off = await admin.fetchval(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE application_name = $1",
            name,
        )
    finally:
        await admin.close()
    assert cut_off == 1


async def inbox(url: str) -> list[tuple[int, str | None, int]]:
    """(update, owner, attempts) of every stored update."""
    admin = await asyncpg.connect(asyncpg_dsn(url))
    try:
        rows = await admin.fetch(
            "SELECT update_id, owner, attempts FROM inbox_update ORDER BY update_id"
        )
    finally:
        await admin.close()
    return [(r["update_id"], r["owner"], r["attempts"]) for r in rows]


class Process:
    """What one bot process has of the cluster: its engine, its lock session, its intake;
    its turns are recorded (and can be held up) by the test."""

    def __init__(self, url: str, name: str, handled: list[tuple[str, int, str]]) -> None:
        self.db = Database(url)
        self.cluster = Cluster.over(self.db, check_seconds=LOOK)
        self.cluster.name = self.cluster.locks.name = name
        self.name = name
        self.handled = handled
        self.hold = asyncio.Event()
        self.hold.set()
        self.intake = InboxIntake(self.cluster, self.handle, FakeClock(), sweep_seconds=LOOK)
        self.stop = asyncio.Event()
        self.task: asyncio.Task[None] | None = None

    async def handle(self, taken: Taken) -> None:
        payload = taken.payload
        await asyncio.sleep(0)  # a turn takes a while: the other process runs meanwhile
        await self.hold.wait()
        self.handled.append((self.name, payload["update_id"], payload["message"]["text"]))

    async def open(self) -> None:
        await self.cluster.locks.session()  # as the lead's look opens it in a process
        await self.intake.open()

    def start(self) -> None:
        self.task = asyncio.create_task(self.intake.run(self.stop))

    async def close(self) -> None:
        self.stop.set()
        self.hold.set()
        if self.task is not None:
            await self.task
        await self.cluster.close()
        await self.db.dispose()


def update(update_id: int, chat: int, text: str) -> dict[str, Any]:
    return {
        "update_id": update_id,
        "message": {"message_id": update_id, "chat": {"id": chat}, "text": text},
    }


@pytest.fixture
async def two(fresh_postgres_database: str) -> AsyncIterator[tuple[Process, Process]]:
    setup = Database(fresh_postgres_database)
    await upgrade_to_head(setup)
    await setup.dispose()
    handled: list[tuple[str, int, str]] = []
    processes = (
        Process(fresh_postgres_database, "mitreden test:a", handled),
        Process(fresh_postgres_database, "mitreden test:b", handled),
    )
    for process in processes:
        await process.open()
    try:
        yield processes
    finally:
        for process in processes:
            await process.close()


async def test_one_chat_is_one_line_across_processes_each_update_once(
    two: tuple[Process, Process],
) -> None:
    a, b = two
    for process in two:
        process.start()
    chats = (101, 102, 103)
    for n in range(30):  # HAProxy's round robin: consecutive updates to either process
        chat = chats[n % 3]
        taker = (a, b)[(n // 3) % 2]
        await taker.intake.take_in(1000 + n, update(1000 + n, chat, f"{chat}-{n}"))
    await b.intake.take_in(1000, update(1000, 101, "101-0"))  # Telegram delivers it again

    await until(lambda: len(a.handled) == 30, "30 updates handled")
    await asyncio.sleep(LOOK * 4)  # a repeat would come within a few sweeps
    ids = [update_id for _, update_id, _ in a.handled]
    assert sorted(ids) == list(range(1000, 1030))  # each once
    for chat in chats:
        line = [update_id for _, update_id, text in a.handled if text.startswith(f"{chat}-")]
        assert line == sorted(line)  # in order
    by = {update_id: name for name, update_id, _ in a.handled}
    assert all(by[1000 + n] == (a, b)[(n // 3) % 2].name for n in range(30))  # its receiver


async def test_a_chat_waiting_in_another_process_goes_on_at_the_notice(
    two: tuple[Process, Process],
) -> None:
    a, b = two
    a.hold.clear()  # a's turn of the first update stays under way
    await a.intake.take_in(4000, update(4000, 401, "first"))
    await b.intake.take_in(4001, update(4001, 401, "second"))
    await asyncio.sleep(LOOK * 4)
    assert a.handled == []  # b's update waits for a's

    a.hold.set()  # a's turn ends; b is told at once, not at its next look (WAIT_SECONDS)
    await until(lambda: len(a.handled) == 2, "both handled", within=WAIT_SECONDS / 2)
    assert a.handled == [(a.name, 4000, "first"), (b.name, 4001, "second")]


async def test_the_line_of_a_process_that_vanished_is_taken_over(
    two: tuple[Process, Process], fresh_postgres_database: str
) -> None:
    a, b = two
    a.start()
    a.hold.clear()  # a's turn of the first update stays under way
    await a.intake.take_in(2000, update(2000, 201, "first"))
    await b.intake.take_in(2001, update(2001, 201, "second"))
    await asyncio.sleep(LOOK * 4)
    assert a.handled == []  # the second waits behind the first, in a's line

    await cut(fresh_postgres_database, a.name)  # a is gone; its turn never ends
    b.start()
    await until(lambda: len(a.handled) == 2, "both updates handled by b")
    assert a.handled == [(b.name, 2000, "first"), (b.name, 2001, "second")]
    assert [(u, attempts) for u, _, attempts in await inbox(fresh_postgres_database)] == [
        (2000, 2),  # begun by a, done by b: the one repeat a kill can cause
        (2001, 1),
    ]


async def test_one_leader_and_another_within_a_look_when_it_vanishes(
    two: tuple[Process, Process], fresh_postgres_database: str
) -> None:
    a, b = two
    stop = asyncio.Event()
    electing = [asyncio.create_task(p.cluster.leadership.run(stop)) for p in two]
    ran: list[str] = []

    def duty(name: str) -> Any:
        async def run(over: asyncio.Event) -> None:
            ran.append(f"{name} started")
            await over.wait()
            ran.append(f"{name} ended")

        return run

    duties = [
        asyncio.create_task(p.cluster.leadership.run_duty("plans", duty(p.name), stop))
        for p in two
    ]
    try:
        await until(
            lambda: a.cluster.leadership.is_leader or b.cluster.leadership.is_leader, "a leader"
        )
        await asyncio.sleep(LOOK * 4)
        leaders = [p for p in two if p.cluster.leadership.is_leader]
        assert len(leaders) == 1
        (leader,) = leaders
        other = b if leader is a else a
        assert ran == [f"{leader.name} started"]

        await cut(fresh_postgres_database, leader.name)
        await until(lambda: other.cluster.leadership.is_leader, "the other one leading")
        assert ran == [f"{leader.name} started", f"{leader.name} ended", f"{other.name} started"]
        assert not leader.cluster.leadership.is_leader
    finally:
        stop.set()
        await asyncio.gather(*electing, *duties)


async def test_a_handled_update_keeps_its_id_a_day_and_not_its_content(
    two: tuple[Process, Process], fresh_postgres_database: str
) -> None:
    a, b = two
    a.start()
    await a.intake.take_in(3000, update(3000, 301, "Ein Text mit einem Namen darin"))
    await until(lambda: len(a.handled) == 1, "the update handled")
    await until(lambda: a.intake.lines == 0, "the line ended")
    admin = await asyncpg.connect(asyncpg_dsn(fresh_postgres_database))
    try:
        payload = await admin.fetchval("SELECT payload FROM inbox_update")
    finally:
        await admin.close()
    assert payload is None  # the resident's text is not kept once handled

    now = FakeClock().now()
    assert await a.cluster.inbox.delete_handled(now - KEEP_HANDLED) == 0
    await b.intake.take_in(3000, update(3000, 301, "Ein Text mit einem Namen darin"))
    await asyncio.sleep(LOOK * 4)
    assert len(a.handled) == 1  # Telegram's repeat, a day later at most: recognised
    assert await a.cluster.inbox.delete_handled(now + timedelta(seconds=1)) == 1
