"""PostgreSQL advisory locks: how several bot processes on one database agree who does what.

Three kinds, each a (space, id) pair of PostgreSQL's two-integer advisory lock keys, so they
meet no other user of the database's single-integer keys:

- `LEADER`: the one process that runs what must run once (webhook registration, plan ticks,
  the Matrix sync; `bot.cluster`);
- `process_lock(name)`: held by each process for as long as it lives, so that the others can
  tell whether the owner of a waiting inbox update is still there (`is_alive`; the inbox,
  `storage.inbox`, hands a gone process's updates to the others);
- `MIGRATION` and `STARTUP`: one process at a time migrates the schema and applies the
  configuration's groups, when several start at once.

Why advisory locks held by a session, on a connection of the process's own (`LockSession`),
and not lease rows with an expiry: the lock lives exactly as long as the process's
connection. A process that dies (SIGKILL, an OOM kill, a crash) closes its socket, and
PostgreSQL frees its locks at once: another process takes over within its next look, not
after a lease has run out, and no lease has to be renewed while a turn waits on a slow Bot
API. A machine that vanishes without closing its sockets is noticed through TCP keepalives,
set short on this connection (`KEEPALIVE`: about 25 s).

The connection is outside the pool and in autocommit (asyncpg's default): it never holds a
transaction open. It also listens for the inbox's notices (`listen`). One asyncpg connection
runs one query at a time, so the calls are batched into one statement a round trip
(`LockSession`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import zlib
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any, NamedTuple

from sqlalchemy import text
from sqlalchemy.engine import make_url

if TYPE_CHECKING:
    import asyncpg

    from storage.db import Database

logger = logging.getLogger(__name__)

# The first half of every key: "mitr" as a 32-bit integer, then which kind of lock.
_MITR = 0x6D697472
_SPACE_ROLE = _MITR  # (space, id) with id one of the roles below
_SPACE_PROCESS = _MITR + 1  # (space, crc32 of the process's name)

# Seconds: idle before the first probe, between probes, probes unanswered. A process whose
# machine vanished loses its locks after about 10 + 5 × 3 s.
KEEPALIVE = {"tcp_keepalives_idle": "10", "tcp_keepalives_interval": "5"}
KEEPALIVE_COUNT = {"tcp_keepalives_count": "3"}
CONNECT_TIMEOUT = 10.0


class LockKey(NamedTuple):
    space: int
    id: int


LEADER = LockKey(_SPACE_ROLE, 1)
MIGRATION = LockKey(_SPACE_ROLE, 2)
STARTUP = LockKey(_SPACE_ROLE, 3)


def process_lock(name: str) -> LockKey:
    """The lock a process holds while it lives, by its name (`bot.cluster.process_name`:
    host and process id, so unique among the living)."""
    value = zlib.crc32(name.encode())
    return LockKey(_SPACE_PROCESS, value - 2**32 if value >= 2**31 else value)


class LocksLost(Exception):
    """The lock session's connection is gone, and every lock it held with it."""


def asyncpg_dsn(url: str) -> str:
    """A SQLAlchemy `postgresql+asyncpg://` URL as the DSN asyncpg itself takes."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


# Every lock and unlock asked for since the last round trip, in one statement (the rows come
# in the order asked: the function scan yields them so, and ORDER BY keeps it).
_LOCK_BATCH = """
SELECT CASE WHEN t.take THEN pg_try_advisory_lock(t.space, t.id)
            ELSE pg_advisory_unlock(t.space, t.id) END
