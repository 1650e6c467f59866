"""Schema changes are Alembic migrations (storage/migrations); this runs them.

Alembic is imported only when there is something to migrate: a bot that starts on a database
already at `HEAD` reads the revision with one query and spares the 11.5 MiB that Alembic and
Mako keep for the life of the process (peak RSS is part of the bot's budget, bench/README.md).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection

from storage.db import Database
from storage.locks import MIGRATION

if TYPE_CHECKING:
    from alembic.config import Config

logger = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).parent / "migrations"
# The newest revision in storage/migrations/versions; tests/unit/test_migrations.py checks
# that it is Alembic's head, so a new migration that forgets it fails there.
HEAD = "0009"
VERSION_TABLE = "alembic_version"


def alembic_config(url: str) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


async def upgrade_to_head(db: Database) -> str | None:
    """Apply every pending migration; returns the revision the database is at afterwards."""
    async with db.engine.connect() as connection:
        if await connection.run_sync(_revision) == HEAD:
            return HEAD
    from alembic import command
    from alembic.runtime.migration import MigrationContext

    config = alembic_config(db.url)

    def upgrade(connection: Connection) -> str | None:
        if connection.dialect.name == "postgresql":
            # Several processes starting at once: one migrates, the others wait here and
            # then find the schema at HEAD (the lock ends with this transaction).
            connection.execute(
                text("SELECT pg_advisory_xact_lock(:space, :id)"), MIGRATION._asdict()
            )
        config.attributes["connection"] = connection
        before = MigrationContext.configure(connection).get_current_revision()
        command.upgrade(config, "head")
        after = MigrationContext.configure(connection).get_current_revision()
        if before != after:
            logger.info("database upgraded from %s to %s", before or "empty", after)
        return after

    async with db.engine.begin() as connection:
        return await connection.run_sync(upgrade)


async def current_revision(db: Database) -> tuple[str | None, str | None]:
    """(revision of the database, newest revision shipped)."""
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(alembic_config(db.url)).get_current_head()
    async with db.engine.connect() as connection:
        current = await connection.run_sync(
            lambda sync: MigrationContext.configure(sync).get_current_revision()
        )
    return current, head


async def schema_revision(db: Database) -> str | None:
    """The revision the database is at; None for one without a schema (no Alembic table),
    such as a PostgreSQL database just made with `createdb`. Cheap: one query, no Alembic."""
    async with db.engine.connect() as connection:
        return await connection.run_sync(_revision)


def _revision(connection: Connection) -> str | None:
    """The revision the database is at, None for one without Alembic's table."""
    if not inspect(connection).has_table(VERSION_TABLE):
        return None
    return connection.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).scalar()
