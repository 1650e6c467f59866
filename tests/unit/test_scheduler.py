"""The plan scheduler: ticks plan at the injected clock's now, catch up once, wake up early."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from prometheus_client.parser import text_string_to_metric_families

from bot.delivery.scheduler import TICK_JOB, WAKE_JOB, PlanScheduler
from bot.ops.metrics import Metrics
from storage.db import Database
from storage.outbox import NewMessage, OutboxStore
from testkit.support import DEFAULT_NOW, FakeClock


class ReminderPlanner:
    """Reminders at fixed times, enqueued with idempotency keys like a real planner."""

    name = "reminders"

    def __init__(self, outbox: OutboxStore | None, due: list[datetime]) -> None:
        self.outbox = outbox
        self.due = due
        self.planned_at: list[datetime] = []

    async def plan(self, now: datetime) -> int:
        self.planned_at.append(now)
        messages = [
            NewMessage(f"reminder:{t.isoformat()}", "telegram", "42", {"text": "bald!"}, t)
            for t in self.due
            if t <= now
        ]
        if self.outbox is None:
            return len(messages)
        return await self.outbox.enqueue(messages, now)

    async def next_due(self, now: datetime) -> datetime | None:
        return min((t for t in self.due if t > now), default=None)


class BrokenPlanner:
    name = "broken"

    async def plan(self, now: datetime) -> int:
        raise RuntimeError("database gone")

    async def next_due(self, now: datetime) -> datetime | None:
        return None


@pytest.fixture
async def outbox(tmp_path: object) -> OutboxStore:
    db = Database(f"sqlite+aiosqlite:///{tmp_path}/plan.db")
    await db.create_all()
    return OutboxStore(db)


async def test_tick_plans_at_the_injected_now_and_reports_new_messages(
    clock: FakeClock,
) -> None:
    planner = ReminderPlanner(None, [DEFAULT_NOW - timedelta(minutes=1)])
    woken: list[bool] = []
    scheduler = PlanScheduler([planner], clock, on_enqueued=lambda: woken.append(True))

    assert await scheduler.tick() == 1
    assert planner.planned_at == [DEFAULT_NOW]
    assert woken == [True]


async def test_nothing_enqueued_wakes_nobody(clock: FakeClock) -> None:
    woken: list[bool] = []
    scheduler = PlanScheduler(
        [ReminderPlanner(None, [])], clock, on_enqueued=lambda: woken.append(True)
    )
    assert await scheduler.tick() == 0
    assert woken == []


async def test_catch_up_sends_what_fell_due_while_down_once(
    clock: FakeClock, outbox: OutboxStore
) -> None:
    # The bot was down from 11:00 to 12:00; two reminders fell due meanwhile.
    missed = [DEFAULT_NOW - timedelta(minutes=50), DEFAULT_NOW - timedelta(minutes=5)]
    future = DEFAULT_NOW + timedelta(hours=2)
    planner = ReminderPlanner(outbox, [*missed, future])
    woken: list[bool] = []
    scheduler = PlanScheduler([planner], clock, on_enqueued=lambda: woken.append(True))

    assert await scheduler.tick() == 2  # the first tick after start catches up
    assert await scheduler.tick() == 0  # and a second one adds nothing
    clock.advance(timedelta(minutes=1))
    assert await scheduler.tick() == 0
    assert woken == [True]
    assert (await outbox.progress("reminder:")).waiting == 2
    assert await outbox.next_due_at() == missed[0]

    clock.set(future)
    assert await scheduler.tick() == 1
    assert (await outbox.progress("reminder:")).waiting == 3


async def test_a_failing_planner_does_not_stop_the_others(clock: FakeClock) -> None:
    good = ReminderPlanner(None, [DEFAULT_NOW])
    scheduler = PlanScheduler([BrokenPlanner(), good], clock)
    assert await scheduler.tick() == 1


async def test_the_metrics_page_shows_the_ticks_and_the_failed_planner(clock: FakeClock) -> None:
    scheduler = PlanScheduler([BrokenPlanner(), ReminderPlanner(None, [])], clock)
    metrics = Metrics()
    metrics.watch_plans(scheduler.stats)
    await scheduler.tick()
    clock.advance(timedelta(minutes=1))
    await scheduler.tick()

    page = {
        sample.name: sample.value
        for family in text_string_to_metric_families(metrics.render().decode())
        for sample in family.samples
        if sample.name.startswith("mitreden_plan_")
    }
    assert page["mitreden_plan_ticks_total"] == 2
    assert page["mitreden_plan_failures_total"] == 2  # the broken planner, in each tick
    assert page["mitreden_plan_last_tick_timestamp_seconds"] == clock.now().timestamp()


async def test_start_ticks_at_once_and_sets_a_wake_up_for_the_next_due_time(
    clock: FakeClock,
) -> None:
    soon = DEFAULT_NOW + timedelta(seconds=20)
    planner = ReminderPlanner(None, [soon])
    scheduler = PlanScheduler([planner], clock, interval=timedelta(minutes=1))
    scheduler.start()
    try:
        for _ in range(200):  # the first tick runs at once (catch-up)
            if planner.planned_at:
                break
            await asyncio.sleep(0.01)
        assert planner.planned_at == [DEFAULT_NOW]
        assert scheduler._scheduler is not None
        tick = scheduler._scheduler.get_job(TICK_JOB)
        assert tick is not None and tick.trigger.interval == timedelta(minutes=1)
        for _ in range(200):
            wake = scheduler._scheduler.get_job(WAKE_JOB)
            if wake is not None:
                break
            await asyncio.sleep(0.01)
        assert wake is not None
        # The wake-up is 20 s away on the wall clock, whatever the injected clock says.
        gap = wake.next_run_time - datetime.now(UTC)
        assert timedelta(seconds=18) < gap <= timedelta(seconds=20)
    finally:
        await scheduler.stop()


async def test_the_wake_up_job_runs_a_tick(clock: FakeClock) -> None:
    soon = DEFAULT_NOW + timedelta(milliseconds=200)
    planner = ReminderPlanner(None, [soon])
    scheduler = PlanScheduler([planner], clock, interval=timedelta(minutes=1))
    scheduler.start()
    try:
        for _ in range(300):
            if len(planner.planned_at) >= 2:
                break
            await asyncio.sleep(0.01)
        assert len(planner.planned_at) == 2  # the start tick, then the wake-up
    finally:
        await scheduler.stop()


async def test_no_wake_up_when_the_next_due_time_is_beyond_the_interval(
    clock: FakeClock,
) -> None:
    planner = ReminderPlanner(None, [DEFAULT_NOW + timedelta(minutes=5)])
    scheduler = PlanScheduler([planner], clock, interval=timedelta(minutes=1))
    scheduler.start()
    try:
        for _ in range(200):
            if planner.planned_at:
                break
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.02)
        assert scheduler._scheduler is not None
        assert scheduler._scheduler.get_job(WAKE_JOB) is None
        # When the time comes closer, the next tick sets it.
        clock.advance(timedelta(minutes=4, seconds=30))
        await scheduler.tick()
        assert scheduler._scheduler.get_job(WAKE_JOB) is not None
    finally:
        await scheduler.stop()


class SlowPlanner:
    """A tick that is still running when the bot is told to stop."""

    name = "slow"

    def __init__(self) -> None:
        self.started = asyncio.Event()
        self.release = asyncio.Event()
        self.finished = False

    async def plan(self, now: datetime) -> int:
        self.started.set()
        await self.release.wait()
        self.finished = True
        return 0

    async def next_due(self, now: datetime) -> datetime | None:
        return None


async def test_a_stop_during_a_tick_lets_it_finish_and_logs_no_error(
    clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    planner = SlowPlanner()
    scheduler = PlanScheduler([planner], clock, interval=timedelta(minutes=1))
    scheduler.start()
    await asyncio.wait_for(planner.started.wait(), 5)  # the first tick runs at once

    stopping = asyncio.create_task(scheduler.stop())
    await asyncio.sleep(0)
    assert not stopping.done()  # the tick may be enqueueing: stop waits for it
    planner.release.set()
    await asyncio.wait_for(stopping, 5)
    for _ in range(3):  # whatever the scheduler's own callbacks would still log
        await asyncio.sleep(0)

    assert planner.finished
    assert [r for r in caplog.records if r.levelname in ("ERROR", "CRITICAL")] == []
