"""The saved sync position: where the next sync after a restart starts."""

from __future__ import annotations

import os
from pathlib import Path

TOKEN_FILE = "sync_token"


class SyncTokens:
    """The last handled sync position, in the store directory next to the keys.

    Saved only after every event of a sync was handled, and written to a temporary file
    that replaces the old one, so a crash leaves either the old position or the new one.
    """

    def __init__(self, store_dir: Path) -> None:
        self._path = store_dir / TOKEN_FILE

    def load(self) -> str | None:
        try:
            return self._path.read_text(encoding="utf-8").strip() or None
        except FileNotFoundError:
            return None

    def save(self, token: str) -> None:
        partial = self._path.with_suffix(".tmp")
        with partial.open("w", encoding="utf-8") as out:
            out.write(token)
            out.flush()
            os.fsync(out.fileno())
        partial.replace(self._path)
