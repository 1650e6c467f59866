"""The comparison side of the broadcast benchmark: python-telegram-bot's `AIORateLimiter`.

Run by `bench.broadcast`. A plain PTB `Application` with `AIORateLimiter` configured for
Telegram's documented limits, as its documentation suggests, long-polls the fake and answers
every resident's text at once (`concurrent_updates`, so only the limiter can delay a reply).
Once polling runs it sends the announcement with `bot.send_message` from one task per
recipient (the usual `asyncio.gather`), or from `--concurrency` tasks. Messages whose retries
ran out are counted, not sent again: that is what this limiter gives a bot that relies on it.
Prints "ready" when polling, "done ok=N failed=M" when the broadcast returned.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal

from telegram import Update
from telegram.error import TelegramError
from telegram.ext import AIORateLimiter, Application, ContextTypes, MessageHandler, filters

REPLY = "Danke, Ihre Nachricht ist angekommen."


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.broadcast_ptb", description=__doc__)
    parser.add_argument("--url", required=True, help="the fake server, http://host:port")
    parser.add_argument("--token", required=True)
    parser.add_argument("--first-chat", type=int, required=True, help="chat id of recipient 0")
    parser.add_argument("--recipients", type=int, required=True)
    parser.add_argument("--text", required=True, help="the announcement; {n} is replaced")
    parser.add_argument("--max-retries", type=int, default=3, help="AIORateLimiter max_retries")
    parser.add_argument(
        "--concurrency", type=int, default=0, help="sending tasks (0: one per recipient)"
    )
    return parser.parse_args(argv)


async def answer(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A resident wrote: one reply, through the same bot and so the same limiter."""
    if update.effective_message is not None:
        await update.effective_message.reply_text(REPLY)


async def broadcast(app: Application, args: argparse.Namespace) -> tuple[int, int]:
    """Send to every recipient; returns (sent, failed)."""
    bot = app.bot
    failed = 0
    queue: list[int] = list(range(args.recipients))

    async def one(n: int) -> bool:
        try:
            await bot.send_message(args.first_chat + n, args.text.format(n=n))
            return True
        except TelegramError as error:
            logging.getLogger(__name__).warning("recipient %d: %s", n, error)
            return False

    if args.concurrency <= 0:
        results = await asyncio.gather(*(one(n) for n in queue))
        failed = results.count(False)
    else:
        pending = iter(queue)

        async def lane() -> int:
            lost = 0
            for n in pending:
                lost += not await one(n)
            return lost

        failed = sum(await asyncio.gather(*(lane() for _ in range(args.concurrency))))
    return args.recipients - failed, failed


async def main_async(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.WARNING)
    limiter = AIORateLimiter(
        overall_max_rate=30,
        overall_time_period=1,
        group_max_rate=20,
        group_time_period=60,
        max_retries=args.max_retries,
    )
    app = (
        Application.builder()
        .token(args.token)
        .base_url(f"{args.url}/bot")
        .base_file_url(f"{args.url}/file/bot")
        .rate_limiter(limiter)
        .concurrent_updates(True)
        .build()
    )
    app.add_handler(MessageHandler(filters.TEXT, answer))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    async with app:
        await app.start()
        assert app.updater is not None
        await app.updater.start_polling(timeout=30, poll_interval=0)
        print("ready", flush=True)
        sending = asyncio.create_task(broadcast(app, args))
        stopping = asyncio.create_task(stop.wait())
        await asyncio.wait([sending, stopping], return_when=asyncio.FIRST_COMPLETED)
        if sending.done():
            sent, failed = sending.result()
            print(f"done ok={sent} failed={failed}", flush=True)
            await stop.wait()
        else:
            sending.cancel()
        stopping.cancel()
        await app.updater.stop()
        await app.stop()
    return 0


def main(argv: list[str] | None = None) -> int:
    return asyncio.run(main_async(parse_args(argv)))


if __name__ == "__main__":
    raise SystemExit(main())
