"""`mitreden group add|edit|list` and `mitreden coordinator add|remove` on
config.example.toml and a SQLite file, what the administrator sees of them (exit code, output),
and their effect on a bot that is already running. The commands run in this process
(`tests.cli_support`); the installed `mitreden` command itself is tested once, at the end."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import pytest

from bot.app import App, bootstrap
from bot.config import Settings
from testkit.support import EXAMPLE_CONFIG, ROOT, FakeClock, Resident
from tests.cli_support import Cli

NOT_A_COORDINATOR = "Diesen Befehl können nur Koordinator:innen einer Arbeitsgruppe verwenden."


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path}/cli.db"


@pytest.fixture
def mitreden(
    database_url: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> Cli:
    """Run `mitreden --config config.example.toml ARGS` on the test's database, made as an
    administrator makes it (the commands below create none)."""
    cli = Cli(capsys, monkeypatch, database_url)
    monkeypatch.setenv("MITREDEN_BOT_LOG_LEVEL", "WARNING")
    assert cli("db", "upgrade").code == 0
    return cli


@pytest.fixture
async def running(settings: Settings, clock: FakeClock, database_url: str) -> AsyncIterator[App]:
    """A bot already built (and migrated) on the database the command line changes."""
    wired = await bootstrap(
        replace(settings, database=replace(settings.database, url=database_url)),
        clock=clock,
        channels=(),
    )
    app = wired.app
    try:
        yield app
    finally:
        await app.close()


def block(out: str, key: str) -> str:
    """The lines `group list` prints for one group."""
    lines = out.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(f"{key}"))
    return "\n".join(lines[start : start + 4])


def test_group_add_edit_list_and_coordinators(mitreden: Cli) -> None:
    added = mitreden(
        "group", "add", "uag-sonstiges", "--name", "Unter-AG Sonstiges",
        "--fields", "sonstiges", "--answer-days", "7",
    )  # fmt: skip
    assert (added.code, added.out) == (0, "group uag-sonstiges saved\n")
    assert mitreden("coordinator", "add", "uag-sonstiges", "telegram:123").out == (
        "telegram:123 now coordinates uag-sonstiges\n"
    )
    again = mitreden("coordinator", "add", "uag-sonstiges", "telegram:123")
    assert (again.code, again.out) == (0, "telegram:123 already coordinates uag-sonstiges\n")
    edited = mitreden("group", "edit", "uag-sonstiges", "--answer-days", "10")

    listed = mitreden("group", "list")

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

    removed = mitreden("coordinator", "remove", "uag-sonstiges", "telegram:123")
    assert (removed.code, removed.out) == (0, "telegram:123 no longer coordinates uag-sonstiges\n")
    gone = mitreden("coordinator", "remove", "uag-sonstiges", "telegram:123")
    assert gone.code == 2
    assert gone.err.endswith("mitreden: telegram:123 does not coordinate uag-sonstiges\n")


MISTAKES = [
    (("group", "add", "uag-bildung", "--name", "X"), "group 'uag-bildung' exists"),
    (("group", "edit", "uag-nirgends", "--name", "X"), "no group 'uag-nirgends'"),
    (("group", "add", "uag-x", "--name", "X", "--fields", "mond"), "no field of action 'mond'"),
    (("coordinator", "add", "uag-nirgends", "telegram:1"), "no group 'uag-nirgends'"),
    (("coordinator", "add", "uag-bildung", "telegram"), "must look like platform:user_id"),
]


def test_mistakes_are_refused_with_exit_code_2(mitreden: Cli) -> None:
    before = mitreden("group", "list")
    for args, error in MISTAKES:
        result = mitreden(*args)
        assert result.code == 2, args
        assert result.err.splitlines()[-1].startswith("mitreden: "), result.err
        assert error in result.err, (args, result.err)
    assert mitreden("group", "list") == before  # refused, so nothing changed


async def test_changes_reach_a_running_bot_without_restart(running: App, mitreden: Cli) -> None:
    cora = Resident(running.handle, "cora")
    await cora.command("/pending")
    assert cora.last_text == NOT_A_COORDINATOR

    assert mitreden("coordinator", "add", "uag-bildung", "telegram:u-cora").code == 0
    await cora.command("/pending")
    assert cora.last_text == "Keine offenen Rückmeldungen."

    # A new group that owns a field no configured group owns: new items go there at once.
    added = mitreden(
        "group", "add", "uag-sonstiges", "--name", "Unter-AG Sonstiges", "--fields", "sonstiges"
    )
    assert added.code == 0
    assert mitreden("coordinator", "add", "uag-sonstiges", "telegram:u-cora").code == 0
    rosa = Resident(running.handle, "rosa")
    answer = await rosa.submit("Mehr Bänke im Park", field="Sonstiges")
    assert "Weitergeleitet an: Unter-AG Sonstiges" in answer
    await cora.command("/pending uag-sonstiges")
    assert cora.last_text.splitlines()[1].startswith("F-2026-0001 · Vorschlag · Sonstiges")

    assert mitreden("coordinator", "remove", "uag-bildung", "telegram:u-cora").code == 0
    assert mitreden("coordinator", "remove", "uag-sonstiges", "telegram:u-cora").code == 0
    await cora.command("/pending")
    assert cora.last_text == NOT_A_COORDINATOR


ENTRY = [str(Path(sys.executable).with_name("mitreden"))]  # the installed command


def test_the_installed_command_exits_with_its_codes(tmp_path: Path) -> None:
    """The `mitreden` entry point itself, in a process of its own: what a shell script or
    systemd sees (exit code, standard output, the refusal on standard error)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MITREDEN_")}
    env["MITREDEN_DATABASE_URL"] = f"sqlite+aiosqlite:///{tmp_path}/cli.db"
    env["MITREDEN_BOT_LOG_LEVEL"] = "WARNING"  # standard error: the refusals alone

    def mitreden(*args: str) -> subprocess.CompletedProcess[str]:
        command = [
            str(Path(sys.executable).with_name("mitreden")),
            "--config",
            str(EXAMPLE_CONFIG),
        ]
        return subprocess.run(
            [*command, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
        )

    created = mitreden("db", "upgrade")
    listed = mitreden("group", "list")
    refused = mitreden("coordinator", "add", "uag-nirgends", "telegram:1")
    version = mitreden("--version")
    # `mitreden group list | head -1`: the reader is gone before the first line is written.
    piped = subprocess.Popen(
        [*ENTRY, "--config", str(EXAMPLE_CONFIG), "group", "list"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert piped.stdout is not None and piped.stderr is not None
    piped.stdout.close()
    closed_pipe_errors = piped.stderr.read()
    piped.wait(timeout=60)

    assert created.returncode == 0, created.stderr
    assert listed.returncode == 0, listed.stderr
    assert "ag-integration (default): AG Integration" in listed.stdout
    assert refused.returncode == 2
    assert refused.stderr.endswith(
        "mitreden: no group 'uag-nirgends'; `mitreden group list` shows them\n"
    )
    assert version.returncode == 0 and version.stdout.startswith("mitreden 0.")
    # As a shell tool ends on a closed pipe: quietly, with 128 + SIGPIPE.
    assert (piped.returncode, closed_pipe_errors) == (141, "")
