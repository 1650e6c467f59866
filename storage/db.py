"""The engine and transactions: SQLite in WAL mode by default, PostgreSQL by URL.

`Database.run(work)` is the fast path every hot store method uses: `work` is a plain function
of a synchronous session and runs as one transaction. On SQLite it runs on the database's own
thread with the synchronous driver, one thread hand-off per transaction (aiosqlite hands off
every cursor call, several per statement); on PostgreSQL it runs through SQLAlchemy's greenlet
bridge on asyncpg. `session()` is the async alternative for code that awaits between
statements.

`run(work, quick=True)` is for the few short transactions every update makes (a contact and
its flow step, the next step, a new item). On SQLite they run on the event loop's own thread:
a hand-off to the database thread costs more than such a transaction, and under load the two
threads fight over the GIL, which showed as most of the intake benchmark's tail latency. The
loop's connection never waits: it has no busy timeout, so when another connection holds the
write lock the transaction rolls back and runs again on the database thread, which waits its
turn there. Nor does it checkpoint: every `CHECKPOINT_EVERY` quick transactions the database
thread moves the write-ahead log into the database file (its fsync stays off the loop).
A quick `work` may therefore run twice; like every `work`, it must only act through its session.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlmodel import Session, SQLModel
from sqlmodel.ext.asyncio.session import AsyncSession

from storage import models  # noqa: F401  (registers the tables on SQLModel.metadata)

logger = logging.getLogger(__name__)

SQLITE_BUSY_TIMEOUT_MS = 30_000
CHECKPOINT_EVERY = 200  # quick transactions between two checkpoints of the write-ahead log
SQLITE_BUSY, SQLITE_LOCKED = 5, 6  # primary result codes; extended codes keep them in 8 bits
T = TypeVar("T")


class Database:
    """One engine and a session factory; every store method opens its own transaction."""

    def __init__(self, url: str, *, echo: bool = False, pool_size: int = 10) -> None:
        self.url = url
        parsed = make_url(url)
        self.is_sqlite = parsed.get_backend_name() == "sqlite"
        self.is_postgres = parsed.get_backend_name() == "postgresql"
        # A failing statement's error (and so its logged traceback) would otherwise carry its
        # parameters: residents' names and texts.
        options: dict[str, Any] = {"echo": echo, "hide_parameters": True}
        if self.is_sqlite:
            _ensure_parent_directory(parsed.database)
            options["connect_args"] = {"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000}
        else:
            options.update(pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True)
        self.engine: AsyncEngine = create_async_engine(url, **options)
        if self.is_sqlite:
            event.listen(self.engine.sync_engine, "connect", _configure_sqlite)
        self._sessions = async_sessionmaker(
            self.engine, class_=AsyncSession, expire_on_commit=False
        )
        self._sync_engine: Engine | None = None
        self._loop_engine: Engine | None = None
        self._thread: ThreadPoolExecutor | None = None
        self._quick_since_checkpoint = 0
        self._checkpointing: asyncio.Future[None] | None = None
        self.busy_fallbacks = 0  # quick transactions that met a lock and went to the thread
        if self.is_sqlite:
            sync_url = parsed.set(drivername="sqlite")
            self._sync_engine = create_engine(
                sync_url,
                echo=echo,
                hide_parameters=True,
                connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000},
            )
            event.listen(self._sync_engine, "connect", _configure_sqlite)
            self._loop_engine = create_engine(
                sync_url,
                echo=echo,
                hide_parameters=True,
                connect_args={"timeout": 0},
                pool_size=1,
                max_overflow=0,
            )
            event.listen(self._loop_engine, "connect", _configure_loop_sqlite)
            self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite")

    async def run(self, work: Callable[[Session], T], *, quick: bool = False) -> T:
        """Run `work` in one transaction, committed when it returns, rolled back if it raises.

        `quick`: a transaction of a few indexed statements, run on the loop's thread on
        SQLite (see the module's docstring); never for anything that scans.
        """
        if self._sync_engine is not None and self._thread is not None:
            if quick and self._loop_engine is not None:
                try:
                    result = _run_on(self._loop_engine, work)
                except OperationalError as error:
                    if not _is_busy(error):
                        raise
                    self.busy_fallbacks += 1
                    logger.debug("sqlite: database busy, transaction moved to its thread")
                else:
                    self._count_quick()
                    return result
            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(self._thread, _run_on, self._sync_engine, work)
        async with self._sessions() as session, session.begin():
            return await session.run_sync(work)  # type: ignore[arg-type]  # a sqlmodel Session

    def _count_quick(self) -> None:
        self._quick_since_checkpoint += 1
        if self._quick_since_checkpoint < CHECKPOINT_EVERY or self._checkpointing is not None:
            return
        self._quick_since_checkpoint = 0
        assert self._thread is not None
        loop = asyncio.get_running_loop()
        self._checkpointing = loop.run_in_executor(self._thread, self._checkpoint)
        self._checkpointing.add_done_callback(self._checkpoint_done)

    def _checkpoint(self) -> None:
        assert self._sync_engine is not None
        with self._sync_engine.connect() as connection:
            connection.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)")

    def _checkpoint_done(self, done: asyncio.Future[None]) -> None:
        self._checkpointing = None
        if not done.cancelled() and done.exception() is not None:
            logger.error("sqlite: checkpoint failed", exc_info=done.exception())

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        """A session whose transaction commits on success and rolls back on error."""
        async with self._sessions() as session, session.begin():
            yield session

    async def create_all(self) -> None:
        """Create every table directly; for tests and benchmarks (production runs migrations)."""
        async with self.engine.begin() as connection:
            await connection.run_sync(SQLModel.metadata.create_all)

    async def dispose(self) -> None:
        await self.engine.dispose()
        if self._loop_engine is not None:
            self._loop_engine.dispose()
        if self._sync_engine is not None and self._thread is not None:
            if self._checkpointing is not None:
                await asyncio.wait([self._checkpointing])
            engine = self._sync_engine
            await asyncio.get_running_loop().run_in_executor(self._thread, engine.dispose)
            self._thread.shutdown(wait=True)


def _run_on(engine: Engine, work: Callable[[Session], T]) -> T:
    with Session(engine, expire_on_commit=False) as session, session.begin():
        return work(session)


def _is_busy(error: OperationalError) -> bool:
    """SQLITE_BUSY or SQLITE_LOCKED, in any of their extended forms (e.g. BUSY_SNAPSHOT)."""
    code = getattr(error.orig, "sqlite_errorcode", None)
    if isinstance(error.orig, sqlite3.OperationalError) and isinstance(code, int):
        return code & 0xFF in (SQLITE_BUSY, SQLITE_LOCKED)
    return False


def _ensure_parent_directory(database: str | None) -> None:
    if database and database != ":memory:" and not database.startswith("file:"):
        Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)


def _configure_sqlite(dbapi_connection: Any, _record: Any) -> None:
    """WAL lets readers run beside the one writer; busy_timeout makes writers queue, not fail."""
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _configure_loop_sqlite(dbapi_connection: Any, record: Any) -> None:
    """The loop's connection: as every other, but it never waits for a lock and leaves
    checkpoints (and their fsync) to the database thread."""
    _configure_sqlite(dbapi_connection, record)
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA busy_timeout=0")
    cursor.execute("PRAGMA wal_autocheckpoint=0")
    cursor.close()
