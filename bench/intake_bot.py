"""The bot process of the intake benchmark: the production wiring, pointed at the fake server.

Run by `bench.telegram_intake`; prints "ready" once long polling has started. SIGTERM stops it
the way `mitreden run` stops; SIGUSR1/SIGUSR2 start and stop a profiler when `--profile` is
given (pyinstrument, which profiles the event loop's thread).
"""

from __future__ import annotations

import argparse
import asyncio
import signal
from dataclasses import replace
from pathlib import Path
from typing import Any

from telegram.request import BaseRequest, HTTPXRequest

from bot.app import App, bootstrap
from bot.channels.telegram.channel import TelegramChannel
from bot.config import Settings, load_settings
from bot.ops.logs import configure_logging
from bot.ops.memory import settle_after_start
from bot.runtime import run
from storage.db import Database

REPO = Path(__file__).resolve().parent.parent
# Simulated residents answer at machine speed; the guard's cost is still paid per update.
FLOOD_LIMIT = 1_000_000


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.intake_bot", description=__doc__)
    parser.add_argument("--url", required=True, help="the fake server, http://host:port")
    parser.add_argument("--token", required=True)
    parser.add_argument("--db", required=True, help="SQLite file")
    parser.add_argument("--database-url", help="a PostgreSQL URL instead of the SQLite file")
    parser.add_argument("--request", choices=("httpx", "mitreden"), default="mitreden")
    parser.add_argument("--profile", help="write a pyinstrument profile here (.html or .txt)")
    return parser.parse_args(argv)


def bench_settings(args: argparse.Namespace) -> Settings:
    settings = load_settings(REPO / "config.example.toml", environ={})
    return replace(
        settings,
        bot=replace(settings.bot, flood_messages_per_minute=FLOOD_LIMIT),
        database=replace(
            settings.database, url=args.database_url or f"sqlite+aiosqlite:///{args.db}"
        ),
        telegram=replace(
            settings.telegram,
            token=args.token,
            base_url=f"{args.url}/bot",
            base_file_url=f"{args.url}/file/bot",
        ),
    )


def requests(kind: str) -> tuple[BaseRequest | None, BaseRequest | None]:
    """PTB's default HTTPXRequest pair (as `ApplicationBuilder` makes it), or the channel's
    own (the same class with the bot's timeouts)."""
    if kind == "httpx":
        return HTTPXRequest(connection_pool_size=256), HTTPXRequest(connection_pool_size=1)
    return None, None


class Profiling:
    """Start on SIGUSR1, stop and write on SIGUSR2."""

    def __init__(self, path: str) -> None:
        from pyinstrument import Profiler

        self.path = path
        self.profiler: Any = Profiler(interval=0.0005, async_mode="disabled")

    def install(self, loop: asyncio.AbstractEventLoop) -> None:
        loop.add_signal_handler(signal.SIGUSR1, self.profiler.start)
        loop.add_signal_handler(signal.SIGUSR2, self.write)

    def write(self) -> None:
        self.profiler.stop()
        if self.path.endswith(".html"):
            Path(self.path).write_text(self.profiler.output_html())
        else:
            tree = self.profiler.output_text(unicode=True, show_all=False)
            flat = self.profiler.output_text(unicode=True, flat=True)
            Path(self.path).write_text(f"{tree}\n\n{flat}")


async def serve(args: argparse.Namespace) -> None:
    settings = bench_settings(args)
    configure_logging(settings.bot.log_level, settings.bot.log_format)
    db = Database(settings.database.url)
    await db.create_all()
    request, updates_request = requests(args.request)

    def telegram(app: App) -> TelegramChannel:
        return TelegramChannel(
            settings.telegram, app, request=request, updates_request=updates_request
        )

    # The replies unpaced, as the simulated residents are many and fast; no outbox, no plans.
    wired = await bootstrap(settings, db=db, migrate=False, channels=[telegram], limits={})
    (channel,) = wired.channels
    assert isinstance(channel, TelegramChannel)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    if args.profile:
        Profiling(args.profile).install(loop)
    task = asyncio.create_task(run(wired, stop, deliver=False, schedule=False))
    updater = channel.application.updater
    while not (updater is not None and updater.running):
        if task.done():
            task.result()
        await asyncio.sleep(0.01)
    settle_after_start()  # as bot.runtime.serve does
    print("ready", flush=True)
    try:
        await task
    finally:
        await wired.close()


def main(argv: list[str] | None = None) -> None:
    asyncio.run(serve(parse_args(argv)))


if __name__ == "__main__":
    main()
