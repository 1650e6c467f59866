"""Replies and proactive messages into Matrix rooms, nio's error values as `SendError`s.

Every event is sent with a transaction id the homeserver deduplicates (per device): a send
repeated with the same id gets the first send's event back instead of a second message. For
an outbox row it is derived from the row's idempotency key; for a direct reply from the event
it answers and its place among the answers (`reply_base`), so a message handled again after
a restart (the bot died before it saved the sync position) is not answered twice, and a
reply retried in place is not sent twice. Encrypted rooms are sent to every device of their
members, verified or not (`ignore_unverified_devices`): residents do not verify a city's
bot, and refusing to send would leave them without an answer.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import ClientError
from nio import (
    AsyncClient,
    ErrorResponse,
    LocalProtocolError,
    RoomSendResponse,
    SendRetryError,
    UploadResponse,
)

from bot.channels.matrix.map import ChoiceMemory, file_content, text_content
from bot.delivery.sending import (
    CountSend,
    RateLimited,
    Rejected,
    SendError,
    TemporaryFailure,
    Unreachable,
    send_result,
)
from handlers.messages import Attachment, Reply

logger = logging.getLogger(__name__)

DIRECT_ATTEMPTS = 5  # a direct reply is tried this often before it is given up
RETRY_CAP = 30.0  # longest wait in place between two attempts of a direct reply
READY_WAIT = 30.0  # how long a proactive send waits for the channel's first sync
UNREACHABLE_CODES = {"M_FORBIDDEN", "M_NOT_FOUND", "M_USER_DEACTIVATED"}
NETWORK_ERRORS = (ClientError, TimeoutError, ConnectionError, SendRetryError)

Sleep = Callable[[float], Awaitable[None]]


def txn_id(base: str, part: int) -> str:
    """The transaction id of the `part`-th event of one message."""
    return f"mitreden-{base}-{part}"


def txn_base(key: str) -> str:
    """A stable transaction id stem for an outbox row's idempotency key."""
    return hashlib.sha256(key.encode()).hexdigest()[:32]


def reply_base(event_id: str, index: int) -> str:
    """The transaction id stem of the `index`-th reply to the event `event_id`: the same on
    every handling of that event."""
    return txn_base(f"{event_id}:{index}")


def send_error(response: ErrorResponse) -> SendError:
    """What a nio error response means for the one who sent."""
    status = getattr(response.transport_response, "status", None)
    code = response.status_code or ""
    detail = f"{code or status}: {response.message or ''}".strip()
    if code == "M_LIMIT_EXCEEDED" or status == 429:
        # Synapse limits the sending user, not the room: every room waits.
        return RateLimited((response.retry_after_ms or 5000) / 1000, detail, whole_account=True)
    if code in UNREACHABLE_CODES:
        return Unreachable(detail)
    if code == "M_UNKNOWN_TOKEN" or status is None or status >= 500:
        return TemporaryFailure(detail)
    return Rejected(detail)


