"""Copies of SQLite databases that are consistent while the bot writes to them.

`mitreden backup` and `mitreden restore` (bot/cli/backup.py) pack and unpack the archive;
the copying of databases is here, with all other database code. A plain file copy of a live
SQLite database is not a backup: the bot keeps its newest transactions in the write-ahead
log (`-wal`) until a checkpoint moves them into the file, and a copy taken during a write is
torn. SQLite's online backup API (`sqlite3.Connection.backup`) copies every page in one
step inside one read transaction, so the copy is the database as it was at one instant,
write-ahead log included, and the bot's writers are not held up (WAL readers block none).
The Matrix store (matrix-nio's encryption keys, also in SQLite) is copied the same way.

PostgreSQL has its own tools for this (`pg_dump`, `pg_restore`): `sqlite_path` refuses other
URLs with a message that names them.
"""

from __future__ import annotations

import logging
import shutil
import sqlite3
from contextlib import closing
from pathlib import Path

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from storage.db import SQLITE_BUSY_TIMEOUT_MS, prepare_sqlite_file
from storage.schema import VERSION_TABLE, alembic_config

logger = logging.getLogger(__name__)

SQLITE_HEADER = b"SQLite format 3\x00"
# A database's companions: a copy made through the backup API holds their content already.
SIDE_FILES = ("-wal", "-shm", "-journal")


class BackupError(Exception):
    """A backup or restore that cannot be done here; the message says why and what instead."""


def sqlite_path(url: str) -> Path:
    """The file of the SQLite database at `url`.

    Raises:
        BackupError: for PostgreSQL (naming pg_dump/pg_restore), or a database without a file.
    """
    try:
        parsed = make_url(url)
    except ArgumentError as error:
        raise BackupError("database.url cannot be read") from error
    backend = parsed.get_backend_name()
    if backend == "postgresql":
        raise BackupError(
            "the database is PostgreSQL: back it up with pg_dump and restore it with "
            "pg_restore (README, 'Backup and restore'); `mitreden backup` copies SQLite only"
        )
    if backend != "sqlite" or not parsed.database or parsed.database == ":memory:":
        raise BackupError(f"database.url names no SQLite file ({backend}); nothing to copy")
    return Path(parsed.database).expanduser()


def is_sqlite_file(path: Path) -> bool:
    """Whether `path` is a SQLite database (by its header, not its name)."""
    try:
        with path.open("rb") as file:
            return file.read(len(SQLITE_HEADER)) == SQLITE_HEADER
    except OSError:
        return False


def copy_database(source: Path, target: Path) -> None:
    """Copy the SQLite database `source` to the new file `target`, consistently, while other
    processes may be writing to it; the copy is one self-contained file (rollback journal,
    not WAL), checked with `PRAGMA quick_check`.

    Raises:
        BackupError: when `source` does not exist or the copy fails its check.
    """
    if not source.is_file():
        raise BackupError(f"no database at {source}")
    # mode=rw: never create an empty database where the real one was expected.
    with (
        closing(sqlite3.connect(f"{source.resolve().as_uri()}?mode=rw", uri=True)) as origin,
        closing(sqlite3.connect(target)) as copy,
    ):
        origin.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        origin.backup(copy)  # all pages in one step: one read transaction, one instant
        copy.execute("PRAGMA journal_mode=DELETE")
        check = copy.execute("PRAGMA quick_check").fetchone()[0]
    if check != "ok":
        raise BackupError(f"the copy of {source} failed its check: {check}")


def restore_database(source: Path, target: Path) -> None:
    """Write the database `source` (a copy made by `copy_database`) into `target`.

    Through the backup API as well: it replaces an existing database page by page under
    SQLite's own lock, together with its write-ahead log, where deleting the file could
    leave a stale `-wal` behind that SQLite would replay into the restored one.
    """
    prepare_sqlite_file(str(target))  # the owner's only, as the bot makes its database
    with (
        closing(sqlite3.connect(f"{source.resolve().as_uri()}?mode=ro", uri=True)) as origin,
        closing(sqlite3.connect(target)) as destination,
    ):
        destination.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        origin.backup(destination)
    logger.info("database restored into %s", target)


def copy_store(source: Path, target: Path) -> int:
    """Copy the directory `source` to the new directory `target`: its SQLite databases
    through `copy_database`, other files as they are, their side files (`-wal`, ...) not.

    Returns:
        How many files were copied.
    """
    copied = 0
    target.mkdir(parents=True)
    for path in sorted(source.rglob("*")):
        destination = target / path.relative_to(source)
        if path.is_dir():
            destination.mkdir(exist_ok=True)
        elif path.name.endswith(SIDE_FILES) and Path(str(path).rsplit("-", 1)[0]).is_file():
            continue
        elif is_sqlite_file(path):
            copy_database(path, destination)
            copied += 1
        else:
            shutil.copy2(path, destination)
            copied += 1
    return copied


def revision_of(path: Path) -> str | None:
    """The schema revision of the SQLite database at `path`; None when it has none yet."""
    with closing(sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)) as database:
        found = database.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name = ?", (VERSION_TABLE,)
        ).fetchone()
        if found is None:
            return None
        row = database.execute(f"SELECT version_num FROM {VERSION_TABLE}").fetchone()
    return str(row[0]) if row else None


def is_known_revision(revision: str) -> bool:
    """Whether this version of mitreden ships the migration `revision` (a database from a
    newer version has one it does not know, and cannot be downgraded by it)."""
    from alembic.script import ScriptDirectory

    scripts = ScriptDirectory.from_config(alembic_config("sqlite://"))
    return revision in {script.revision for script in scripts.walk_revisions()}
