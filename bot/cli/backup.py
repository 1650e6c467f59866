"""`mitreden backup PATH` and `mitreden restore PATH [--force]`: the SQLite database and the
Matrix store in one archive, taken while the bot runs.

The archive is a directory, or one `.tar.gz` (`.tgz`) file, holding `manifest.json` (format,
time, mitreden version, schema revision), `mitreden.db` (a consistent copy made with SQLite's
online backup API, `storage.backup`) and `matrix/` (the copy of `matrix.store_dir`: the bot's
encryption keys and sync position) when that directory exists. It is written under a
temporary name beside PATH and renamed when complete, so a PATH that exists is a whole backup.

`restore` writes into the database and Matrix store that the configuration names, so a
backup moves to another machine or directory as it is. It refuses to replace what exists
there unless `--force` (stop the bot first), and refuses a backup from a newer schema than
this version knows; an older one is brought up by `mitreden db upgrade` (or the bot's start).
Then it erases again the residents who asked `/forget` after the backup was taken: the
erasure journal beside the database (`storage.erasures`) is in no backup and is not
replaced, so it still names them (a backup from an older schema: after `db upgrade`, with
`mitreden privacy reapply`).
PostgreSQL is left to `pg_dump`/`pg_restore` (README, "Backup and restore").
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import sys
import tarfile
import tempfile
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path, PurePosixPath
from typing import Any

from bot.cli.groups import reapplied_line
from bot.config import Settings
from handlers.public_text import anonymous_text
from storage.backup import (
    BackupError,
    copy_database,
    copy_store,
    is_known_revision,
    restore_database,
    revision_of,
    sqlite_path,
)
from storage.db import Database
from storage.erasures import ErasureJournal, journal_path
from storage.privacy import PrivacyStore
from storage.schema import HEAD

FORMAT = 1
MANIFEST = "manifest.json"
DATABASE = "mitreden.db"
MATRIX_STORE = "matrix"
ARCHIVE_SUFFIXES = (".tar.gz", ".tgz")

BACKUP_HELP = """\
Copy the SQLite database (with SQLite's online backup API: consistent while the
bot runs) and the Matrix store (matrix.store_dir) into PATH, with a manifest:
time, mitreden version, schema revision. PATH is a new directory, or a new
file ending in .tar.gz; either is readable by its owner only. For PostgreSQL,
use pg_dump (README, "Backup and restore")."""
RESTORE_HELP = """\
Put a backup made by `mitreden backup` where the configuration points
(database.url, matrix.store_dir). What is there already is replaced only with
--force: stop the bot first. A backup from a newer schema is refused; one from
an older schema is brought up by `mitreden db upgrade`. Residents who asked
/forget after the backup was taken are erased again (the erasure journal beside
the database is in no backup); for an older schema, run `mitreden privacy
reapply` after `mitreden db upgrade`."""
BACKUP_EXAMPLES = """\
examples:
  mitreden backup /var/backups/mitreden-2026-06-15.tar.gz
  mitreden backup backups/before-upgrade"""
RESTORE_EXAMPLES = """\
examples:
  mitreden restore /var/backups/mitreden-2026-06-15.tar.gz
  mitreden restore --force backups/before-upgrade"""


def add_parsers(commands: argparse._SubParsersAction) -> None:
    """Add `backup` and `restore`; they work on the files, without building the app (which
    would create and migrate the database that `restore` is about to write)."""
    backup = commands.add_parser(
        "backup",
        help="copy the database and the Matrix store into an archive, while the bot runs",
        description=BACKUP_HELP,
        epilog=BACKUP_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    backup.add_argument(
        "path", type=Path, help="a new directory, or a new file ending in .tar.gz or .tgz"
    )
    backup.set_defaults(action=run_backup)
    restore = commands.add_parser(
        "restore",
        help="put a backup made by `mitreden backup` back in place",
        description=RESTORE_HELP,
        epilog=RESTORE_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    restore.add_argument("path", type=Path, help="the backup: a directory or a .tar.gz file")
    restore.add_argument(
        "--force",
        action="store_true",
        help="replace the database and Matrix store that exist (stop the bot first)",
    )
    restore.set_defaults(action=run_restore)


async def run_backup(settings: Settings, args: argparse.Namespace) -> int:
    """Write the archive to `args.path`, which must not exist yet."""
    return await asyncio.to_thread(backup, settings, args.path)


async def run_restore(settings: Settings, args: argparse.Namespace) -> int:
    """Put the archive at `args.path` in the places the configuration names, then erase
    again those who asked /forget since (`reapply_after_restore`)."""
    code = await asyncio.to_thread(restore, settings, args.path, force=args.force)
    if code == 0:
        await reapply_after_restore(settings)
    return code


async def reapply_after_restore(settings: Settings) -> None:
    """Apply the erasure journal to the restored database, when its schema is this
    version's (the erasure works on the newest tables); otherwise say how, after the
    upgrade."""
    database = sqlite_path(settings.database.url)
    journal = journal_path(settings.database.url, Path(settings.data.dir))
    if revision_of(database) != HEAD:
        print(
            "then run `mitreden privacy reapply`: it erases again the residents who asked "
            f"/forget after the backup was taken (recorded in {journal})"
        )
        return
    db = Database(settings.database.url)
    try:
        store = PrivacyStore(db, ErasureJournal(journal))
        done = await store.reapply_erasures(scrub=anonymous_text)
    finally:
        await db.dispose()
    print(reapplied_line(done, journal))


def backup(settings: Settings, target: Path) -> int:
    """`mitreden backup`; returns the exit code."""
    try:
        database = sqlite_path(settings.database.url)
    except BackupError as error:
        return _fail(str(error))
    if target.exists():
        return _fail(f"{target} exists; a backup is written to a new name")
    if not database.is_file():
        return _fail(f"no database at {database} (database.url); nothing to back up")
    target.parent.mkdir(parents=True, exist_ok=True)
    store = Path(settings.matrix.store_dir).expanduser()
    with tempfile.TemporaryDirectory(prefix=f".{target.name}.", dir=target.parent) as work:
        staging = Path(work) / "backup"
        staging.mkdir(mode=0o700)  # residents' data: for the owner only
        try:
            copy_database(database, staging / DATABASE)
        except BackupError as error:
            return _fail(str(error))
        files = copy_store(store, staging / MATRIX_STORE) if store.is_dir() else None
        revision = revision_of(staging / DATABASE)
        manifest = {
            "format": FORMAT,
            "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "mitreden": version("mitreden"),
            "schema_revision": revision,
            "database": DATABASE,
            "matrix_store": MATRIX_STORE if files is not None else None,
        }
        (staging / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
        if _is_archive_file(target):
            packed = Path(work) / "backup.tar.gz"
            with tarfile.open(packed, "w:gz") as archive:
                for path in sorted(staging.iterdir()):
                    archive.add(path, arcname=path.name)
            packed.chmod(0o600)
            packed.rename(target)
        else:
            staging.rename(target)
    store_note = f" and the Matrix store ({files} files)" if files is not None else ""
    print(
        f"backup of {manifest['created_at']} written to {target}: the database "
        f"(schema {revision or 'empty'}){store_note}"
    )
    return 0


def restore(settings: Settings, source: Path, *, force: bool) -> int:
    """`mitreden restore`; returns the exit code."""
    try:
        database = sqlite_path(settings.database.url)
    except BackupError as error:
        return _fail(str(error))
    if not source.exists():
        return _fail(f"no backup at {source}")
    store = Path(settings.matrix.store_dir).expanduser()
    with tempfile.TemporaryDirectory(prefix=".mitreden-restore.") as work:
        try:
            unpacked = _unpack(source, Path(work))
            manifest = _manifest(unpacked)
        except BackupError as error:
            return _fail(str(error))
        revision = revision_of(unpacked / DATABASE)
        if revision is not None and not is_known_revision(revision):
            return _fail(
                f"the backup's database is at schema {revision}, newer than this mitreden "
                f"knows (up to {HEAD}); restore it with mitreden {manifest.get('mitreden')} "
                "or later"
            )
        has_store = manifest.get("matrix_store") is not None
        in_place = [database] if database.exists() else []
        if has_store and store.exists() and any(store.iterdir()):
            in_place.append(store)
        if in_place and not force:
            named = " and ".join(str(path) for path in in_place)
            verb = "exists" if len(in_place) == 1 else "exist"
            return _fail(f"{named} {verb}; stop the bot and add --force to replace it")
        restore_database(unpacked / DATABASE, database)
        if has_store:
            shutil.rmtree(store, ignore_errors=True)
            copy_store(unpacked / MATRIX_STORE, store)
    print(
        f"restored the backup of {manifest.get('created_at')} (mitreden "
        f"{manifest.get('mitreden')}, schema {revision or 'empty'}) to {database}"
        + (f" and {store}" if has_store else "")
    )
    if revision != HEAD:
        print(
            f"run `mitreden db upgrade` to bring the schema from {revision or 'empty'} to {HEAD}"
        )
    return 0


def _is_archive_file(path: Path) -> bool:
    return path.name.endswith(ARCHIVE_SUFFIXES)


def _unpack(source: Path, work: Path) -> Path:
    """The directory holding the archive's files: `source` itself, or where it was unpacked."""
    if source.is_dir():
        return source
    try:
        with tarfile.open(source, "r:*") as archive:
            members = archive.getmembers()
            # Only files and directories inside: checked here, since the `filter` argument
            # that does it is missing from some Python 3.11 releases (Debian 12 has 3.11.2).
            for member in members:
                inside = PurePosixPath(member.name)
                if inside.is_absolute() or ".." in inside.parts:
                    raise BackupError(f"{source}: {member.name!r} points outside the backup")
                if not (member.isfile() or member.isdir()):
                    raise BackupError(f"{source}: {member.name!r} is not a file")
            if hasattr(tarfile, "data_filter"):  # and where it exists, it is asked for
                archive.extractall(work / "backup", members=members, filter="data")
            else:
                archive.extractall(work / "backup", members=members)
    except (tarfile.TarError, OSError) as error:
        raise BackupError(f"{source} is not a backup archive: {error}") from error
    return work / "backup"


def _manifest(unpacked: Path) -> dict[str, Any]:
    try:
        manifest = json.loads((unpacked / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise BackupError(f"not a mitreden backup: {MANIFEST} cannot be read") from error
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise BackupError(f"{MANIFEST}: format {FORMAT} expected; made by a newer mitreden?")
    if not (unpacked / DATABASE).is_file():
        raise BackupError(f"not a mitreden backup: {DATABASE} is missing")
    return manifest


def _fail(message: str) -> int:
    print(f"mitreden: {message}", file=sys.stderr)
    return 2
