"""`mitreden run`: every configured channel in one asyncio process until a signal stops it."""

from __future__ import annotations

import asyncio
import logging
import signal

from bot.app import App
from bot.config import Settings
from bot.console import ConsoleChannel
from bot.logs import redact
from bot.telegram import TelegramChannel

logger = logging.getLogger(__name__)


async def serve(app: App, settings: Settings, *, console_user: str | None = None) -> int:
    """Run the channels; SIGTERM or SIGINT finishes the work in hand and stops cleanly.

    With no Telegram or Matrix credentials the console channel runs, and its end of input
    stops the bot too.
    """
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    tasks: list[asyncio.Task[None]] = []
    if settings.telegram.token:
        redact(settings.telegram.token)
        telegram = TelegramChannel(settings.telegram, app)
        tasks.append(asyncio.create_task(telegram.run(stop), name="telegram"))
    if not tasks or console_user is not None:
        logger.info("no Telegram or Matrix credentials configured: console channel")
        console = ConsoleChannel(app.handle, console_user or settings.console.user)
        tasks.append(asyncio.create_task(_until_end_of_input(console, stop), name="console"))
    stopper = asyncio.create_task(stop.wait(), name="stop")
    try:
        await asyncio.wait([*tasks, stopper], return_when=asyncio.FIRST_COMPLETED)
        stop.set()
        await asyncio.gather(*tasks, return_exceptions=False)
    finally:
        stopper.cancel()
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
