"""The yardstick for bench/telegram_intake.py: the same feedback flow as a plain
python-telegram-bot bot would write it, `ConversationHandler` + `PicklePersistence`, the
default HTTPX backend, one Bot API call per reply and one per pressed button.

It stores nothing but the conversation state and a counter (no database), so its figures are
an upper bound for what the library itself allows on this machine.

    python -m bench.telegram_intake --bot ptb-baseline
"""

from __future__ import annotations

import argparse
import asyncio
import signal
from pathlib import Path

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    ContextTypes,
    ConversationHandler,
    MessageHandler,
    PicklePersistence,
    filters,
)

STEPS = ("kind", "field", "anon", "confirm")
OPTIONS = {
    "kind": ("suggestion", "criticism", "question", "praise"),
    "field": ("bildung", "arbeit", "wohnen", "gesundheit", "antirassismus", "teilhabe"),
    "anon": ("anonymous", "named"),
    "confirm": ("send", "cancel"),
}


def keyboard(step: str) -> InlineKeyboardMarkup:
    buttons = [InlineKeyboardButton(v, callback_data=f"v0:{step}:{v}") for v in OPTIONS[step]]
    return InlineKeyboardMarkup([buttons[i : i + 2] for i in range(0, len(buttons), 2)])


async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
    assert update.message is not None and context.user_data is not None
    context.user_data["text"] = update.message.text
    await update.message.reply_text(
        "Was für eine Rückmeldung ist das?", reply_markup=keyboard("kind")
    )
    return 1


async def answer(update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
    query = update.callback_query
    assert query is not None and query.data is not None and context.user_data is not None
    await query.answer()
    _, step, value = query.data.split(":")
    context.user_data[step] = value
    index = STEPS.index(step)
    if index + 1 < len(STEPS):
        await query.edit_message_text(
            f"Frage {index + 2}", reply_markup=keyboard(STEPS[index + 1])
        )
        return index + 2
    bot_data = context.bot_data
    bot_data["n"] = bot_data.get("n", 0) + 1
    await query.edit_message_text(f"Danke! Ihre Referenz: F-2026-{bot_data['n']:04d}")
    return ConversationHandler.END


async def serve(args: argparse.Namespace) -> None:
    persistence = PicklePersistence(Path(args.db).with_suffix(".pickle"))
    application = (
        Application.builder()
        .token(args.token)
        .base_url(f"{args.url}/bot")
        .base_file_url(f"{args.url}/file/bot")
        .persistence(persistence)
        .build()
    )
    buttons = CallbackQueryHandler(answer)
    application.add_handler(
        ConversationHandler(
            entry_points=[MessageHandler(filters.TEXT & ~filters.COMMAND, start)],
            states={n: [buttons] for n in range(1, len(STEPS) + 1)},
            fallbacks=[],
            name="feedback",
            persistent=True,
            per_message=False,
        )
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    async with application:
        await application.start()
        assert application.updater is not None
        await application.updater.start_polling(poll_interval=0, timeout=30)
        print("ready", flush=True)
        await stop.wait()
        await application.updater.stop()
        await application.stop()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.ptb_baseline_bot")
    for name in ("--url", "--token", "--db"):
        parser.add_argument(name, required=True)
    parser.add_argument("--request", default="httpx", help="ignored: PTB's default backend")
    parser.add_argument("--profile", help="ignored")
    asyncio.run(serve(parser.parse_args(argv)))


if __name__ == "__main__":
    main()
