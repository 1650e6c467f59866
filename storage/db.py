"""The engine and the one way to write storage code: `await db.run(work)`.

`work` is a plain function of a synchronous SQLModel `Session`; it runs as one transaction,
committed when it returns and rolled back if it raises. Inside it a store reads with
`session.exec(select(...))` and `session.get(...)`, writes with `session.add(...)` or a
statement (`session.exec(update(...))`, `delete(...)`, `insert_for(...)` for an upsert), and
returns what it read: the session does not expire its objects on commit, so they can be used
after it closed. (SQLModel's `select` is typed for up to four columns; the report's wider
reads use SQLAlchemy's `select` and `session.execute`.)

The few statements every resident's update runs (the contact and its flow step, the next
step, a new item with its route, reference, history and announcements, what a Matrix message
offered) are written the same way, but built by a module-level function and taken from
SQLAlchemy's statement cache (`cached`, `cached_insert`): building such a statement costs
more than running it (an upsert 0.4 ms of Python; `bench.store_hot`). Their values are
parameters; they run through the session when they return models, and on
`session.connection()` when they write or return plain values (the ORM layer adds nothing
there but time).

On SQLite, `work` runs on the database's own thread with the synchronous driver: one thread
hand-off per transaction (an asynchronous driver such as aiosqlite hands off every cursor
call, several per statement), and a writer that finds the database locked by another process
waits there (`busy_timeout`), never on the event loop. That thread never checkpoints the
write-ahead log: SQLite would do it inside a commit now and then, fsync included, and every
transaction queued behind it would wait (the slowest 1 % of replies at 200 updates a second
took 88 ms instead of ms). Every `CHECKPOINT_EVERY` transactions a second thread with a
connection of its own moves the log into the database file (`PRAGMA wal_checkpoint(PASSIVE)`,
which waits for no writer and blocks none). On PostgreSQL it runs through
SQLAlchemy's greenlet bridge (`AsyncSession.run_sync`) on asyncpg, so the loop never blocks on
the network either; several transactions run at once on the pool's connections.

A turn as one transaction (`async with db.turn():`, PostgreSQL only): every `run` the task
makes inside it joins one transaction, each in a savepoint of its own (so a `work` that raises
undoes only its own part, as it would alone), and all of it commits when the block ends.
Several processes need it (`bot.channels.telegram.inbox`, the Matrix channel on PostgreSQL):
an update's state changes and the replies stored for it commit together, so a process killed
in the middle of the turn leaves nothing of it behind, and the update is handled once, by
whoever takes it next. Other tasks, the delivery loop's for example, are not in the turn even
when they were started from it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from contextvars import ContextVar
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import (
    Engine,
    Executable,
    StatementLambdaElement,
    create_engine,
    event,
    lambda_stmt,
)
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlmodel import Session, SQLModel
from sqlmodel.ext.asyncio.session import AsyncSession

# Importing the table modules registers their tables on SQLModel.metadata (create_all).
from storage import (
    asking_models,  # noqa: F401
    inbox_models,  # noqa: F401
    models,  # noqa: F401
    web_models,  # noqa: F401
)
from storage.events import models as event_models  # noqa: F401

logger = logging.getLogger(__name__)

SQLITE_BUSY_TIMEOUT_MS = 30_000
CHECKPOINT_EVERY = 200  # transactions between two checkpoints of the write-ahead log
T = TypeVar("T")


class Database:
    """The engine and the transaction helper; every store method runs its own transaction.

    `engine` is asynchronous on both backends: migrations (`storage.schema`) and `create_all`
    use it. On SQLite, `run` has a synchronous engine of its own on the database's thread.
    """

    def __init__(self, url: str, *, echo: bool = False, pool_size: int = 10) -> None:
        self.url = url
        parsed = make_url(url)
        self.is_sqlite = parsed.get_backend_name() == "sqlite"
        self.is_postgres = parsed.get_backend_name() == "postgresql"
        # A failing statement's error (and so its logged traceback) would otherwise carry its
        # parameters: residents' names and texts.
        options: dict[str, Any] = {"echo": echo, "hide_parameters": True}
        if self.is_sqlite:
            _private_directory(parsed.database)
            options["connect_args"] = {"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000}
        else:
            options.update(pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True)
        self.engine: AsyncEngine = create_async_engine(url, **options)
        self._sessions = async_sessionmaker(
            self.engine, class_=AsyncSession, expire_on_commit=False
        )
        self._sqlite: Engine | None = None
        self._thread: ThreadPoolExecutor | None = None
        self._checkpointer: ThreadPoolExecutor | None = None
        self._checkpointing: asyncio.Future[None] | None = None
        self._since_checkpoint = 0
        self._disposed = False
        # The turn the running task is in (`turn`): its session, and the task it is for.
        self._turn: ContextVar[tuple[AsyncSession, asyncio.Task[Any] | None] | None] = ContextVar(
            f"mitreden-turn-{id(self)}", default=None
        )
        if self.is_sqlite:
            # The file is made (for its owner only) when it is first opened, not here: a
            # Database that is never used leaves no file behind.
            made = partial(prepare_sqlite_file, parsed.database)
            event.listen(self.engine.sync_engine, "do_connect", lambda *_: made())
            event.listen(self.engine.sync_engine, "connect", _configure_sqlite)
            self._sqlite = create_engine(parsed.set(drivername="sqlite"), **options)
            event.listen(self._sqlite, "do_connect", lambda *_: made())
            event.listen(self._sqlite, "connect", _configure_sqlite)
            event.listen(self._sqlite, "connect", _no_autocheckpoint)
            self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite")
            self._checkpointer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="wal")

    async def run(self, work: Callable[[Session], T]) -> T:
        """Run `work` in one transaction, committed when it returns, rolled back if it raises.

        `work` must only act through its session (no awaiting, no other I/O): it runs on the
        SQLite thread, or inside SQLAlchemy's greenlet bridge on PostgreSQL.

        Returns:
            What `work` returned.
        """
        if self._sqlite is not None and self._thread is not None:
            loop = asyncio.get_running_loop()
            result = await loop.run_in_executor(self._thread, _run_on, self._sqlite, work)
            self._count_transaction(loop)
            return result
        turn = self._turn.get()
        if turn is not None and turn[1] is asyncio.current_task():
            session = turn[0]
            try:
                async with session.begin_nested():
                    return await session.run_sync(work)  # type: ignore[arg-type]
            finally:
                # What `work` returns is detached, as from a transaction of its own, and the
                # next `run` reads afresh (a statement on the connection bypasses the
                # session's identity map, which would otherwise answer from memory).
                session.expunge_all()
        async with self._sessions() as session, session.begin():
            return await session.run_sync(work)  # type: ignore[arg-type]  # a sqlmodel Session

    @contextlib.asynccontextmanager
    async def turn(self) -> AsyncIterator[None]:
        """Make every `run` of this task inside the block one transaction, committed when the
        block ends and rolled back if it raises (see the module). PostgreSQL only.

        Raises:
            What the commit raised: then nothing of the turn is kept.
        """
        if not self.is_postgres:
            raise RuntimeError("a turn as one transaction needs PostgreSQL")
        open_turn = self._turn.get()
        if open_turn is not None and open_turn[1] is asyncio.current_task():
            raise RuntimeError("this task is in a turn already")
        async with self._sessions() as session, session.begin():
            token = self._turn.set((session, asyncio.current_task()))
            try:
                yield
            finally:
                self._turn.reset(token)

    def _count_transaction(self, loop: asyncio.AbstractEventLoop) -> None:
        """Start a checkpoint every `CHECKPOINT_EVERY` transactions, one at a time."""
        self._since_checkpoint += 1
        if self._since_checkpoint < CHECKPOINT_EVERY or self._checkpointing is not None:
            return
        self._since_checkpoint = 0
        self._checkpointing = loop.run_in_executor(self._checkpointer, self._checkpoint)
        self._checkpointing.add_done_callback(self._checkpoint_done)

    async def wait_for_checkpoint(self) -> None:
        """Until the checkpoint under way, if any, has finished."""
        if self._checkpointing is not None:
            await asyncio.wait([self._checkpointing])

    def _checkpoint(self) -> None:
        assert self._sqlite is not None
        with self._sqlite.connect() as connection:
            connection.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)")

    def _checkpoint_done(self, done: asyncio.Future[None]) -> None:
        self._checkpointing = None
        if not done.cancelled() and done.exception() is not None:
            logger.error("sqlite: checkpoint failed", exc_info=done.exception())

    async def create_all(self) -> None:
        """Create every table directly; for tests and benchmarks (production runs migrations)."""
        async with self.engine.begin() as connection:
            await connection.run_sync(SQLModel.metadata.create_all)

    async def ping(self) -> None:
        """Run a trivial query; raises what the database raises when it does not answer
        (the ops server's readiness check)."""
        await self.run(
            lambda session: session.connection().exec_driver_sql("SELECT 1").scalar_one()
        )

    async def dispose(self) -> None:
        """Close the connections; closing again does nothing."""
        if self._disposed:
            return
        self._disposed = True
        await self.engine.dispose()
        if self._sqlite is not None and self._thread is not None:
            await self.wait_for_checkpoint()
            assert self._checkpointer is not None
            self._checkpointer.shutdown(wait=True)
            engine = self._sqlite
            await asyncio.get_running_loop().run_in_executor(self._thread, engine.dispose)
            self._thread.shutdown(wait=True)


def cached(build: Callable[[], Executable]) -> StatementLambdaElement:
    """The statement `build()` returns, built once and then taken from SQLAlchemy's cache
    (`lambda_stmt`, keyed by `build`), for statements run so often that building them
    anew would cost more than running them.

    `build` is a module-level function; every value that changes from one run to the next
    is a `bindparam`, given when the statement runs. Anything else it writes into the
    statement stays as it was at the first build.
    """
    return lambda_stmt(lambda: build(), track_on=(build,), track_bound_values=False)


def database_secret(url: str) -> str:
    """The secret in a database URL (its password), to keep out of all output; the whole URL
    when it cannot be read, since the parser's error would quote it."""
    try:
        return make_url(url).password or ""
    except ArgumentError:
        return url


def database_shown(url: str) -> str:
    """A database URL as it may be shown (logged, printed): its password as `***`."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "(a database.url that cannot be read)"


def sqlite_file(url: str) -> Path | None:
    """The file of a SQLite database URL, absolute; None for any other database (PostgreSQL,
    SQLite in memory). Read without opening anything: opening a SQLite file creates it."""
    parsed = make_url(url)
    database = parsed.database
    if parsed.get_backend_name() != "sqlite" or not database or database == ":memory:":
        return None
    if database.startswith("file:"):
        return None  # a URI filename; its options are SQLite's business
    return Path(database).expanduser().absolute()


def _run_on(engine: Engine, work: Callable[[Session], T]) -> T:
    with Session(engine, expire_on_commit=False) as session, session.begin():
        return work(session)


def prepare_sqlite_file(database: str | None) -> None:
    """The database's directory and file, made for their owner only (0700, 0600) whatever
    the umask: they hold residents' data. SQLite gives its `-wal` and `-shm` files the
    database file's mode, so the file is made here, before SQLite opens it. Places that
    exist are left as they are."""
    if _private_directory(database):
        assert database is not None
        with contextlib.suppress(FileExistsError):
            os.close(
                os.open(Path(database).expanduser(), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            )


def _private_directory(database: str | None) -> bool:
    """Make the directory of the SQLite file `database` (0700) if it is missing; whether
    `database` names a file at all."""
    if not database or database == ":memory:" or database.startswith("file:"):
        return False
    Path(database).expanduser().parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    return True


def _configure_sqlite(dbapi_connection: Any, _record: Any) -> None:
    """WAL lets readers run beside the one writer; busy_timeout makes writers queue, not fail."""
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _no_autocheckpoint(dbapi_connection: Any, _record: Any) -> None:
    """The transactions' connections leave checkpoints to the checkpoint thread."""
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA wal_autocheckpoint=0")
    cursor.close()
