"""The mitreden side of the broadcast benchmark: the production process, pointed at the fake.

Run by `bench.broadcast`. It fills a fresh SQLite file with the recipients as contacts and one
outbox row each (keys `bench:<n>`), wired by `bot.app.bootstrap` as `mitreden run` wires it,
then runs `bot.runtime.serve` unchanged: the Telegram channel long-polls the fake and answers
residents directly, `Delivery` drains the outbox paced by the same `ChatLimits` the channel
notes its direct replies in. Everything is set up before `serve` starts, so the driver's
measurement window holds only what production would do.
SIGTERM stops it the way it stops `mitreden run`.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
from dataclasses import replace
from pathlib import Path

from bot.app import App, bootstrap
from bot.config import Settings, load_settings
from bot.ops.logs import configure_logging
from bot.runtime import serve
from handlers.messages import Platform, Reply, reply_to_payload
from storage.contacts import ContactKey
from storage.db import Database
from storage.outbox import NewMessage

REPO = Path(__file__).resolve().parent.parent
KEY_PREFIX = "bench:"
CONTACT_CHUNK = 200


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.broadcast_bot", description=__doc__)
    parser.add_argument("--url", required=True, help="the fake server, http://host:port")
    parser.add_argument("--token", required=True)
    parser.add_argument("--db", required=True, help="SQLite file (created)")
    parser.add_argument("--first-chat", type=int, required=True, help="chat id of recipient 0")
    parser.add_argument("--recipients", type=int, required=True)
    parser.add_argument("--text", required=True, help="the announcement; {n} is replaced")
    parser.add_argument("--workers", type=int, default=0, help="delivery workers (0: config)")
    return parser.parse_args(argv)


def bench_settings(args: argparse.Namespace) -> Settings:
    """`config.example.toml` (the shipped defaults), with the fake's URLs and a bench DB."""
    settings = load_settings(REPO / "config.example.toml", environ={})
    # Only languages whose catalogue is compiled: a checkout mid-translation still runs.
    languages = tuple(
        lang
        for lang in settings.bot.languages
        if lang == "de" or (REPO / "handlers/locales" / lang / "LC_MESSAGES/mitreden.mo").exists()
    )
    delivery = settings.delivery
    if args.workers:
        delivery = replace(delivery, workers=args.workers)
    return replace(
        settings,
        bot=replace(settings.bot, languages=languages),
        database=replace(settings.database, url=f"sqlite+aiosqlite:///{args.db}"),
        delivery=delivery,
        telegram=replace(
            settings.telegram,
            token=args.token,
            base_url=f"{args.url}/bot",
            base_file_url=f"{args.url}/file/bot",
        ),
    )


async def enqueue_broadcast(app: App, args: argparse.Namespace) -> int:
    """Recipients as contacts (as `/start` would have made them), one outbox row each."""
    now = app.clock.now()
    chats = [str(args.first_chat + n) for n in range(args.recipients)]
    contact_ids: list[int] = []
    for start in range(0, len(chats), CONTACT_CHUNK):
        made = await asyncio.gather(
            *(
                app.store.contacts.get_or_add_contact(
                    ContactKey(Platform.TELEGRAM, chat, chat, f"R{chat}"), now
                )
                for chat in chats[start : start + CONTACT_CHUNK]
            )
        )
        contact_ids += [contact.id or 0 for contact, _ in made]
    messages = [
        NewMessage(
            f"{KEY_PREFIX}{n}",
            Platform.TELEGRAM,
            chat,
            reply_to_payload(Reply(args.text.format(n=n))),
            now,
            contact_id=contact_id,
        )
        for n, (chat, contact_id) in enumerate(zip(chats, contact_ids, strict=True))
    ]
    return await app.store.outbox.enqueue(messages, now)


async def main_async(args: argparse.Namespace) -> int:
    settings = bench_settings(args)
    configure_logging(settings.bot.log_level, settings.bot.log_format)
    db = Database(settings.database.url)
    await db.create_all()
    bot = await bootstrap(settings, db=db, migrate=False)
    try:
        added = await enqueue_broadcast(bot.app, args)
        logging.getLogger(__name__).info("bench: %d outbox rows enqueued", added)
        print(f"enqueued {added}", flush=True)
        return await serve(bot)
    finally:
        progress = await bot.app.store.outbox.progress(KEY_PREFIX)
        print(f"outbox {progress.by_state}", flush=True)
        await bot.close()


def main(argv: list[str] | None = None) -> int:
    return asyncio.run(main_async(parse_args(argv)))


if __name__ == "__main__":
    raise SystemExit(main())
