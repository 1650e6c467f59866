"""The erasure journal: which contacts asked `/forget`, kept where a restore cannot undo it.

A restored backup is the database as it was: a resident erased after the backup was taken is
back in it. A record of the erasure inside the same database would be rolled back with it,
so the record is a small append-only file outside it, beside the SQLite database
(`mitreden.erasures.jsonl` next to `mitreden.db`) or, for PostgreSQL, in the data
directory. `mitreden backup` does not copy it and `mitreden restore` does not write it: after
a restore it still holds every erasure, and `PrivacyStore.reapply_erasures` erases those
contacts again.

One JSON line per erased contact: its number in the database, when that contact was
created, when it was erased, and whether its items went or stayed as anonymous texts. No
name, no platform id, no text: a line says which row to erase, and only a database (or a
backup) that still holds the row can tell whose it was. The number and the creation time
together name the row exactly: SQLite may give a freed number to the next new contact, but
not its creation time, and a person who writes again after `/forget` is a new contact that
a re-application leaves alone.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from storage.db import sqlite_file

logger = logging.getLogger(__name__)

JOURNAL_SUFFIX = ".erasures.jsonl"
JOURNAL_FILE = "erasures.jsonl"  # in the data directory, when the database has no file
DELETED, KEPT_ANONYMOUS = "deleted", "kept_anonymous"


def journal_path(database_url: str, data_dir: Path) -> Path:
    """Where the erasures of the database at `database_url` are recorded: beside its SQLite
    file (`mitreden.db` → `mitreden.erasures.jsonl`), else in `data_dir`."""
    database = sqlite_file(database_url)
    if database is not None:
        return database.with_name(database.stem + JOURNAL_SUFFIX)
    return data_dir / JOURNAL_FILE


@dataclass(frozen=True, slots=True)
class ErasureRecord:
    contact_id: int
    created_at: datetime  # the contact's: with the id, it names the row exactly
    erased_at: datetime
    keep_items_anonymous: bool


class ErasureJournal:
    """The append-only file of `ErasureRecord`s. Its calls block (a write is flushed to the
    disk before it returns): run them on a thread."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def add(self, records: Sequence[ErasureRecord]) -> None:
        """Append `records`, on the disk when this returns. The file and its directory are
        made for their owner only, like the database beside them.

        Raises:
            OSError: when the file cannot be written.
        """
        if not records:
            return
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        lines = "".join(json.dumps(_line(record)) + "\n" for record in records)
        descriptor = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        with os.fdopen(descriptor, "a", encoding="utf-8") as journal:
            journal.write(lines)
            journal.flush()
            os.fsync(journal.fileno())

    def list_records(self) -> list[ErasureRecord]:
        """Every record, oldest first; none when there is no journal yet. A line that cannot
        be read (the torn end of a write cut by a crash) is logged and left out."""
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return []
        records = []
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                values = json.loads(line)
                records.append(
                    ErasureRecord(
                        contact_id=int(values["contact"]),
                        created_at=datetime.fromisoformat(values["created_at"]),
                        erased_at=datetime.fromisoformat(values["erased_at"]),
                        keep_items_anonymous=values["items"] == KEPT_ANONYMOUS,
                    )
                )
            except (ValueError, KeyError, TypeError) as error:
                logger.warning(
                    "erasure journal %s: line %d unreadable (%s), skipped",
                    self.path,
                    number,
                    type(error).__name__,
                )
        return records


def _line(record: ErasureRecord) -> dict[str, object]:
    return {
        "contact": record.contact_id,
        "created_at": record.created_at.isoformat(),
        "erased_at": record.erased_at.isoformat(),
        "items": KEPT_ANONYMOUS if record.keep_items_anonymous else DELETED,
    }
