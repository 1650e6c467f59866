"""`mitreden run`: every configured channel, the delivery workers and the scheduler in one
asyncio process, until a signal stops it. What runs is wired by `bot.app.bootstrap`.

Several processes on one PostgreSQL (README, "Running several processes"): each runs the
channels and the delivery; what must run once (the plan ticks, the Matrix sync, and within
the Telegram channel the webhook's registration or the long polling) runs as the leader's
duty (`bot.cluster`), in whichever process leads, and moves when the leader goes. On SQLite
the one process leads from start to stop.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial

from bot.app import Bot, Channel, leader_only
from bot.cluster import Leadership
from bot.delivery.scheduler import PlanScheduler
from bot.ops.memory import settle_after_start

logger = logging.getLogger(__name__)


STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


@contextmanager
def stop_on_signals() -> Iterator[asyncio.Event]:
    """An event that SIGTERM (a service manager's stop) or SIGINT (Ctrl+C) sets while inside.
    `mitreden run` enters it before it wires the bot, so that a stop while it is still
    starting (migrating, waiting for the Bot API) ends it as cleanly as one later: exit 0,
    no traceback."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in STOP_SIGNALS:
        loop.add_signal_handler(signum, stop.set)
    try:
        yield stop
    finally:
        for signum in STOP_SIGNALS:
            loop.remove_signal_handler(signum)


async def serve(bot: Bot, stop: asyncio.Event | None = None) -> int:
    """Run until `stop` is set (default: until SIGTERM/SIGINT): finish the sends in flight,
    then stop cleanly.

    With no Telegram or Matrix credentials the console channel runs, and the end of its
    input stops the bot too.

    Raises:
        What stopped a channel (`CredentialsRejected`), once the rest has stopped.
    """
    if stop is None:
        with stop_on_signals() as signalled:
            return await serve(bot, signalled)
    if stop.is_set():
        logger.info("stopped before serving")
        return 0
    settle_after_start()
    await run(bot, stop)
    logger.info("stopped")
    return 0


async def run(
    bot: Bot, stop: asyncio.Event, *, deliver: bool = True, schedule: bool = True
) -> None:
    """Run the channels, the delivery loop (unless `deliver` is False) and the scheduler
    (unless `schedule` is False) until `stop` is set or a channel ends; then finish the sends
    in flight, stop the channels and the scheduler.

    The ops server (health, metrics), when wired, serves from before the channels start
    until after they stopped, so that /readyz tells a starting bot from a running one; the
    staff web view (`bot.web`), when wired, serves as long.

    Raises:
        Whatever stopped a channel (e.g. `TokenRejected`), once the rest has stopped.
    """
    if bot.ops is not None:
        await bot.ops.start()
    if bot.web is not None:
        await bot.web.start()
    try:
        await _run(bot, stop, deliver=deliver, schedule=schedule)
    finally:
        if bot.web is not None:
            await bot.web.stop()
        if bot.ops is not None:
            await bot.ops.stop()


async def _run(bot: Bot, stop: asyncio.Event, *, deliver: bool, schedule: bool) -> None:
    # The channels stop only after the delivery loop has finished its sends in flight,
    # which still need the channels' connections; the lead is given up after both.
    channels_stop = asyncio.Event()
    leadership = bot.app.leadership
    cluster = bot.app.cluster
    electing = (
        asyncio.create_task(cluster.leadership.run(channels_stop), name="leader")
        if cluster is not None
        else None
    )
    tasks = [
        asyncio.create_task(_channel(channel, leadership, channels_stop), name=channel.platform)
        for channel in bot.channels
    ]
    delivering = asyncio.create_task(bot.delivery.run(stop), name="delivery") if deliver else None
    planning = (
        asyncio.create_task(
            leadership.run_duty("plan ticks", partial(_plans, bot.scheduler), channels_stop),
            name="plans",
        )
        if schedule
        else None
    )
    try:
        stopper = asyncio.create_task(stop.wait(), name="stop")
        running = [*tasks, *([delivering] if delivering is not None else []), stopper]
        await asyncio.wait(running, return_when=asyncio.FIRST_COMPLETED)
        stop.set()
        try:
            if delivering is not None:
                await delivering
        finally:
            channels_stop.set()
            await asyncio.gather(*tasks)
    finally:
        channels_stop.set()
        if planning is not None:
            await planning
        if electing is not None:
            await electing
        if cluster is not None:
            await cluster.leadership.step_down()


async def _channel(channel: Channel, leadership: Leadership, stop: asyncio.Event) -> None:
    """A channel until `stop`; one that runs in the leading process only, whenever this
    process leads."""
    if leader_only(channel):
        await leadership.run_duty(channel.platform, channel.run, stop)
    else:
        await channel.run(stop)


async def _plans(scheduler: PlanScheduler, over: asyncio.Event) -> None:
    """The plan ticks, while this process leads (a tick under way finishes first)."""
    scheduler.start()
    try:
        await over.wait()
    finally:
        await scheduler.stop()