FROM unnest($1::bool[], $2::int[], $3::int[]) WITH ORDINALITY AS t(take, space, id, n)
ORDER BY t.n
"""
_PING = "SELECT k FROM unnest($1::text[]) AS k"


class LockSession:
    """One PostgreSQL session and the advisory locks it holds; its end frees them all.

    Calls are batched: whatever the process's chats ask while a round trip is under way
    goes out together in the next one (one statement for all locks and unlocks, one per
    kind of `probe`). On a busy event loop a round trip takes a few turns of the loop; taken
    one call after another, a hundred chats' lock calls would queue for seconds.

    `lost` is set once the connection failed; the session is of no use afterwards
    (`ProcessLocks` opens the next one), and every call under way raises `LocksLost`.
    """

    def __init__(self, connection: asyncpg.Connection[Any], name: str) -> None:
        self._connection = connection
        self._name = name
        self._locks: list[tuple[bool, LockKey, asyncio.Future[bool]]] = []
        self._probes: dict[str, list[tuple[str, asyncio.Future[bool]]]] = {}
        self._listens: list[tuple[str, Callable[[str], None], asyncio.Future[bool]]] = []
        self._asked = asyncio.Event()
        self.lost = asyncio.Event()
        self._worker = asyncio.create_task(self._work(), name=f"locks {name}")

    @classmethod
    async def open(cls, url: str, name: str) -> LockSession:
        """Connect to the database of `url` (a SQLAlchemy URL) as `name` (shown in
        `pg_stat_activity.application_name`).

        Raises:
            LocksLost: the database cannot be reached.
        """
        import asyncpg  # only where several processes share PostgreSQL

        try:
            connection = await asyncpg.connect(
                asyncpg_dsn(url),
                timeout=CONNECT_TIMEOUT,
                server_settings={
                    "application_name": name[:63],
                    **KEEPALIVE,
                    **KEEPALIVE_COUNT,
                },
            )
        except (OSError, TimeoutError, asyncpg.PostgresError) as error:
            raise LocksLost(f"lock session not opened: {type(error).__name__}") from error
        return cls(connection, name)

    @property
    def alive(self) -> bool:
        return not self.lost.is_set()

    async def try_lock(self, key: LockKey) -> bool:
        """Take `key` if no other session holds it; never waits for it.

        Raises:
            LocksLost: the connection failed (this and every other lock of it are gone).
        """
        return await self._ask_lock(True, key)

    async def unlock(self, key: LockKey) -> None:
        """Give `key` back; nothing when the session is gone (it went with it)."""
        if self.lost.is_set():
            return
        with contextlib.suppress(LocksLost):
            await self._ask_lock(False, key)

    async def probe(self, query: str, key: str) -> bool:
        """Whether `key` is among the rows of `query`, which takes a text[] of keys (`$1`)
        and returns those that qualify: a question asked on this session, after the
        locks asked before it, batched with the same question for other keys.

        Raises:
            LocksLost: the connection failed.
        """
        future = self._future()
        self._probes.setdefault(query, []).append((key, future))
        self._asked.set()
        return await future

    async def is_alive(self, name: str) -> bool:
        """Whether the process `name` still holds its `process_lock` (it lives).

        Raises:
            LocksLost: the connection failed.
        """
        if not await self.try_lock(process_lock(name)):
            return True
        await self.unlock(process_lock(name))
        return False

    async def listen(self, channel: str, notice: Callable[[str], None]) -> None:
        """Call `notice(payload)` for every notification on `channel` (PostgreSQL's
        LISTEN), for as long as the session lives.

        Raises:
            LocksLost: the connection failed.
        """
        future = self._future()
        self._listens.append((channel, notice, future))
        self._asked.set()
        await future

    async def ping(self) -> None:
        """A round trip, to notice a lost connection.

        Raises:
            LocksLost: it is lost.
        """
        await self.probe(_PING, "ping")

    def _future(self) -> asyncio.Future[bool]:
        if self.lost.is_set():
            raise LocksLost("lock session lost")
        return asyncio.get_running_loop().create_future()

    async def _ask_lock(self, take: bool, key: LockKey) -> bool:
        future = self._future()
        self._locks.append((take, key, future))
        self._asked.set()
        return await future

    async def _work(self) -> None:
        """Send what was asked, one batch after another, until the session ends."""
        locks: list[tuple[bool, LockKey, asyncio.Future[bool]]] = []
        probes: dict[str, list[tuple[str, asyncio.Future[bool]]]] = {}
        try:
            while True:
                await self._asked.wait()
                self._asked.clear()
                while self._locks or self._probes or self._listens:
                    listens, self._listens = self._listens, []
                    for channel, notice, future in listens:
                        await self._connection.add_listener(channel, _notify(notice))
                        _settle(future, True)
                    locks, self._locks = self._locks, []
                    probes, self._probes = self._probes, {}
                    if locks:
                        rows = await self._connection.fetch(
                            _LOCK_BATCH,
                            [take for take, _, _ in locks],
                            [key.space for _, key, _ in locks],
                            [key.id for _, key, _ in locks],
                        )
                        for (_, _, future), row in zip(locks, rows, strict=True):
                            _settle(future, bool(row[0]))
                    for query, asked in probes.items():
                        keys = list({key for key, _ in asked})
                        found = {row[0] for row in await self._connection.fetch(query, keys)}
                        for key, future in asked:
                            _settle(future, key in found)
                    locks, probes = [], {}
        except asyncio.CancelledError:
            self._fail_all(LocksLost("lock session closed"), locks, probes)
            raise
        except Exception as error:  # any failure leaves the session's locks unknown
            self._lose(error, locks, probes)

    def _lose(self, error: BaseException, *sending: Any) -> None:
        if not self.lost.is_set():
            logger.warning("%s: lock session lost (%s)", self._name, type(error).__name__)
            self.lost.set()
            self._connection.terminate()
        self._fail_all(LocksLost(f"lock session lost: {type(error).__name__}"), *sending)

    def _fail_all(
        self,
        error: LocksLost,
        locks: list[tuple[bool, LockKey, asyncio.Future[bool]]] | None = None,
        probes: dict[str, list[tuple[str, asyncio.Future[bool]]]] | None = None,
    ) -> None:
        """Fail every call waiting: those asked and those of the batch that was sent."""
        waiting = [f for _, _, f in [*(locks or []), *self._locks, *self._listens]]
        for asked in [*(probes or {}).values(), *self._probes.values()]:
            waiting += [f for _, f in asked]
        self._locks, self._probes, self._listens = [], {}, []
        for future in waiting:
            if not future.done():
                future.set_exception(error)

    async def close(self) -> None:
        """End the session: every lock it holds is free for the other processes at once."""
        if self.lost.is_set():
            return
        self.lost.set()
        self._worker.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._worker
        try:
            await asyncio.wait_for(self._connection.close(), CONNECT_TIMEOUT)
        except Exception as error:  # closing a broken connection: it is gone either way
            logger.info("%s: lock session closed with %s", self._name, type(error).__name__)
            self._connection.terminate()


def _notify(notice: Callable[[str], None]) -> Callable[..., None]:
    """asyncpg's listener signature (connection, pid, channel, payload) → `notice(payload)`."""
    return lambda _connection, _pid, _channel, payload: notice(str(payload))