class MatrixSender:
    """Sends `Reply` values to rooms; `send_once` is the delivery loop's `ProactiveSender`."""

    def __init__(
        self,
        client: AsyncClient,
        memory: ChoiceMemory,
        *,
        ready: asyncio.Event | None = None,
        sleep: Sleep = asyncio.sleep,
        count: CountSend = lambda result: None,
    ) -> None:
        self._client = client
        self._count = count  # told how each send to the homeserver ended (`/metrics`)
        self._memory = memory
        self._ready = ready or asyncio.Event()
        self._sleep = sleep
        # sha256 and room kind → what the upload gave (mxc url, decryption info): once each
        self._uploads: dict[tuple[str, bool], tuple[str, dict[str, Any] | None]] = {}

    async def send_once(
        self, chat_id: str, reply: Reply, *, is_group: bool, key: str
    ) -> str | None:
        """One attempt at a proactive message, or a `SendError`; its transaction ids derive
        from the outbox row's idempotency `key`. Returns the first event id."""
        if not self._ready.is_set():
            try:
                await asyncio.wait_for(self._ready.wait(), READY_WAIT)
            except TimeoutError as error:
                raise TemporaryFailure("matrix: not synced yet") from error
        event_id = await self.send_reply(chat_id, reply, txn_base(key))
        await self._memory.offered(chat_id, [(event_id, reply)], is_group=is_group, answering=None)
        return event_id

    async def send(self, chat_id: str, reply: Reply, base: str) -> str | None:
        """A direct reply with the transaction id stem `base` (`reply_base`): retried in
        place (the homeserver's wait honoured) with the same transaction ids. Returns the
        first event's id, None when it was given up. Raises `Unreachable` when the bot may
        no longer write there."""
        for attempt in range(1, DIRECT_ATTEMPTS + 1):
            try:
                return await self.send_reply(chat_id, reply, base)
            except RateLimited as error:
                wait = error.seconds
            except TemporaryFailure as error:
                wait = min(RETRY_CAP, 0.5 * 2**attempt)
                logger.warning("matrix: reply to %s failed (%s)", chat_id, error)
            except Rejected as error:
                logger.error("matrix: reply to %s rejected: %s", chat_id, error)
                return None
            if attempt < DIRECT_ATTEMPTS:
                await self._sleep(min(wait, RETRY_CAP))
        logger.error("matrix: reply to %s given up after %d attempts", chat_id, DIRECT_ATTEMPTS)
        return None

    async def send_reply(self, room_id: str, reply: Reply, base: str) -> str | None:
        """The text (choices listed), then each file. Returns the first event's id."""
        encrypted = self._encrypted(room_id)
        first: str | None = None
        part = 0
        if reply.text or reply.choices or not reply.files:
            first = await self._room_send(room_id, text_content(reply), txn_id(base, part))
        for file in reply.files:
            part += 1
            url, encryption = await self._upload(file, encrypted)
            content = file_content(
                file.kind,
                file.file_name,
                file.mime_type,
                file.size,
                url,
                encryption,
                caption=file.caption,
            )
            event_id = await self._room_send(room_id, content, txn_id(base, part))
            first = first or event_id
        return first

    def _encrypted(self, room_id: str) -> bool:
        room = self._client.rooms.get(room_id)
        if room is None:
            raise Unreachable(f"matrix: the bot is not in room {room_id}")
        return bool(room.encrypted)

    async def _room_send(self, room_id: str, content: dict[str, Any], tx: str) -> str:
        """One event sent, counted by how it ended."""
        try:
            event_id = await self._send_event(room_id, content, tx)
        except SendError as error:
            self._count(send_result(error))
            raise
        self._count("ok")
        return event_id

    async def _send_event(self, room_id: str, content: dict[str, Any], tx: str) -> str:
        try:
            response = await self._client.room_send(
                room_id, "m.room.message", content, tx_id=tx, ignore_unverified_devices=True
            )
        except LocalProtocolError as error:
            raise Unreachable(f"matrix: {error}") from error
        except NETWORK_ERRORS as error:
            raise TemporaryFailure(
                f"matrix: {type(error).__name__}: {error}", timeout=isinstance(error, TimeoutError)
            ) from error
        if isinstance(response, RoomSendResponse):
            return str(response.event_id)
        if isinstance(response, ErrorResponse):
            raise send_error(response)
        raise TemporaryFailure(f"matrix: unexpected answer {type(response).__name__}")

    async def _upload(
        self, file: Attachment, encrypted: bool
    ) -> tuple[str, dict[str, Any] | None]:
        digest = hashlib.sha256(file.data).hexdigest()
        known = self._uploads.get((digest, encrypted))
        if known is not None:
            return known
        try:
            response, keys = await self._client.upload(
                io.BytesIO(file.data),
                content_type=file.mime_type or "application/octet-stream",
                filename=file.file_name,
                encrypt=encrypted,
                filesize=file.size,
            )
        except NETWORK_ERRORS as error:
            raise TemporaryFailure(f"matrix upload: {type(error).__name__}") from error
        if not isinstance(response, UploadResponse):
            assert isinstance(response, ErrorResponse)
            raise send_error(response)
        result = (str(response.content_uri), keys)
        self._uploads[(digest, encrypted)] = result
        return result
