"""Several bot processes on one PostgreSQL: which one leads, and what they share.

Most of the work runs in every process: Telegram's webhook intake (`bot.channels.telegram.
inbox`), direct replies, the outbox. A few things must run exactly once: the webhook's
registration (and the command menus), long polling, the plan ticks and the Matrix sync (one
device, one sync position). They are the leader's duties (`Leadership.run_duty`), and the
leader is the process holding PostgreSQL's advisory lock `storage.locks.LEADER` on its lock
session. The others try for the lock every `CHECK_SECONDS`; the leader checks its session as
often. A leader that dies frees the lock with its connection, and another process leads
within a second or two; a leader that loses its session (the database restarted, the network
broke) ends its duties at once, since another may be leading already.

On SQLite there is one process, the leader for good (`SoleLeader`): every duty runs from
start to stop, as the bot always ran. PostgreSQL is the only coordinator: no other service.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

from storage.db import Database
from storage.inbox import InboxStore
from storage.locks import LEADER, LockSession, LocksLost, ProcessLocks

logger = logging.getLogger(__name__)

CHECK_SECONDS = 1.0  # how often a follower tries for the lead and the leader checks it

# A duty runs until the event it is given is set: the lead lost, or the process stopping.
Duty = Callable[[asyncio.Event], Awaitable[None]]


class Leadership(Protocol):
    @property
    def is_leader(self) -> bool:
        """Whether this process runs the duties now (`/metrics`: `mitreden_leader`)."""
        ...

    async def run_duty(self, name: str, duty: Duty, stop: asyncio.Event) -> None:
        """Run `duty` whenever this process leads, until `stop` is set: it is started
        when the lead is won and told to end (its event set) when the lead is lost.
        Returns when `stop` is set, or when the duty ended on its own while leading;
        raises what the duty raised."""
        ...

    async def confirm(self) -> bool:
        """Whether this process surely still leads (asked of the database): a duty that
        meets another process doing the same checks before it calls that an error."""
        ...


class SoleLeader:
    """The one process on SQLite: it leads from start to stop."""

    @property
    def is_leader(self) -> bool:
        return True

    async def confirm(self) -> bool:
        return True

    async def run_duty(self, name: str, duty: Duty, stop: asyncio.Event) -> None:
        await duty(stop)


class DatabaseLeadership:
    """The lead among the processes on one PostgreSQL database (see the module)."""

    def __init__(self, locks: ProcessLocks, *, check_seconds: float = CHECK_SECONDS) -> None:
        self._locks = locks
        self._check_seconds = check_seconds
        self._session: LockSession | None = None  # the session holding the lead
        self._term_over: asyncio.Event | None = None  # set when the current term ends
        self._changed = asyncio.Event()  # set (and replaced) whenever the lead changes
        self.terms = 0

    @property
    def is_leader(self) -> bool:
        return self._term_over is not None

    async def run(self, stop: asyncio.Event) -> None:
        """Try for the lead and keep it until `stop` is set; `step_down` then gives it up
        once the duties have ended."""
        unreachable = False
        while not stop.is_set():
            try:
                if self._session is None:
                    session = await self._locks.session()
                    if await session.try_lock(LEADER):
                        self._begin(session)
                else:
                    await self._session.ping()
                unreachable = False
            except LocksLost as error:
                if self._session is not None:
                    self._end(f"its database session was lost ({error})")
                if not unreachable:  # once per outage, not every second
                    logger.warning(
                        "leader: the database cannot be reached for the lead (%s)", error
                    )
                unreachable = True
            await self._pause(stop)

    async def _pause(self, stop: asyncio.Event) -> None:
        """Until the next look, or at once when the session holding the lead is lost."""
        waiters = [asyncio.ensure_future(stop.wait())]
        if self._session is not None:
            waiters.append(asyncio.ensure_future(self._session.lost.wait()))
        try:
            await asyncio.wait(waiters, timeout=self._check_seconds)
        finally:
            for waiter in waiters:
                waiter.cancel()
        if self._session is not None and not self._session.alive:
            self._end("its database session was lost")

    def _begin(self, session: LockSession) -> None:
        self._session = session
        self._term_over = asyncio.Event()
        self.terms += 1
        logger.info("leader: this process (%s) leads now", self._locks.name)
        self._announce()

    def _end(self, why: str) -> None:
        if self._term_over is not None:
            self._term_over.set()
            logger.warning("leader: this process no longer leads: %s", why)
        self._session = None
        self._term_over = None
        self._announce()

    def _announce(self) -> None:
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()

    async def confirm(self) -> bool:
        session = self._session
        if session is None:
            return False
        try:
            await session.ping()
        except LocksLost:
            self._end("its database session was lost")
            return False
        return self._session is session

    async def step_down(self) -> None:
        """Give up the lead (the duties have ended), so that another process takes it at
        its next look."""
        session, term = self._session, self._term_over
        self._session, self._term_over = None, None
        if term is not None:
            term.set()
            self._announce()
        if session is not None:
            await session.unlock(LEADER)
            logger.info("leader: this process (%s) stepped down", self._locks.name)

    async def run_duty(self, name: str, duty: Duty, stop: asyncio.Event) -> None:
        while not stop.is_set():
            term = await self._next_term(stop)
            if term is None:
                return
            ended = asyncio.Event()
            watcher = asyncio.ensure_future(_set_when_first(ended, term, stop))
            logger.info("leader: %s started here", name)
            try:
                await duty(ended)
            finally:
                watcher.cancel()
            if not ended.is_set():
                return  # it ended on its own, as a channel may: the runtime decides
            if not stop.is_set():
                logger.info("leader: %s ended here, the lead is gone", name)

    async def _next_term(self, stop: asyncio.Event) -> asyncio.Event | None:
        """The end event of the term under way, once this process leads; None at stop."""
        while not stop.is_set():
            if self._term_over is not None:
                return self._term_over
            changed = asyncio.ensure_future(self._changed.wait())
            stopping = asyncio.ensure_future(stop.wait())
            try:
                await asyncio.wait([changed, stopping], return_when=asyncio.FIRST_COMPLETED)
            finally:
                changed.cancel()
                stopping.cancel()
        return None


async def _set_when_first(target: asyncio.Event, *events: asyncio.Event) -> None:
    waiters = [asyncio.ensure_future(event.wait()) for event in events]
    try:
        await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
        target.set()
    finally:
        for waiter in waiters:
            waiter.cancel()


def process_name() -> str:
    """This process as the others and the database see it: host and process id."""
    return f"mitreden {socket.gethostname()[:40]}:{os.getpid()}"


@dataclass
class Cluster:
    """What the processes on one PostgreSQL share: the lock session (the lead, the chats'
    lines), the lead itself and the inbox of Telegram's webhook updates."""

    name: str
    locks: ProcessLocks
    leadership: DatabaseLeadership
    inbox: InboxStore

    @classmethod
    def over(cls, db: Database, *, check_seconds: float = CHECK_SECONDS) -> Cluster:
        """The cluster's parts for `db` (PostgreSQL); nothing connects before it is used."""
        name = process_name()
        locks = ProcessLocks(db.url, name)
        leadership = DatabaseLeadership(locks, check_seconds=check_seconds)
        return cls(name, locks, leadership, InboxStore(db))

    async def close(self) -> None:
        """Give up the lead and every chat's line (the lock session ends)."""
        with contextlib.suppress(LocksLost):
            await self.leadership.step_down()
        await self.locks.close()


def leadership_of(cluster: Cluster | None) -> Leadership:
    return cluster.leadership if cluster is not None else SoleLeader()
