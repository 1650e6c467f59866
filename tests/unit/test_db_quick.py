"""Quick transactions on SQLite run on the loop's thread, yet never make the loop wait for a
lock held elsewhere, and the write-ahead log is still checkpointed."""

from __future__ import annotations

import asyncio
import shutil
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlmodel import Session

from storage import db as db_module
from storage.db import Database


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = Database(f"sqlite+aiosqlite:///{tmp_path}/q.db")
    await database.create_all()
    await database.run(lambda s: s.execute(text("CREATE TABLE note (id INTEGER PRIMARY KEY)")))
    try:
        yield database
    finally:
        await database.dispose()


def add_note(session: Session) -> int:
    session.execute(text("INSERT INTO note DEFAULT VALUES"))
    return int(session.execute(text("SELECT count(*) FROM note")).scalar_one())


async def test_quick_write_waits_its_turn_off_the_loop_when_another_process_holds_the_lock(
    db: Database, tmp_path: Path
) -> None:
    other = sqlite3.connect(tmp_path / "q.db", isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # another process (the CLI, say) is writing
    other.execute("INSERT INTO note DEFAULT VALUES")

    write = asyncio.create_task(db.run(add_note, quick=True))
    loop = asyncio.get_running_loop()
    started = loop.time()
    for _ in range(20):  # the loop keeps running while the write waits for the lock
        await asyncio.sleep(0.005)
    assert loop.time() - started < 1.0  # a loop waiting for the lock would stall here
    assert not write.done()
    other.execute("COMMIT")
    other.close()

    assert await write == 2  # nothing lost: the other process's row and ours
    assert db.busy_fallbacks == 1


async def test_quick_transaction_that_fails_is_rolled_back(db: Database) -> None:
    def add_then_fail(session: Session) -> None:
        add_note(session)
        raise ValueError("bad input")

    with pytest.raises(ValueError):
        await db.run(add_then_fail, quick=True)

    assert await db.run(lambda s: s.execute(text("SELECT count(*) FROM note")).scalar_one()) == 0


async def test_write_ahead_log_is_checkpointed_by_the_database_thread(
    db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(db_module, "CHECKPOINT_EVERY", 10)
    _checkpoint_now(tmp_path / "q.db")  # the empty table is in the database file
    for _ in range(9):
        await db.run(add_note, quick=True)
    before = _notes_in_database_file(tmp_path)
    await db.run(add_note, quick=True)  # the tenth starts a checkpoint on the thread
    for _ in range(200):
        if _notes_in_database_file(tmp_path) == 10:
            break
        await asyncio.sleep(0.01)

    assert before == 0  # the loop's connection left its writes in the log
    assert _notes_in_database_file(tmp_path) == 10


def _checkpoint_now(path: Path) -> None:
    connection = sqlite3.connect(path)
    connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    connection.close()


def _notes_in_database_file(directory: Path) -> int:
    """Rows that reached the database file itself: a copy of it without its log."""
    copy = directory / "copy" / "q.db"
    copy.parent.mkdir(exist_ok=True)
    shutil.copyfile(directory / "q.db", copy)
    for stale in copy.parent.glob("q.db-*"):
        stale.unlink()
    connection = sqlite3.connect(copy)
    try:
        return int(connection.execute("SELECT count(*) FROM note").fetchone()[0])
    finally:
        connection.close()
