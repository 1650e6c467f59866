"""Files from Matrix rooms: downloaded, and decrypted when they came encrypted."""

from __future__ import annotations

import logging

from aiohttp import ClientError
from nio import AsyncClient, DownloadResponse
from nio.crypto.attachments import decrypt_attachment

from bot.channels.matrix.map import FileToFetch

logger = logging.getLogger(__name__)

NETWORK_ERRORS = (ClientError, TimeoutError, ConnectionError, OSError)


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
