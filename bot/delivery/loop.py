"""Outbox → channels: paced to the platform's limits, retried, recorded, never lost.

A dispatcher claims due rows, keeps them per chat in order, and hands each to a worker as
soon as the chat's and the overall limits allow. A worker sends one message and records the
result before it takes the next, so a SIGKILL can repeat at most one message per worker.
Claims are leases, renewed while the rows wait here; a worker makes sure the row is still
its own right before it sends it (`OutboxStore.extend_claims`), so a process whose renewal came too
late (its loop lagging behind the lease) leaves the row to the process that claimed it next
instead of sending it a second time.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import logging
import time
import uuid
from collections import deque
from collections.abc import Awaitable, Callable, Collection, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from bot.delivery.ratelimit import ChatLimits
from bot.delivery.sending import (
    ProactiveSender,
    RateLimited,
    Rejected,
    TemporaryFailure,
    Unreachable,
)
from bot.delivery.stats import DeliveryStats
from handlers.clock import Clock
from handlers.messages import Reply, reply_from_payload
from handlers.settings import DeliverySettings
from storage.models import OutboxMessage
from storage.outbox import OutboxStore

logger = logging.getLogger(__name__)

# Rows taken per claim; not a setting an operator needs (tests take fewer).
CLAIM_BATCH = 200

OnUnreachable = Callable[[str, str], Awaitable[None]]  # (platform, chat_id)
Resolve = Callable[[dict[str, Any]], Awaitable[Reply]]  # payload → reply, files loaded


async def _plain_reply(payload: dict[str, Any]) -> Reply:
    return reply_from_payload(payload)


@dataclass
class _Chat:
    platform: str
    chat_id: str
    rows: deque[OutboxMessage] = field(default_factory=deque)
    queued: bool = False


class Delivery:
    def __init__(
        self,
        outbox: OutboxStore,
        senders: Mapping[str, ProactiveSender],
        limits: Mapping[str, ChatLimits],
        clock: Clock,
        *,
        settings: DeliverySettings | None = None,
        claim_batch: int = CLAIM_BATCH,
        on_unreachable: OnUnreachable | None = None,
        monotonic: Callable[[], float] = time.monotonic,
        resolve: Resolve | None = None,
        platforms: Callable[[], Collection[str]] | None = None,
    ) -> None:
        """`platforms`: the platforms whose rows this process may take now (several
        processes on one PostgreSQL: Matrix only in the one that leads, `bot.cluster`);
        None for every platform."""
        self._outbox = outbox
        self._senders = senders
        self._limits = limits
        self._clock = clock
        self._settings = settings or DeliverySettings()  # `[delivery]` of the configuration
        self._claim_batch = claim_batch
        self._on_unreachable = on_unreachable
        self._monotonic = monotonic
        self._resolve = resolve or _plain_reply
        self._platforms = platforms
        self.worker_id = f"delivery-{uuid.uuid4().hex[:12]}"
        self.stats = DeliveryStats()
        self._chats: dict[tuple[str, str], _Chat] = {}
        self._ready: list[tuple[float, int, tuple[str, str]]] = []
        self._sequence = 0
        self._backlog = 0
        self._wake = asyncio.Event()
        self._work: asyncio.Queue[OutboxMessage] = asyncio.Queue()
        # A slot is taken only when a worker can start the send at once: a slot taken while
        # every worker is busy would be used late, together with the following ones, and
        # such bunches exceed the platform's limit (429) although the pace was kept.
        self._idle_workers = asyncio.Semaphore(self._settings.workers)

    def wake(self) -> None:
        """Something was enqueued: look at the outbox now instead of at the next poll."""
        self._wake.set()

    async def run(self, stop: asyncio.Event) -> None:
        """Deliver until `stop` is set; then finish the sends in flight and give back the rest."""
        workers = [
            asyncio.create_task(self._worker(), name=f"{self.worker_id}-{n}")
            for n in range(self._settings.workers)
        ]
        try:
            renew_at = self._monotonic() + self._settings.claim_lease_seconds / 3
            while not stop.is_set():
                if self._monotonic() >= renew_at:
                    await self._renew_claims()
                    renew_at = self._monotonic() + self._settings.claim_lease_seconds / 3
                if self._backlog < self._claim_batch // 2:
                    await self._claim()
                if not self._ready:
                    await self._idle(stop)
                    continue
                await self._idle_workers.acquire()
                if not await self._dispatch_next(stop):
                    self._idle_workers.release()
        finally:
            await self._work.join()
            for worker in workers:
                worker.cancel()
            await asyncio.gather(*workers, return_exceptions=True)
            await self._release_backlog()

    async def _claim(self) -> None:
        rows = await self._outbox.claim_due(
            self._clock.now(),
            limit=self._claim_batch,
            worker=self.worker_id,
            lease=timedelta(seconds=self._settings.claim_lease_seconds),
            platforms=self._platforms() if self._platforms is not None else None,
        )
        for row in rows:
            key = (row.platform, row.chat_id)
            chat = self._chats.get(key) or self._chats.setdefault(key, _Chat(*key))
            chat.rows.append(row)
            self._backlog += 1
            if not chat.queued:
                self._schedule(chat)

    async def _renew_claims(self) -> None:
        """Keep the rows still waiting here claimed, so no other process takes them."""
        ids = [row.id for chat in self._chats.values() for row in chat.rows if row.id is not None]
        until = self._clock.now() + timedelta(seconds=self._settings.claim_lease_seconds)
        await self._outbox.extend_claims(ids, self.worker_id, until)

    def _schedule(self, chat: _Chat) -> None:
        limits = self._limits.get(chat.platform)
        ready = limits.chat_ready_at(chat.chat_id) if limits else 0.0
        self._sequence += 1
        heapq.heappush(self._ready, (ready, self._sequence, (chat.platform, chat.chat_id)))
        chat.queued = True

    async def _idle(self, stop: asyncio.Event) -> None:
        """Wait for a wake-up, the next due row, or the poll interval, whichever comes first."""
        timeout = self._settings.poll_interval_seconds
        next_due = await self._outbox.next_due_at(
            self._platforms() if self._platforms is not None else None
        )
        if next_due is not None:
            timeout = min(timeout, max(0.0, (next_due - self._clock.now()).total_seconds()))
        self._wake.clear()
        waiters = [asyncio.create_task(self._wake.wait()), asyncio.create_task(stop.wait())]
        await asyncio.wait(waiters, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        for waiter in waiters:
            waiter.cancel()

    async def _dispatch_next(self, stop: asyncio.Event) -> bool:
        """Hand the next due row to an idle worker; False if it was not (yet) its turn."""
        ready, _, key = heapq.heappop(self._ready)
        chat = self._chats[key]
        chat.queued = False
        if not chat.rows:
            del self._chats[key]
            return False
        limits = self._limits.get(chat.platform)
        if limits is not None:
            if limits.chat_ready_at(chat.chat_id) > ready:  # deferred meanwhile (429)
                self._schedule(chat)
                return False
            wait = limits.ready_at(chat.chat_id) - self._monotonic()
            if wait > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=wait)
                return self._look_again(key, chat)
        if not await self._still_ours(chat.rows[0]):
            chat.rows.popleft()
            self._backlog -= 1
            return self._look_again(key, chat)
        if limits is not None:
            if limits.ready_at(chat.chat_id) > self._monotonic():  # a 429 came meanwhile
                return self._look_again(key, chat)
            limits.take(chat.chat_id, chat.rows[0].is_group)
        row = chat.rows.popleft()
        self._backlog -= 1
        self._work.put_nowait(row)
        if chat.rows:
            self._schedule(chat)
        else:
            del self._chats[key]
        return True

    def _look_again(self, key: tuple[str, str], chat: _Chat) -> bool:
        """After an await in `_dispatch_next`: a worker may have dropped the chat (403) or
        put a row back with a new wait (429) meanwhile, so the chat is looked at again
        instead of sending what was decided before. Returns False (nothing handed on)."""
        if chat.rows and not chat.queued:
            self._schedule(chat)
        elif not chat.rows and self._chats.get(key) is chat:
            del self._chats[key]
        return False

    async def _still_ours(self, row: OutboxMessage) -> bool:
        """Renew the row's claim right before it goes out; False when
        another process claimed it after this one's lease ran out (its loop lagged behind the
        renewals): that one sends it, not both."""
        assert row.id is not None
        lease = timedelta(seconds=self._settings.claim_lease_seconds)
        until = self._clock.now() + lease
        if await self._outbox.extend_claims([row.id], self.worker_id, until):
            return True
        self.stats.taken_over += 1
        logger.warning("outbox %s: another process claimed it meanwhile; sent there", row.id)
        return False

    async def _worker(self) -> None:
        while True:
            row = await self._work.get()
            try:
                await self._deliver(row)
            except Exception:
                logger.exception("delivery of outbox row %s failed unexpectedly", row.id)
            finally:
                self._work.task_done()
                self._idle_workers.release()

    async def _deliver(self, row: OutboxMessage) -> None:
        assert row.id is not None
        sender = self._senders.get(row.platform)
        if sender is None:
            await self._outbox.set_dead(row.id, f"no channel for platform {row.platform!r}")
            self.stats.dead += 1
            return
        try:
            reply = await self._resolve(row.payload)
            message_id = await sender.send_once(
                row.chat_id, reply, is_group=row.is_group, key=row.idempotency_key
            )
        except RateLimited as error:
            self.stats.rate_limited += 1
            logger.warning(
                "outbox %s: rate limited, chat %s waits %.0fs", row.id, row.chat_id, error.seconds
            )
            limits = self._limits.get(row.platform)
            if limits is not None and error.whole_account:
                limits.defer_all(error.seconds)
            elif limits is not None:
                limits.defer_chat(row.chat_id, error.seconds)
            self._put_back(row)
        except Unreachable as error:
            # Drop the chat's rows here before awaiting anything, or the dispatcher could
            # hand the next one to another worker meanwhile.
            self._drop_chat(row.platform, row.chat_id)
            skipped = await self._outbox.skip_chat(row.platform, row.chat_id, str(error))
            self.stats.skipped += skipped
            logger.info(
                "outbox: chat %s:%s unreachable, %d message(s) skipped",
                row.platform,
                row.chat_id,
                skipped,
            )
            if self._on_unreachable is not None:
                await self._on_unreachable(row.platform, row.chat_id)
        except Rejected as error:
            self.stats.dead += 1
            logger.error(
                "outbox %s to %s:%s rejected: %s", row.id, row.platform, row.chat_id, error
            )
            await self._outbox.set_dead(row.id, str(error))
        except TemporaryFailure as error:
            await self._retry_later(row, str(error))
        else:
            now = self._clock.now()
            await self._outbox.set_sent(row.id, now, message_id)
            self.stats.sent += 1
            self.stats.latencies.append((now - row.due_at).total_seconds())

    async def _retry_later(self, row: OutboxMessage, error: str) -> None:
        assert row.id is not None
        attempts = row.attempts + 1
        if attempts >= self._settings.max_attempts:
            self.stats.dead += 1
            logger.error("outbox %s dead after %d attempts: %s", row.id, attempts, error)
            await self._outbox.set_dead(row.id, error)
            return
        settings = self._settings
        delay = min(
            settings.backoff_cap_seconds, settings.backoff_start_seconds * 2 ** (attempts - 1)
        )
        self.stats.failed += 1
        logger.warning(
            "outbox %s attempt %d failed (%s); again in %.0fs", row.id, attempts, error, delay
        )
        await self._outbox.set_failed(row.id, error, self._clock.now() + timedelta(seconds=delay))

    def _put_back(self, row: OutboxMessage) -> None:
        """A rate-limited row goes back to the head of its chat's line, still claimed."""
        key = (row.platform, row.chat_id)
        chat = self._chats.get(key) or self._chats.setdefault(key, _Chat(*key))
        chat.rows.appendleft(row)
        self._backlog += 1
        if not chat.queued:
            self._schedule(chat)

    def _drop_chat(self, platform: str, chat_id: str) -> None:
        chat = self._chats.get((platform, chat_id))
        if chat is not None:
            self._backlog -= len(chat.rows)
            chat.rows.clear()

    async def _release_backlog(self) -> None:
        ids = [row.id for chat in self._chats.values() for row in chat.rows if row.id is not None]
        self._chats.clear()
        self._ready.clear()
        self._backlog = 0
        await self._outbox.release(ids, self.worker_id)
