"""Shared fixtures: a fake clock, both database backends, the wired app and a resident."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from bot.app import App, bootstrap
from bot.config import Settings, load_settings
from storage.db import Database
from testkit.support import EXAMPLE_CONFIG, FakeClock, Resident, coordination_settings
from tests.pg_fixtures import fresh_postgres_database, postgres_server  # noqa: F401


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(scope="session")
def settings() -> Settings:
    """config.example.toml, read without the environment of the machine running the tests."""
    return load_settings(EXAMPLE_CONFIG, environ={})


def sqlite_url(directory: Path) -> str:
    return f"sqlite+aiosqlite:///{directory}/t.db"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def backend_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The URL of an empty database on each backend."""
    if request.param == "postgres":
        return str(request.getfixturevalue("fresh_postgres_database"))
    return sqlite_url(tmp_path)


@pytest.fixture
async def backend(backend_url: str) -> AsyncIterator[Database]:
    """A ready database with every table, on SQLite and on PostgreSQL."""
    db = Database(backend_url)
    await db.create_all()
    try:
        yield db
    finally:
        await db.dispose()


@pytest.fixture
async def app(settings: Settings, clock: FakeClock, tmp_path: Path) -> AsyncIterator[App]:
    """The real app from config.example.toml on a temporary SQLite file, as
    `bot.app.bootstrap` wires it; no channel runs: tests talk to `App.handle`."""
    db = Database(sqlite_url(tmp_path))
    await db.create_all()
    built = (await bootstrap(settings, clock=clock, db=db, migrate=False, channels=())).app
    try:
        yield built
    finally:
        await built.close()


@pytest.fixture
def alice(app: App) -> Resident:
    return Resident(app.handle, "alice")


@pytest.fixture
def bob(app: App) -> Resident:
    return Resident(app.handle, "bob")


def pytest_configure(config: pytest.Config) -> None:
    # sqlmodel nags about `session.execute()`, which storage/ uses on purpose for UPDATE,
    # DELETE and INSERT ... RETURNING; the nag would bury real warnings.
    config.addinivalue_line(
        "filterwarnings", "ignore:(?s).*You probably want to use `session.exec:DeprecationWarning"
    )


@pytest.fixture
async def make_app(
    settings: Settings, clock: FakeClock, tmp_path: Path
) -> AsyncIterator[Callable[..., Awaitable[App]]]:
    """Build apps from changed settings, each on its own temporary SQLite file."""
    built: list[App] = []

    async def make(changed: Settings | None = None) -> App:
        db = Database(f"sqlite+aiosqlite:///{tmp_path}/app-{len(built)}.db")
        await db.create_all()
        try:
            wired = await bootstrap(
                changed or settings, clock=clock, db=db, migrate=False, channels=()
            )
            made = wired.app
        except BaseException:
            await db.dispose()
            raise
        built.append(made)
        return made

    try:
        yield make
    finally:
        for made in built:
            await made.close()


@pytest.fixture
async def coordination(make_app: Callable[..., Awaitable[App]], settings: Settings) -> App:
    """The app with coordinators, notification chats and an administrator (testkit.support)."""
    return await make_app(coordination_settings(settings))
