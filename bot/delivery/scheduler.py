"""The clock that drives planning: APScheduler runs a periodic plan tick and a wake-up at
the next due time. What is due is never stored as a job; each planner derives it from the
database at `now` and enqueues it with an idempotency key, so a tick that runs twice, or late
after a restart (catch-up), sends everything once."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Protocol

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot.delivery.stats import PlanStats
from handlers.clock import Clock

logger = logging.getLogger(__name__)

TICK_JOB, WAKE_JOB = "plan-tick", "plan-wake-up"


class Planner(Protocol):
    """Something that knows what must be sent at a given time."""

    name: str

    async def plan(self, now: datetime) -> int:
        """Enqueue everything due at `now`; returns how many messages were new."""
        ...

    async def next_due(self, now: datetime) -> datetime | None:
        """When the next thing after `now` falls due, if anything is planned."""
        ...


class PlanScheduler:
    def __init__(
        self,
        planners: Sequence[Planner],
        clock: Clock,
        *,
        interval: timedelta = timedelta(minutes=1),
        on_enqueued: Callable[[], None] = lambda: None,
    ) -> None:
        self._planners = list(planners)
        self._clock = clock
        self._interval = interval
        self._on_enqueued = on_enqueued
        self._scheduler: AsyncIOScheduler | None = None
        self._ticking: asyncio.Future[int] | None = None
        self.stats = PlanStats()

    def start(self) -> None:
        """Start ticking; the first tick runs at once and catches up on what fell due."""
        scheduler = AsyncIOScheduler(timezone=UTC)
        scheduler.add_job(
            self._run_tick,
            "interval",
            seconds=self._interval.total_seconds(),
            id=TICK_JOB,
            next_run_time=datetime.now(UTC),
            max_instances=1,
            coalesce=True,
            misfire_grace_time=None,
        )
        scheduler.start()
        self._scheduler = scheduler

    async def stop(self) -> None:
        """Stop ticking; a tick already under way finishes first (it may be enqueueing).

        New ticks are paused, the job under way is awaited, and only then is APScheduler
        shut down: shut down first, it cancels the running job and logs that as an error."""
        scheduler = self._scheduler
        if scheduler is not None and scheduler.running:
            scheduler.pause()
        if self._ticking is not None:
            await asyncio.shield(self._ticking)
        if scheduler is not None and scheduler.running:
            scheduler.shutdown(wait=False)

    async def _run_tick(self) -> None:
        """The job APScheduler runs, remembered so that `stop` can await it."""
        self._ticking = asyncio.ensure_future(self.tick())
        try:
            await asyncio.shield(self._ticking)
        finally:
            if self._ticking.done():
                self._ticking = None

    async def tick(self) -> int:
        """Plan what is due now, then set the wake-up for the next due time."""
        now = self._clock.now()
        started = time.monotonic()
        enqueued = 0
        next_times: list[datetime] = []
        for planner in self._planners:
            try:
                enqueued += await planner.plan(now)
                upcoming = await planner.next_due(now)
            except Exception:
                logger.exception("planner %s failed at %s", planner.name, now.isoformat())
                self.stats.planner_failures += 1
                continue
            if upcoming is not None:
                next_times.append(upcoming)
        if enqueued:
            logger.info("planned %d message(s) at %s", enqueued, now.isoformat())
            self._on_enqueued()
        self._set_wake_up(min(next_times) if next_times else None)
        self.stats.ticks += 1
        self.stats.last_tick_seconds = time.monotonic() - started
        self.stats.last_tick_at = self._clock.now().timestamp()
        return enqueued

    def _set_wake_up(self, when: datetime | None) -> None:
        """A one-off job at the next due time, so reminders leave within seconds of it."""
        if self._scheduler is None:
            return
        if when is None or when - self._clock.now() >= self._interval:
            if self._scheduler.get_job(WAKE_JOB) is not None:
                self._scheduler.remove_job(WAKE_JOB)
            return
        # The injected clock may differ from the wall clock APScheduler uses: convert the gap.
        gap = max(timedelta(0), when - self._clock.now())
        self._scheduler.add_job(
            self._run_tick,
            "date",
            run_date=datetime.now(UTC) + gap,
            id=WAKE_JOB,
            replace_existing=True,
            misfire_grace_time=None,
        )