def _settle(future: asyncio.Future[bool], value: bool) -> None:
    if not future.done():  # its caller may have been cancelled meanwhile
        future.set_result(value)


class ProcessLocks:
    """The process's current lock session: opened when first needed and again after it was
    lost, each time taking the process's own `process_lock` and listening as asked.
    Whoever holds a lock keeps the session it took it on, and gives it back there."""

    def __init__(self, url: str, name: str) -> None:
        self._url = url
        self.name = name
        self._session: LockSession | None = None
        self._opening = asyncio.Lock()
        self._closed = False
        self._listeners: list[tuple[str, Callable[[str], None]]] = []

    async def listen(self, channel: str, notice: Callable[[str], None]) -> None:
        """Call `notice(payload)` for each notification on `channel`, on the session open
        now (opened if there is none) and on every one opened after it.

        Raises:
            LocksLost: the database cannot be reached.
        """
        async with self._opening:
            self._listeners.append((channel, notice))
            session = self._session
            if session is not None and session.alive:
                await session.listen(channel, notice)
        await self.session()

    @property
    def alive(self) -> bool:
        """Whether a session is open and not lost: the process's lock is held."""
        return self._session is not None and self._session.alive

    async def session(self) -> LockSession:
        """The live session, opened now if there is none.

        Raises:
            LocksLost: the database cannot be reached (or the locks were closed).
        """
        session = self._session
        if session is not None and session.alive:
            return session
        async with self._opening:
            if self._closed:
                raise LocksLost("closed")
            if self._session is None or not self._session.alive:
                session = await LockSession.open(self._url, self.name)
                try:
                    if not await session.try_lock(process_lock(self.name)):
                        raise LocksLost(f"another process is named {self.name}")
                    for channel, notice in self._listeners:
                        await session.listen(channel, notice)
                except BaseException:
                    await session.close()
                    raise
                self._session = session
            return self._session

    async def close(self) -> None:
        """End the session (every lock is freed); `session` refuses afterwards."""
        async with self._opening:
            self._closed = True
            if self._session is not None:
                await self._session.close()


@asynccontextmanager
async def exclusive(db: Database, key: LockKey) -> AsyncIterator[None]:
    """Hold `key` for the block, waiting for another process that holds it; on SQLite (one
    process) nothing. For what every process does once at start (`STARTUP`)."""
    if not db.is_postgres:
        yield
        return
    async with db.engine.connect() as connection:
        await connection.execute(text("SELECT pg_advisory_lock(:space, :id)"), key._asdict())
        await connection.commit()
        try:
            yield
        finally:
            await connection.execute(text("SELECT pg_advisory_unlock(:space, :id)"), key._asdict())
            await connection.commit()
