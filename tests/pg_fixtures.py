"""Pytest fixtures for tests against a real PostgreSQL.

Import them into ``tests/conftest.py``::

    from tests.pg_fixtures import fresh_postgres_database, postgres_server  # noqa: F401

``postgres_server`` is one server for the whole session (starting a cluster takes
about a second); ``fresh_postgres_database`` gives each test its own empty database
on it, so tests cannot see each other's rows or tables.

The fixtures are synchronous and use ``asyncio.run`` for the few asyncpg calls, so
they do not depend on pytest-asyncio's event-loop scopes.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import uuid
from collections.abc import Coroutine, Iterator
from typing import Any, TypeVar

import asyncpg
import pytest
from sqlalchemy.engine import make_url

from testkit.pgserver import PostgresNotFound, ci_requires_postgres, postgres_url_for_tests

T = TypeVar("T")

# Shared by reference count, so that importing the fixtures into several modules
# (which gives pytest several fixture definitions) still starts only one cluster.
_server_stack: contextlib.ExitStack | None = None
_server_url: str | None = None
_server_users = 0


def _acquire_server() -> str:
    global _server_stack, _server_url, _server_users
    if _server_url is None:
        stack = contextlib.ExitStack()
        try:
            _server_url = stack.enter_context(postgres_url_for_tests())
        except PostgresNotFound as exc:
            reason = str(exc)
        else:
            reason = ""
        if reason:  # outside the except block: no chained traceback in the report
            if ci_requires_postgres():
                pytest.fail(f"CI is set but PostgreSQL is unavailable: {reason}", pytrace=False)
            pytest.skip(reason)
        _server_stack = stack
    assert _server_url is not None
    _server_users += 1
    return _server_url


def _release_server() -> None:
    global _server_stack, _server_url, _server_users
    _server_users -= 1
    if _server_users == 0 and _server_stack is not None:
        _server_stack.close()
        _server_stack, _server_url = None, None


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """SQLAlchemy async URL of a PostgreSQL database, shared by the whole session.

    Honours ``MITREDEN_TEST_DATABASE_URL`` (use that server) and ``MITREDEN_PG_BIN``.
    Skips if no PostgreSQL is available, but fails instead when ``CI`` is set.
    """
    url = _acquire_server()
    try:
        yield url
    finally:
        _release_server()


def _run(coro: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run``, moved to a worker thread if this thread already runs a loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


def _asyncpg_dsn(url: str) -> str:
    """asyncpg speaks libpq-style DSNs, not SQLAlchemy's ``+asyncpg`` scheme."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


async def _create_database(admin_dsn: str, name: str) -> None:
    conn = await asyncpg.connect(admin_dsn)
    try:
        await conn.execute(f"CREATE DATABASE \"{name}\" ENCODING 'UTF8' TEMPLATE template0")
    finally:
        await conn.close()


async def _drop_database(admin_dsn: str, name: str) -> None:
    """Drop even if a test leaked connections (e.g. an engine that was not disposed)."""
    conn = await asyncpg.connect(admin_dsn)
    try:
        await conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = $1 AND pid <> pg_backend_pid()",
            name,
        )
        force = " WITH (FORCE)" if conn.get_server_version().major >= 13 else ""
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}"{force}')
    finally:
        await conn.close()


@contextlib.contextmanager
def fresh_database(server_url: str) -> Iterator[str]:
    """Create an empty database on the server of ``server_url``; yield its URL; drop it."""
    name = f"t_{uuid.uuid4().hex}"
    admin_dsn = _asyncpg_dsn(server_url)  # CREATE DATABASE works from any database
    _run(_create_database(admin_dsn, name))
    try:
        yield make_url(server_url).set(database=name).render_as_string(hide_password=False)
    finally:
        _run(_drop_database(admin_dsn, name))


@pytest.fixture
def fresh_postgres_database(postgres_server: str) -> Iterator[str]:
    """Async URL of a new, empty database for this test only; dropped afterwards."""
    with fresh_database(postgres_server) as url:
        yield url
