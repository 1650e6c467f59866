"""The migrations build exactly the schema of the models, on SQLite and on PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection
from sqlmodel import SQLModel

from storage.db import Database
from storage.schema import HEAD, alembic_config, current_revision, upgrade_to_head


@pytest.fixture
async def empty_db(backend_url: str) -> AsyncIterator[Database]:
    db = Database(backend_url)
    try:
        yield db
    finally:
        await db.dispose()


async def differences(db: Database) -> list[Any]:
    def compare(connection: Connection) -> list[Any]:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return list(compare_metadata(context, SQLModel.metadata))

    async with db.engine.connect() as connection:
        return await connection.run_sync(compare)


async def tables(db: Database) -> set[str]:
    async with db.engine.connect() as connection:
        return set(await connection.run_sync(lambda sync: inspect(sync).get_table_names()))


async def test_upgrade_builds_the_schema_of_the_models(empty_db: Database) -> None:
    assert await tables(empty_db) == set()

    revision = await upgrade_to_head(empty_db)

    assert revision is not None
    assert await current_revision(empty_db) == (revision, revision)
    assert await tables(empty_db) == {*SQLModel.metadata.tables, "alembic_version"}
    assert await differences(empty_db) == []


async def test_upgrade_twice_is_a_no_op(empty_db: Database) -> None:
    first = await upgrade_to_head(empty_db)
    async with empty_db.engine.begin() as connection:
        await connection.execute(
            text("INSERT INTO reference_counter (year, last) VALUES (2026, 41)")
        )

    second = await upgrade_to_head(empty_db)

    assert second == first
    async with empty_db.engine.connect() as connection:
        kept = (await connection.execute(text("SELECT last FROM reference_counter"))).all()
        versions = (await connection.execute(text("SELECT * FROM alembic_version"))).all()
    assert [tuple(row) for row in kept] == [(41,)]  # data survives
    assert len(versions) == 1
    assert await differences(empty_db) == []


async def test_the_comparison_notices_a_missing_table(empty_db: Database) -> None:
    await upgrade_to_head(empty_db)
    async with empty_db.engine.begin() as connection:
        await connection.execute(text("DROP TABLE outbox"))

    found = await differences(empty_db)

    assert any(diff[0] == "add_table" and diff[1].name == "outbox" for diff in found)


def test_head_names_the_newest_migration() -> None:
    """A bot on a database at `HEAD` skips Alembic: a new migration must move `HEAD` too."""
    assert ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head() == HEAD
