"""Query plans for `bench.pending`: the SQL `/pending` really ran, explained by the engine.

The statement is captured from the engine (`before_cursor_execute`) while the handler runs,
so the plan is the one of the exact SQL and parameters the ORM produced, not of a hand
written copy that may drift from `ItemStore.list_pending`.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy import event

from storage.db import Database

#: Plan words that mean the open set is sorted, or the table read, instead of an index read
#: in order (SQLite's "SCAN feedback_item USING INDEX ..." is such a read; LIMIT stops it).
SQLITE_BAD: tuple[str, ...] = ("TEMP B-TREE", "SCAN feedback_item\n")
POSTGRES_BAD: tuple[str, ...] = ("Sort", "Seq Scan", "Bitmap")


class Capture:
    """Remembers the last SELECT on feedback_item ordered by due date."""

    def __init__(self) -> None:
        self.statement: str | None = None
        self.parameters: Any = None

    def __call__(self, conn: Any, cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if "FROM feedback_item" in statement and "ORDER BY feedback_item.answer_due_at" in (
            statement
        ):
            self.statement, self.parameters = statement, parameters


async def explain(db: Database, call: Callable[[], Awaitable[object]]) -> tuple[str, bool]:
    """Run `call` once, then explain the pending query it made; (plan, is an index range scan).

    On PostgreSQL this is EXPLAIN ANALYZE (so the plan shows the rows really touched); on
    SQLite EXPLAIN QUERY PLAN, which is all SQLite offers.
    """
    capture = Capture()
    sync_engine = db.engine.sync_engine
    event.listen(sync_engine, "before_cursor_execute", capture)
    try:
        await call()
    finally:
        event.remove(sync_engine, "before_cursor_execute", capture)
    if capture.statement is None:
        return "(no pending query captured)", False
    params = tuple(capture.parameters or ())
    async with db.engine.connect() as conn:
        if db.is_postgres:
            sql = f"EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) {capture.statement}"
            rows = (await conn.exec_driver_sql(sql, params)).all()
            lines = [str(next(iter(r))) for r in rows]
            bad = POSTGRES_BAD
        else:
            rows = (
                await conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {capture.statement}", params)
            ).all()
            lines = [str(tuple(r)[3]) for r in rows]
            bad = SQLITE_BAD
    good = not any(word in line + "\n" for line in lines for word in bad)
    body = "\n".join("      " + line for line in lines)
    sql = re.sub(
        r"SELECT .*? FROM", "SELECT feedback_item.* FROM", " ".join(capture.statement.split())
    )
    return f"      SQL: {sql}\n{body}", good
