"""One chat, one line: updates of one chat run one after another, different chats run
concurrently. Locks exist only while a chat has work queued, so memory follows activity.

This is the line inside one process. Several processes on one PostgreSQL keep Telegram's
lines across all of them in the inbox they share (`bot.channels.telegram.inbox`); Matrix
syncs in one process only (`bot.cluster`)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Hashable
from contextlib import asynccontextmanager


class KeyedSerializer:
    def __init__(self) -> None:
        self._locks: dict[Hashable, tuple[asyncio.Lock, int]] = {}

    @asynccontextmanager
    async def turn(self, key: Hashable) -> AsyncIterator[None]:
        """Wait until every earlier holder of `key` is done (FIFO), then hold it."""
        lock, users = self._locks.get(key, (None, 0))
        if lock is None:
            lock = asyncio.Lock()
        self._locks[key] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._locks[key]
            if users == 1:
                del self._locks[key]
            else:
                self._locks[key] = (lock, users - 1)

    def __len__(self) -> int:
        return len(self._locks)
