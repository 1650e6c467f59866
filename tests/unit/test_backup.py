"""`mitreden backup` and `mitreden restore`: a backup taken while the bot writes, put back in
another place, holds the resident's item and the Matrix store, and the commands work on it;
what they refuse, and why. The commands run in this process (`tests.cli_support`)."""

from __future__ import annotations

import re
import shutil
import sqlite3
import stat
from collections.abc import AsyncIterator
from contextlib import closing
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import create_engine

from bot.app import App, bootstrap
from bot.config import Settings
from storage.schema import HEAD, alembic_config
from testkit.support import FakeClock, Resident
from tests.cli_support import Cli

IDEA = "Abends mehr Deutschkurse in der Stadtbibliothek"


class Places:
    """`mitreden` pointed at one of the test's data directories (database and Matrix store)."""

    def __init__(
        self, root: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
    ) -> None:
        self.root = root
        self._capsys, self._monkeypatch = capsys, monkeypatch

    def at(self, name: str) -> Cli:
        cli = Cli(self._capsys, self._monkeypatch, url(self.root / name))
        self._monkeypatch.setenv("MITREDEN_MATRIX_STORE_DIR", str(self.root / name / "matrix"))
        self._monkeypatch.setenv("MITREDEN_BOT_LOG_LEVEL", "WARNING")
        return cli


def url(directory: Path) -> str:
    return f"sqlite+aiosqlite:///{directory}/mitreden.db"


