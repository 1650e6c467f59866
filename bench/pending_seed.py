"""Seeding for `bench.pending`: a million feedback items, loaded the way a bulk load should be.

Rows are generated in Python (a fixed random seed, so every run and engine gets the same
data) and written in bulk: SQLAlchemy core executemany on SQLite, COPY
(`copy_records_to_table`) on PostgreSQL. The item table's secondary indexes are dropped
for the load and built afterwards from the models, so the benchmark measures exactly the
indexes `storage/models.py` declares, and building each once from sorted data is several
times faster than maintaining six indexes row by row.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Table, insert, text

from storage.db import Database
from storage.models import Contact, FeedbackItem, ItemKind, ItemState

SEED = 20_260_101
ANSWER_DAYS = timedelta(days=14)
SPAN = timedelta(days=730)  # items were created over the last two years
CHUNK = 50_000
# 30 % open (the /pending set), 70 % settled; weights per state.
STATES = (
    (ItemState.RECEIVED, 0.18),
    (ItemState.IN_PROGRESS, 0.12),
    (ItemState.ANSWERED, 0.20),
    (ItemState.IMPLEMENTED, 0.10),
    (ItemState.DECLINED, 0.10),
    (ItemState.CLOSED, 0.30),
)
SETTLED = {ItemState.ANSWERED, ItemState.IMPLEMENTED, ItemState.DECLINED, ItemState.CLOSED}
WORDS = (
    "Kita",
    "Sprachkurs",
    "Wohnung",
    "Nachbarschaft",
    "Arzt",
    "Termin",
    "Ausbildung",
    "Praktikum",
    "Schule",
    "Beratung",
    "Formular",
    "Amt",
    "Bus",
    "Spielplatz",
    "Sportverein",
    "Dolmetscher",
    "Übersetzung",
    "Wartezeit",
    "Anerkennung",
)
TEXTS = tuple(" ".join(random.Random(i).choices(WORDS, k=8 + i % 40)) + "." for i in range(64))


def _item_rows(
    n: int, field_groups: Sequence[tuple[str, str]], contacts: int, now: datetime
) -> Iterator[dict[str, Any]]:
    """Items oldest first (ids grow with created_at, as in production); naive UTC times."""
    rng = random.Random(SEED)
    base = now.replace(tzinfo=None) - SPAN
    offsets = sorted(rng.random() * SPAN.total_seconds() for _ in range(n))
    states = rng.choices([s for s, _ in STATES], [w for _, w in STATES], k=n)
    kinds = list(ItemKind)
    counters: dict[int, int] = {}
    for i, (offset, state) in enumerate(zip(offsets, states, strict=True)):
        created = base + timedelta(seconds=offset)
        counters[created.year] = number = counters.get(created.year, 0) + 1
        field_key, group_key = field_groups[i % 97 % len(field_groups)]
        anonymous = rng.random() < 0.6
        answered = None
        if state in SETTLED or (state == ItemState.IN_PROGRESS and rng.random() < 0.3):
            answered = created + timedelta(hours=rng.uniform(2, 24 * 20))
        yield {
            "id": i + 1,
            "reference": f"F-{created.year}-{number:06d}",
            "kind": kinds[i % len(kinds)].value,
            "field_key": field_key,
            "group_key": group_key,
            "text": TEXTS[i % len(TEXTS)],
            "language": "de" if i % 5 else "en",
            "state": state.value,
            "anonymous": anonymous,
            "contact_id": None if anonymous else 1 + rng.randrange(contacts),
            "platform": "telegram",
            "assignee": "telegram:9000" if state == ItemState.IN_PROGRESS else None,
            "assignee_name": "Koordination" if state == ItemState.IN_PROGRESS else None,
            "answer_due_at": created + ANSWER_DAYS,
            "first_answered_at": answered,
            "escalated_at": None,
            "created_at": created,
            "updated_at": answered or created,
        }


def _contact_rows(n: int, now: datetime) -> list[dict[str, Any]]:
    at = now.replace(tzinfo=None)
    return [
        {
            "id": i + 1,
            "platform": "telegram",
            "user_id": str(100_000 + i),
            "chat_id": str(100_000 + i),
            "display_name": f"Person {i}",
            "language": "de",
            "consent_at": at,
            "subscribed": bool(i % 2),
            "blocked_at": None,
            "created_at": at,
            "last_seen_at": at,
        }
        for i in range(n)
    ]


def _aware(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """UTCDateTime (bound on SQLite) refuses naive times; COPY on PostgreSQL wants them."""
    for row in rows:
        for key, value in row.items():
            if isinstance(value, datetime):
                row[key] = value.replace(tzinfo=UTC)
    return rows


def _chunks(rows: Iterator[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    chunk: list[dict[str, Any]] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) == CHUNK:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


async def seed(
    db: Database,
    n: int,
    field_groups: Sequence[tuple[str, str]],
    *,
    contacts: int = 3_000,
    now: datetime | None = None,
) -> int:
    """Load `contacts` contacts and `n` items; returns how many items are open."""
    now = now or datetime.now(UTC)
    items: Table = FeedbackItem.__table__  # type: ignore[attr-defined]
    people: Table = Contact.__table__  # type: ignore[attr-defined]
    indexes = sorted(items.indexes, key=lambda ix: str(ix.name))
    open_items = 0
    async with db.engine.begin() as conn:
        for index in indexes:
            await conn.run_sync(index.drop)
    if db.is_postgres:
        async with db.engine.begin() as conn:
            raw = (await conn.get_raw_connection()).driver_connection
            assert raw is not None
            for table, rows in (
                (people, iter(_contact_rows(contacts, now))),
                (items, _item_rows(n, field_groups, contacts, now)),
            ):
                columns = [c.name for c in table.columns]
                for chunk in _chunks(rows):
                    if table is items:
                        open_items += sum(r["state"] in ("received", "in_progress") for r in chunk)
                    await raw.copy_records_to_table(
                        table.name,
                        records=[tuple(r.get(c) for c in columns) for r in chunk],
                        columns=columns,
                    )
            for table in (people, items):
                await conn.execute(
                    text(
                        f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), "
                        f"(SELECT max(id) FROM {table.name}))"
                    )
                )
    else:
        async with db.engine.begin() as conn:
            await conn.exec_driver_sql("PRAGMA synchronous=OFF")
            await conn.execute(insert(people), _aware(_contact_rows(contacts, now)))
            for chunk in _chunks(_item_rows(n, field_groups, contacts, now)):
                open_items += sum(r["state"] in ("received", "in_progress") for r in chunk)
                await conn.execute(insert(items), _aware(chunk))
    async with db.engine.begin() as conn:
        for index in indexes:
            await conn.run_sync(index.create)
    # Statistics for the planner. On PostgreSQL also VACUUM: autovacuum would otherwise start
    # on the freshly loaded table during the measurement and compete for this machine's cores
    # (a long-running database is vacuumed; one just loaded is not). Outside a transaction.
    async with db.engine.connect() as conn:
        conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
        await conn.exec_driver_sql("VACUUM ANALYZE" if db.is_postgres else "ANALYZE")
    return open_items
