"""`mitreden run`: every configured channel, the delivery workers and the scheduler in one
asyncio process, until a signal stops it."""

from __future__ import annotations

import asyncio
import logging
import signal
import time
from datetime import timedelta

from bot.app import App
from bot.channels.console import ConsoleChannel
from bot.channels.matrix.channel import MatrixChannel
from bot.channels.telegram.channel import TelegramChannel
from bot.channels.telegram.outgoing import TelegramOutgoing
from bot.delivery.loop import Delivery, DeliveryPolicy
from bot.delivery.ratelimit import ChatLimits
from bot.delivery.scheduler import PlanScheduler
from bot.delivery.sending import ProactiveSender
from bot.ops.logs import redact
from bot.ops.memory import settle_after_start
from bot.settings import Settings
from handlers.messages import Platform

logger = logging.getLogger(__name__)


def telegram_limits(settings: Settings) -> ChatLimits:
    telegram = settings.telegram
    return ChatLimits(
        per_second=telegram.broadcast_per_second,
        private_interval=1.0 / telegram.private_chat_per_second,
        group_per_minute=telegram.group_per_minute,
        clock=time.monotonic,
    )


def matrix_limits(settings: Settings) -> ChatLimits:
    matrix = settings.matrix
    return ChatLimits(
        per_second=matrix.broadcast_per_second,
        private_interval=60.0 / matrix.room_per_minute,
        group_per_minute=matrix.room_per_minute,
        clock=time.monotonic,
    )


async def serve(app: App, settings: Settings) -> int:
    """Run until SIGTERM/SIGINT: finish the sends in flight, then stop cleanly.

    With no Telegram or Matrix credentials the console channel runs, and the end of its
    input stops the bot too.
    """
    stop = asyncio.Event()
    # The channels stop only after the delivery loop has finished its sends in flight,
    # which still need the channels' connections.
    channels_stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    tasks: list[asyncio.Task[None]] = []
    senders: dict[str, ProactiveSender] = {}
    limits: dict[str, ChatLimits] = {}
    if settings.telegram.token:
        redact(settings.telegram.token)
        limits[Platform.TELEGRAM] = telegram_limits(settings)
        telegram = TelegramChannel(settings.telegram, app, limits=limits[Platform.TELEGRAM])
        senders[Platform.TELEGRAM] = TelegramOutgoing(telegram.application.bot)
        tasks.append(asyncio.create_task(telegram.run(channels_stop), name="telegram"))
    if settings.matrix.homeserver:
        redact(settings.matrix.password, settings.matrix.access_token)
        limits[Platform.MATRIX] = matrix_limits(settings)
        matrix = MatrixChannel(settings.matrix, app)
        senders[Platform.MATRIX] = matrix.sender
        tasks.append(asyncio.create_task(matrix.run(channels_stop), name="matrix"))
    if not tasks:
        logger.info("no Telegram or Matrix credentials configured: console channel")
        console = ConsoleChannel(app.handle, settings.console.user)
        senders[Platform.CONSOLE] = console
        tasks.append(
            asyncio.create_task(_until_end_of_input(console, channels_stop), name="console")
        )
    delivery = Delivery(
        app.store.outbox,
        senders,
        limits,
        app.clock,
        policy=DeliveryPolicy.from_settings(settings.delivery),
        on_unreachable=app.mark_unreachable,
        resolve=app.resolve,
    )
    delivering = asyncio.create_task(delivery.run(stop), name="delivery")
    scheduler = PlanScheduler(
        app.planners,
        app.clock,
        on_enqueued=delivery.wake,
        interval=timedelta(seconds=settings.delivery.plan_interval_seconds),
    )
    scheduler.start()
    settle_after_start()
    try:
        stopper = asyncio.create_task(stop.wait(), name="stop")
        await asyncio.wait([*tasks, delivering, stopper], return_when=asyncio.FIRST_COMPLETED)
        stop.set()
        try:
            await delivering
        finally:
            channels_stop.set()
            await asyncio.gather(*tasks)
    finally:
        await scheduler.stop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(signum)
    logger.info("stopped")
    return 0


async def _until_end_of_input(console: ConsoleChannel, stop: asyncio.Event) -> None:
    reader = asyncio.create_task(console.run())
    waiter = asyncio.create_task(stop.wait())
    await asyncio.wait([reader, waiter], return_when=asyncio.FIRST_COMPLETED)
    waiter.cancel()
    if not reader.done():
        reader.cancel()  # the thread blocked in readline() ends with the process
    else:
        reader.result()
    stop.set()
