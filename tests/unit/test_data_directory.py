"""One data directory for the bot's database and Matrix store, and administrators' commands
that never make a new, empty database by mistake (issue 16, item 2).

What the administrator sees (exit code, the line on standard error, the files on disk), through
`mitreden ARGS` run in this process (`tests.cli_support`).
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from tests.cli_support import Cli

HOW_TO_CREATE = (
    "create it with `mitreden db upgrade`, or point --data-dir (MITREDEN_DATA_DIR) or "
    "database.url at the bot's database"
)
# Commands that work on the bot's database and must not create one.
ON_THE_DATABASE = [
    ("report", "--year", "2026", "--format", "md"),
    ("group", "list"),
    ("event", "list"),
    ("privacy", "purge", "--dry-run"),
    ("broadcast", "--to", "all", "--yes", "--no-wait", "Das Büro ist geschlossen."),
    ("db", "current"),
]


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An administrator's home directory, with no state directory chosen by the system."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    for name in ("STATE_DIRECTORY", "XDG_STATE_HOME"):
        monkeypatch.delenv(name, raising=False)
    return home


@pytest.fixture
def mitreden(
    home: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> Cli:
    """`mitreden --config config.example.toml ARGS` with no database URL and no data
    directory set: the defaults an installed command has."""
    cli = Cli(capsys, monkeypatch, "unused")
    monkeypatch.delenv("MITREDEN_DATABASE_URL")
    return cli


def test_a_command_run_from_another_directory_refuses_instead_of_making_a_database(
    mitreden: Cli, home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    state = home / ".local/state/mitreden"

    for args in ON_THE_DATABASE:
        refused = mitreden(*args)

        assert refused.code == 2, (args, refused.err)
        assert refused.err.splitlines()[-1] == (
            f"mitreden: no database at {state}/mitreden.db; {HOW_TO_CREATE}"
        ), args
        assert "Traceback" not in refused.err
        assert refused.out == ""
    assert not state.exists()  # not even the directory
    assert list(elsewhere.iterdir()) == []  # and no ./var/mitreden.db either

    created = mitreden("db", "upgrade")
    assert created.code == 0, created.err
    assert (state / "mitreden.db").is_file()
    listed = mitreden("group", "list")
    assert listed.code == 0, listed.err
    assert "ag-integration (default): AG Integration" in listed.out


def test_every_command_says_which_database_it_uses(mitreden: Cli, home: Path) -> None:
    state = home / ".local/state/mitreden"
    done = mitreden("db", "upgrade")
    first = done.err.splitlines()[0]
    assert f"data directory {state}; database sqlite+aiosqlite:///{state}/mitreden.db" in first


def test_the_data_directory_option_and_variable_hold_database_and_matrix_store(
    mitreden: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = tmp_path / "srv" / "mitreden"
    created = mitreden("--data-dir", str(data), "db", "upgrade")
    assert created.code == 0, created.err
    assert (data / "mitreden.db").is_file()

    refused = mitreden("group", "list")  # the default data directory holds nothing
    monkeypatch.setenv("MITREDEN_DATA_DIR", str(data))
    listed = mitreden("group", "list")

    assert refused.code == 2
    assert (listed.code, listed.err.count("Traceback")) == (0, 0)
    assert f"database sqlite+aiosqlite:///{data}/mitreden.db" in listed.err
    assert "ag-integration (default)" in listed.out


def test_demo_fills_a_database_of_its_own_and_may_create_it(mitreden: Cli, tmp_path: Path) -> None:
    data = tmp_path / "demo"
    done = mitreden("--data-dir", str(data), "demo", "--year", "2025", "--items", "3")
    assert done.code == 0, done.err
    assert done.out.startswith("added ")
    assert (data / "mitreden.db").is_file()


@pytest.mark.postgres
def test_a_postgres_database_without_the_schema_is_refused_naming_it_without_password(
    mitreden: Cli, fresh_postgres_database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A database just made with `createdb`: the command says so, and creates no tables."""
    password = "Geheim-fuer-den-Test"  # the test server trusts any: only the URL shows it
    url = make_url(fresh_postgres_database).set(password=password)
    monkeypatch.setenv("MITREDEN_DATABASE_URL", url.render_as_string(hide_password=False))
    shown = url.render_as_string(hide_password=True)

    refused = mitreden("group", "list")
    again = mitreden("group", "list")
    created = mitreden("db", "upgrade")
    listed = mitreden("group", "list")

    assert refused.code == 2
    assert refused.err.splitlines()[-1] == (
        f"mitreden: the database {shown} holds no mitreden data yet; {HOW_TO_CREATE}"
    )
    assert (again.code, again.err.splitlines()[-1]) == (2, refused.err.splitlines()[-1])
    assert f"database {shown}" in refused.err.splitlines()[0]
    assert password not in refused.err
    assert (created.code, listed.code) == (0, 0)
    assert "ag-integration (default)" in listed.out


def test_the_data_directory_and_database_are_for_their_owner_only(
    mitreden: Cli, home: Path
) -> None:
    """Residents' data: 0700 and 0600 whatever the umask (0022 here, the usual one)."""
    state = home / ".local/state/mitreden"
    previous = os.umask(0o022)
    try:
        created = mitreden("db", "upgrade")
        assert created.code == 0, created.err
        shell = mitreden("shell", "--as", "alice", stdin="Mehr Bänke im Park\n")
        assert shell.code == 0, shell.err
    finally:
        os.umask(previous)

    assert stat.S_IMODE(state.stat().st_mode) == 0o700
    assert stat.S_IMODE((state / "mitreden.db").stat().st_mode) == 0o600
