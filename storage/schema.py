"""Schema changes are Alembic migrations (storage/migrations); this runs them."""

from __future__ import annotations

import logging
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection

from storage.db import Database

logger = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


async def upgrade_to_head(db: Database) -> str | None:
    """Apply every pending migration; returns the revision the database is at afterwards."""
    config = alembic_config(db.url)

    def upgrade(connection: Connection) -> str | None:
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
    head = ScriptDirectory.from_config(alembic_config(db.url)).get_current_head()
    async with db.engine.connect() as connection:
        current = await connection.run_sync(
            lambda sync: MigrationContext.configure(sync).get_current_revision()
        )
    return current, head
