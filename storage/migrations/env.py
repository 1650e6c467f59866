"""Alembic environment: runs on the connection that `storage.schema` hands over."""

from __future__ import annotations

from alembic import context
from sqlalchemy import engine_from_config, pool
from sqlalchemy.engine import Connection
from sqlmodel import SQLModel

# Importing the table modules registers their tables on SQLModel.metadata.
from storage import models  # noqa: F401
from storage.events import models as event_models  # noqa: F401

config = context.config
target_metadata = SQLModel.metadata


def run_on(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        run_on(connection)
        return
    # Stand-alone use (`alembic revision --autogenerate` by a developer) with a sync URL.
    url = config.get_main_option("sqlalchemy.url") or ""
    config.set_main_option("sqlalchemy.url", url.replace("+aiosqlite", "").replace("+asyncpg", ""))
    engine = engine_from_config(
        config.get_section(config.config_ini_section, {}),
        prefix="sqlalchemy.",
        poolclass=pool.NullPool,
    )
    with engine.connect() as connection:
        run_on(connection)


if context.is_offline_mode():
    context.configure(
        url=config.get_main_option("sqlalchemy.url"), target_metadata=target_metadata
    )
    with context.begin_transaction():
        context.run_migrations()
else:
    run_online()