@pytest.fixture
def places(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> Places:
    return Places(tmp_path, capsys, monkeypatch)


@pytest.fixture
async def live(settings: Settings, clock: FakeClock, tmp_path: Path) -> AsyncIterator[App]:
    """The bot, running on tmp_path/live: its database open, with a Matrix store beside it."""
    directory = tmp_path / "live"
    wired = await bootstrap(
        replace(settings, database=replace(settings.database, url=url(directory))),
        clock=clock,
        channels=(),
    )
    write_matrix_store(directory / "matrix")
    try:
        yield wired.app
    finally:
        await wired.app.close()


def write_matrix_store(store: Path) -> None:
    """What matrix-nio and the channel keep there: a SQLite key store and the sync position."""
    store.mkdir(parents=True)
    (store / "sync_token").write_text("s72594_4483_1934", encoding="utf-8")
    with closing(sqlite3.connect(store / "@mitreden:example.org_MITREDEN.db")) as keys:
        keys.execute("CREATE TABLE olmsessions (session_id TEXT, pickle TEXT)")
        keys.execute("INSERT INTO olmsessions VALUES ('s1', 'secret-pickle')")
        keys.commit()


def items_in(database: Path) -> int:
    with closing(sqlite3.connect(database)) as connection:
        return int(connection.execute("SELECT count(*) FROM feedback_item").fetchone()[0])


async def test_a_backup_taken_while_the_bot_runs_restores_in_a_fresh_place(
    live: App, settings: Settings, clock: FakeClock, places: Places, tmp_path: Path
) -> None:
    alice = Resident(live.handle, "alice")
    received = re.search(r"F-\d{4}-\d{4}", await alice.submit(IDEA))
    assert received is not None
    reference = received.group(0)
    # The item (the tables, even) is still in the write-ahead log, not yet in mitreden.db: a
    # copy of the file alone would not have it.
    shutil.copy(tmp_path / "live" / "mitreden.db", tmp_path / "file-alone.db")
    with pytest.raises(sqlite3.OperationalError, match="no such table: feedback_item"):
        items_in(tmp_path / "file-alone.db")

    backed_up = await places.at("live").run_async("backup", str(tmp_path / "backup.tar.gz"))

    assert backed_up.code == 0, backed_up.err
    assert "backup of " in backed_up.out and f"(schema {HEAD})" in backed_up.out
    assert (tmp_path / "backup.tar.gz").stat().st_mode & 0o077 == 0  # residents' data
    mitreden = places.at("fresh")
    restored = mitreden("restore", str(tmp_path / "backup.tar.gz"))
    assert restored.code == 0, restored.err
    fresh_journal = tmp_path / "fresh" / "mitreden.erasures.jsonl"
    assert restored.out.endswith(
        f"0 contact(s) erased again; the erasure journal {fresh_journal} records 0 "
        "erasure(s) on request\n"
    )
    fresh = tmp_path / "fresh"
    assert (fresh / "matrix" / "sync_token").read_text(encoding="utf-8") == "s72594_4483_1934"
    with closing(sqlite3.connect(fresh / "matrix" / "@mitreden:example.org_MITREDEN.db")) as keys:
        assert keys.execute("SELECT pickle FROM olmsessions").fetchall() == [("secret-pickle",)]
    current = mitreden("db", "current")
    assert (current.code, current.out) == (0, f"database: {HEAD}; newest shipped: {HEAD}\n")
    report = mitreden("report", "--year", str(clock.now().year), "--output", "-")
    assert report.code == 0, report.err
    # Alice, on the restored database, finds her item.
    wired = await bootstrap(
        replace(settings, database=replace(settings.database, url=url(fresh))),
        clock=clock,
        channels=(),
    )
    try:
        alice_again = Resident(wired.app.handle, "alice")
        await alice_again.command("/status")
        assert reference in alice_again.last_text
    finally:
        await wired.app.close()


async def test_restore_replaces_what_exists_only_with_force(
    live: App, places: Places, tmp_path: Path
) -> None:
    await Resident(live.handle, "alice").submit(IDEA)
    backup = tmp_path / "backup"  # a directory this time
    assert (await places.at("live").run_async("backup", str(backup))).code == 0
    await Resident(live.handle, "bob").submit("Mehr Bänke im Park")
    await live.close()
    mitreden = places.at("live")

    refused = mitreden("restore", str(backup))

    assert refused.code == 2
    assert refused.err.endswith(
        f"mitreden: {tmp_path}/live/mitreden.db and {tmp_path}/live/matrix exist; "
        "stop the bot and add --force to replace it\n"
    )
    assert items_in(tmp_path / "live" / "mitreden.db") == 2
    forced = mitreden("restore", "--force", str(backup))
    assert forced.code == 0, forced.err
    assert items_in(tmp_path / "live" / "mitreden.db") == 1  # bob's came after the backup
    again = mitreden("backup", str(backup))
    assert (again.code, again.err) == (
        2,
        f"mitreden: {backup} exists; a backup is written to a new name\n",
    )


def contacts_in(database: Path) -> list[str]:
    with closing(sqlite3.connect(database)) as connection:
        found = connection.execute("SELECT user_id FROM contact ORDER BY user_id").fetchall()
    return [str(user) for (user,) in found]


async def test_a_restore_erases_again_whoever_asked_forget_after_the_backup(
    live: App, places: Places, clock: FakeClock, tmp_path: Path
) -> None:
    alice, bob = Resident(live.handle, "alice"), Resident(live.handle, "bob")
    await alice.submit(IDEA)
    await bob.submit("Mehr Bänke im Park")
    backup = tmp_path / "backup.tar.gz"
    assert (await places.at("live").run_async("backup", str(backup))).code == 0
    await alice.command("/forget")
    await alice.press("Alles löschen")
    assert "Ihre Daten sind gelöscht" in alice.last_text
    clock.advance(timedelta(days=1))
    await alice.command("/start")  # she writes again: a new contact, which stays
    await live.close()
    database = tmp_path / "live" / "mitreden.db"
    mitreden = places.at("live")

    # Applying the journal to the live database changes nothing: she is erased already.
    again = mitreden("privacy", "reapply")
    assert again.code == 0, again.err
    journal = tmp_path / "live" / "mitreden.erasures.jsonl"
    assert again.out == (
        f"0 contact(s) erased again; the erasure journal {journal} records 1 erasure(s) "
        "on request\n"
    )
    assert contacts_in(database) == ["u-alice", "u-bob"]

    # The backup from before her /forget brings her and her item back; the restore erases
    # them again.
    restored = mitreden("restore", "--force", str(backup))

    assert restored.code == 0, restored.err
    assert restored.out.splitlines()[-1] == (
        f"1 contact(s) erased again; the erasure journal {journal} records 1 erasure(s) on request"
    )
    assert contacts_in(database) == ["u-bob"]
    assert items_in(database) == 1  # bob's
    # The journal holds no name, no account id, no text: one line per erasure.
    (line,) = journal.read_text(encoding="utf-8").splitlines()
    assert "alice" not in line and IDEA not in line
    assert stat.S_IMODE(journal.stat().st_mode) == 0o600


async def test_a_backup_from_a_newer_schema_is_refused(
    live: App, places: Places, tmp_path: Path
) -> None:
    backup = tmp_path / "backup"
    assert (await places.at("live").run_async("backup", str(backup))).code == 0
    with closing(sqlite3.connect(backup / "mitreden.db")) as database:
        database.execute("UPDATE alembic_version SET version_num = '9999'")
        database.commit()

    refused = places.at("fresh")("restore", str(backup))

    assert refused.code == 2
    assert "the backup's database is at schema 9999, newer than this mitreden knows" in (
        refused.err
    )
    assert not (tmp_path / "fresh").exists()


def test_an_older_backup_is_brought_up_by_db_upgrade(places: Places, tmp_path: Path) -> None:
    old = tmp_path / "old"
    old.mkdir()
    config = alembic_config(url(old))
    engine = create_engine(f"sqlite:///{old}/mitreden.db")
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0001")
    engine.dispose()
    assert places.at("old")("backup", str(tmp_path / "old.tgz")).code == 0
    mitreden = places.at("fresh")

    restored = mitreden("restore", str(tmp_path / "old.tgz"))

    assert restored.code == 0, restored.err
    assert f"run `mitreden db upgrade` to bring the schema from 0001 to {HEAD}" in restored.out
    assert mitreden("db", "current").out == f"database: 0001; newest shipped: {HEAD}\n"
    assert mitreden("db", "upgrade").code == 0
    assert mitreden("db", "current").code == 0


def test_postgresql_is_left_to_pg_dump_and_nothing_is_created(
    places: Places, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    postgres = Cli(capsys, monkeypatch, "postgresql+asyncpg://mitreden@localhost/mitreden")
    for args in (("backup", str(tmp_path / "b.tgz")), ("restore", str(tmp_path / "b.tgz"))):
        refused = postgres(*args)
        assert refused.code == 2
        assert "PostgreSQL: back it up with pg_dump and restore it with pg_restore" in refused.err
    missing = places.at("nothing")("backup", str(tmp_path / "b.tgz"))
    assert missing.code == 2
    assert "no database at" in missing.err
    assert sorted(p.name for p in tmp_path.iterdir()) == []
