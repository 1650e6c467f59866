"""`mitreden group add|edit|list` and `mitreden coordinator add|remove`, run as the
administrator runs them (a subprocess on config.example.toml and a SQLite file), and their
effect on a bot that is already running."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path

import pytest

from bot.app import App, build_app
from bot.config import Settings
from testkit.support import EXAMPLE_CONFIG, ROOT, FakeClock, Resident

Cli = Callable[..., Awaitable["Result"]]
NOT_A_COORDINATOR = "Diesen Befehl können nur Koordinator:innen einer Arbeitsgruppe verwenden."


@dataclass
class Result:
    code: int
    out: str
    err: str


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path}/cli.db"


async def run_cli(database_url: str, *args: str) -> Result:
    env = {
        **os.environ,
        "MITREDEN_DATABASE_URL": database_url,
        "MITREDEN_BOT_LOG_LEVEL": "WARNING",
    }
    env.pop("MITREDEN_CONFIG", None)
    done = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "bot", "--config", str(EXAMPLE_CONFIG), *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    return Result(done.returncode, done.stdout, done.stderr)


@pytest.fixture
def mitreden(database_url: str) -> Callable[..., Awaitable[Result]]:
    """Run `mitreden --config config.example.toml ARGS` on the test's database."""
    return partial(run_cli, database_url)


@pytest.fixture
async def running(settings: Settings, clock: FakeClock, database_url: str) -> AsyncIterator[App]:
    """A bot already built (and migrated) on the database the command line changes."""
    app = await build_app(
        replace(settings, database=replace(settings.database, url=database_url)), clock=clock
    )
    try:
        yield app
    finally:
        await app.close()


def block(out: str, key: str) -> str:
    """The lines `group list` prints for one group."""
    lines = out.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(f"{key}"))
    return "\n".join(lines[start : start + 4])


async def test_group_add_edit_list_and_coordinators(mitreden: Cli) -> None:
    added = await mitreden(
        "group", "add", "uag-sonstiges", "--name", "Unter-AG Sonstiges",
        "--fields", "sonstiges", "--answer-days", "7",
    )  # fmt: skip
    assert (added.code, added.out) == (0, "group uag-sonstiges saved\n")
    assert (await mitreden("coordinator", "add", "uag-sonstiges", "telegram:123")).out == (
        "telegram:123 now coordinates uag-sonstiges\n"
    )
    again = await mitreden("coordinator", "add", "uag-sonstiges", "telegram:123")
    assert (again.code, again.out) == (0, "telegram:123 already coordinates uag-sonstiges\n")
    edited = await mitreden("group", "edit", "uag-sonstiges", "--answer-days", "10")

    listed = await mitreden("group", "list")

    assert edited.code == 0 and listed.code == 0
    assert block(listed.out, "uag-sonstiges") == (
        "uag-sonstiges: Unter-AG Sonstiges; answer within 10 days\n"
        "  fields: sonstiges\n"
        "  coordinators: telegram:123\n"
        "  chats: -"
    )
    assert block(listed.out, "ag-integration").startswith(
        "ag-integration (default): AG Integration; answer within 14 days"
    )
    assert "  fields: bildung\n" in block(listed.out, "uag-bildung")

    removed = await mitreden("coordinator", "remove", "uag-sonstiges", "telegram:123")
    assert (removed.code, removed.out) == (0, "telegram:123 no longer coordinates uag-sonstiges\n")
    gone = await mitreden("coordinator", "remove", "uag-sonstiges", "telegram:123")
    assert gone.code == 2
    assert gone.err.endswith("mitreden: telegram:123 does not coordinate uag-sonstiges\n")


MISTAKES = [
    (("group", "add", "uag-bildung", "--name", "X"), "group 'uag-bildung' exists"),
    (("group", "edit", "uag-nirgends", "--name", "X"), "no group 'uag-nirgends'"),
    (("group", "add", "uag-x", "--name", "X", "--fields", "mond"), "no field of action 'mond'"),
    (("coordinator", "add", "uag-nirgends", "telegram:1"), "no group 'uag-nirgends'"),
    (("coordinator", "add", "uag-bildung", "telegram"), "must look like platform:user_id"),
]


async def test_mistakes_are_refused_with_exit_code_2(tmp_path: Path) -> None:
    results = await asyncio.gather(
        *(
            run_cli(f"sqlite+aiosqlite:///{tmp_path}/mistake-{n}.db", *args)
            for n, (args, _) in enumerate(MISTAKES)
        )
    )
    for (args, error), result in zip(MISTAKES, results, strict=True):
        assert result.code == 2, args
        assert result.err.splitlines()[-1].startswith("mitreden: "), result.err
        assert error in result.err, (args, result.err)


async def test_changes_reach_a_running_bot_without_restart(running: App, mitreden: Cli) -> None:
    cora = Resident(running.handle, "cora")
    await cora.command("/pending")
    assert cora.last_text == NOT_A_COORDINATOR

    assert (await mitreden("coordinator", "add", "uag-bildung", "telegram:u-cora")).code == 0
    await cora.command("/pending")
    assert cora.last_text == "Keine offenen Rückmeldungen."

    # A new group that owns a field no configured group owns: new items go there at once.
    added = await mitreden(
        "group", "add", "uag-sonstiges", "--name", "Unter-AG Sonstiges", "--fields", "sonstiges"
    )
    assert added.code == 0
    assert (await mitreden("coordinator", "add", "uag-sonstiges", "telegram:u-cora")).code == 0
    rosa = Resident(running.handle, "rosa")
    answer = await rosa.submit("Mehr Bänke im Park", field="Sonstiges")
    assert "Weitergeleitet an: Unter-AG Sonstiges" in answer
    await cora.command("/pending uag-sonstiges")
    assert cora.last_text.splitlines()[1].startswith("F-2026-0001 · Vorschlag · sonstiges")

    assert (await mitreden("coordinator", "remove", "uag-bildung", "telegram:u-cora")).code == 0
    assert (await mitreden("coordinator", "remove", "uag-sonstiges", "telegram:u-cora")).code == 0
    await cora.command("/pending")
    assert cora.last_text == NOT_A_COORDINATOR
