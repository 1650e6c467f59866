"""Files from Matrix rooms, and the saved sync position."""

from __future__ import annotations

import logging
import os
from pathlib import Path

from aiohttp import ClientError
from nio import AsyncClient, DownloadResponse
from nio.crypto.attachments import decrypt_attachment

from bot.channels.matrix.map import FileToFetch

logger = logging.getLogger(__name__)

TOKEN_FILE = "sync_token"
NETWORK_ERRORS = (ClientError, TimeoutError, ConnectionError, OSError)


class SyncTokens:
    """The last handled sync position, in the store directory next to the keys."""

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


async def download(client: AsyncClient, wanted: FileToFetch) -> bytes | None:
    """The file's bytes, decrypted if it came encrypted; None when that fails."""
    try:
        response = await client.download(mxc=wanted.url)
    except NETWORK_ERRORS as error:
        logger.warning("matrix: download failed: %s", type(error).__name__)
        return None
    if not isinstance(response, DownloadResponse) or not isinstance(response.body, bytes):
        logger.warning("matrix: download failed: %s", response)
        return None
    if wanted.encryption is None:
        return response.body
    keys = wanted.encryption
    try:
        return bytes(
            decrypt_attachment(
                response.body, keys["key"]["k"], keys["hashes"]["sha256"], keys["iv"]
            )
        )
    except Exception as error:  # a malformed or tampered attachment
        logger.warning("matrix: attachment not decrypted: %s", type(error).__name__)
        return None
