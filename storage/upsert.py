"""INSERT ... ON CONFLICT for whichever engine a session is bound to."""

from __future__ import annotations

from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session
from sqlmodel.ext.asyncio.session import AsyncSession


def insert_for(session: AsyncSession | Session, table: Any) -> Any:
    """An `insert()` that knows `on_conflict_do_nothing/do_update` on SQLite and PostgreSQL."""
    dialect = session.bind.dialect.name if session.bind is not None else "sqlite"
    return insert_on(dialect, table)


def insert_on(dialect: str, table: Any) -> Any:
    """`insert_for` by dialect name, for statements built once per dialect (functools.cache
    on a builder taking `connection.dialect.name`)."""
    if dialect == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)
