"""The test PostgreSQL server works and per-test databases are isolated."""

from __future__ import annotations

from collections.abc import Iterator

import asyncpg
import pytest
from sqlalchemy.engine import make_url

from tests import pg_fixtures

pytestmark = pytest.mark.postgres

# Also provided by tests/conftest.py; repeated here so this module runs on its own.
# pg_fixtures shares one cluster between both definitions.
postgres_server = pg_fixtures.postgres_server
fresh_postgres_database = pg_fixtures.fresh_postgres_database


def _dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


@pytest.mark.asyncio
async def test_server_roundtrip(postgres_server: str) -> None:
    assert make_url(postgres_server).drivername == "postgresql+asyncpg"
    conn = await asyncpg.connect(_dsn(postgres_server))
    try:
        version = await conn.fetchval("select version()")
        assert version.startswith("PostgreSQL")
        await conn.execute("create temporary table note (id int primary key, body text)")
        await conn.execute("insert into note values ($1, $2)", 1, "Grüß Gott")
        row = await conn.fetchrow("select id, body, upper(body) as up from note")
        assert (row["id"], row["body"]) == (1, "Grüß Gott")
        assert row["up"].startswith("GRÜ")  # database encoding and locale are UTF-8 aware
    finally:
        await conn.close()


@pytest.fixture
def other_fresh_database(postgres_server: str) -> Iterator[str]:
    """A second fresh database in the same test."""
    with pg_fixtures.fresh_database(postgres_server) as url:
        yield url


@pytest.mark.asyncio
async def test_fresh_databases_are_independent(
    fresh_postgres_database: str, other_fresh_database: str
) -> None:
    assert fresh_postgres_database != other_fresh_database
    first = await asyncpg.connect(_dsn(fresh_postgres_database))
    second = await asyncpg.connect(_dsn(other_fresh_database))
    try:
        await first.execute("create table item (name text)")
        await first.execute("insert into item values ('only in first')")
        assert await first.fetchval("select count(*) from item") == 1
        exists = await second.fetchval("select to_regclass('public.item') is not null")
        assert exists is False
    finally:
        await first.close()
        await second.close()
