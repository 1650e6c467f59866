"""INSERT ... ON CONFLICT for whichever engine a session is bound to."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import Executable, StatementLambdaElement, lambda_stmt
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session


def insert_for(session: Session, table: Any) -> Any:
    """An `insert()` that knows `on_conflict_do_nothing/do_update` on SQLite and PostgreSQL."""
    if session.get_bind().dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


def cached_insert(
    session: Session, build: Callable[[Callable[..., Any]], Executable]
) -> StatementLambdaElement:
    """`storage.db.cached` for an upsert: `build(insert)` gets the `insert` of the session's
    engine (the one that knows `on_conflict_do_nothing/do_update`), and the statement is
    built once per `build` and engine."""
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    return lambda_stmt(lambda: build(insert), track_on=(build, dialect), track_bound_values=False)
