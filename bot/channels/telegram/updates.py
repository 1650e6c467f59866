"""Updates read one at a time, so one the bot cannot read never stops it answering everyone.

python-telegram-bot parses a whole `getUpdates` batch at once (`Update.de_list`): one update
it cannot read (a poll from an older Bot API server without the options' `persistent_id`
raises `TypeError` in PTB 22) fails the batch, the updater asks for the same offset again,
forever, and PTB logs the whole batch (residents' names and texts) at CRITICAL each time.
`TolerantBot.get_updates` reads each update on its own; one that cannot be read becomes an
empty `Update` with its id, so the offset moves past it, and is logged once by id and
exception type only (`UnreadableUpdates`). The webhook server
(`bot.channels.telegram.webhook`) reads each pushed update through the same `read_update`.

The call itself goes through the public `BaseRequest.post` of the getUpdates request, with
its parameters in the URL's query string (the Bot API takes them there as well as in the
body): PTB builds a request body only inside its private `Bot._post`, and that would log the
whole batch at DEBUG, names and texts included.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Sequence
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

from telegram import Bot, Update
from telegram.error import InvalidToken
from telegram.ext import ExtBot
from telegram.request import BaseRequest

logger = logging.getLogger(__name__)


class UnreadableUpdates:
    """How many updates were skipped because they could not be read (for /metrics)."""

    def __init__(self) -> None:
        self.count = 0

    def skip(self, update_id: object, error: Exception) -> None:
        """Count and log one skipped update: its id and the exception's type, no content."""
        self.count += 1
        logger.warning(
            "telegram: update %s skipped, it cannot be read (%s); %d skipped so far",
            update_id,
            type(error).__name__,
            self.count,
        )


def read_update(data: object, bot: Bot, unreadable: UnreadableUpdates) -> Update | None:
    """The `Update` for one update's JSON; None (counted and logged) when it cannot be read."""
    try:
        if not isinstance(data, dict):
            raise TypeError("an update is a JSON object")
        return Update.de_json(data, bot)
    except Exception as error:  # whatever PTB raises on a payload it does not know
        unreadable.skip(data.get("update_id") if isinstance(data, dict) else None, error)
        return None


class TolerantBot(ExtBot[None]):
    """An `ExtBot` whose `get_updates` reads each update on its own (see the module).

    `token_rejected` is set when Telegram answers 401 to getUpdates (the token was revoked
    while the bot runs): PTB's updater stops polling then, and the channel stops the process
    with a clear message rather than stay up deaf.
    """

    __slots__ = ("_token_rejected", "_unreadable", "_updates_request")

    def __init__(
        self,
        token: str,
        *,
        base_url: str,
        base_file_url: str,
        request: BaseRequest,
        get_updates_request: BaseRequest,
        unreadable: UnreadableUpdates,
    ) -> None:
        super().__init__(
            token,
            base_url=base_url,
            base_file_url=base_file_url,
            request=request,
            get_updates_request=get_updates_request,
            arbitrary_callback_data=False,
        )
        self._updates_request = get_updates_request
        self._unreadable = unreadable
        self._token_rejected = asyncio.Event()

    @property
    def token_rejected(self) -> asyncio.Event:
        return self._token_rejected

    async def get_updates(
        self,
        offset: int | None = None,
        limit: int | None = None,
        timeout: int | timedelta | None = None,  # noqa: ASYNC109 (PTB's signature)
        allowed_updates: Sequence[str] | None = None,
        *,
        read_timeout: Any = BaseRequest.DEFAULT_NONE,
        write_timeout: Any = BaseRequest.DEFAULT_NONE,
        connect_timeout: Any = BaseRequest.DEFAULT_NONE,
        pool_timeout: Any = BaseRequest.DEFAULT_NONE,
        api_kwargs: dict[str, Any] | None = None,
    ) -> tuple[Update, ...]:
        """As `Bot.get_updates`, but an update that cannot be read is skipped, not fatal."""
        poll = int(timeout.total_seconds() if isinstance(timeout, timedelta) else timeout or 0)
        wait = self._updates_request.read_timeout
        if read_timeout is not BaseRequest.DEFAULT_NONE:
            wait = read_timeout
        values = {
            "offset": offset,
            "limit": limit,
            "timeout": poll or None,
            "allowed_updates": list(allowed_updates) if allowed_updates is not None else None,
            **(api_kwargs or {}),
        }
        query = urlencode(
            {
                name: value if isinstance(value, str | int) else json.dumps(value)
                for name, value in values.items()
                if value is not None
            }
        )
        try:
            result = await self._updates_request.post(
                f"{self.base_url}/getUpdates?{query}",
                read_timeout=(wait or 0) + poll,  # the long poll's time on top, as PTB does
                write_timeout=write_timeout,
                connect_timeout=connect_timeout,
                pool_timeout=pool_timeout,
            )
        except InvalidToken:
            self._token_rejected.set()
            raise
        updates = []
        for data in result if isinstance(result, list) else ():
            update = read_update(data, self, self._unreadable)
            if update is not None:
                self.insert_callback_data(update)
            elif isinstance(data, dict) and isinstance(data.get("update_id"), int):
                # An empty update in its place moves the updater's offset past it.
                update = Update(data["update_id"])
            else:
                continue
            updates.append(update)
        return tuple(updates)
