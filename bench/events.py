"""Event planning benchmark: plan ticks over 100,000 registrations across 50 events, and the
documents to 10,000 registrants through the outbox to a fake Bot API with Telegram's limits.

    python -m bench.events                       # 100,000 registrations, 600 documents sent
    python -m bench.events --deliver 10000       # every document sent (about 6 minutes)

What is measured:
- steady tick: `EventPlanner.plan(now)` + `next_due(now)` when nothing new is due (the case
  of almost every tick), median and worst of 20, on SQLite with every row in place;
- fan-out tick: the tick at which one event's documents fall due (2,000 registrants);
- documents to 10,000 registrants of one event: the enqueue tick, then delivery of
  `--deliver` of them by the production `Delivery` + `TelegramSender` (`ChatLimits` at 30
  messages a second) to `testkit.fakebotapi` with its flood limits on; the fake's file store
  shows how often the document was uploaded (once), the rest went by Telegram file_id.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import insert, text
from telegram import Bot

from bot.app import App, bootstrap
from bot.channels.telegram.send import TelegramSender
from bot.config import load_settings
from bot.delivery.loop import Delivery
from bot.delivery.ratelimit import ChatLimits
from handlers.events.planner import EventPlanner
from handlers.settings import DeliverySettings
from storage.db import Database
from storage.events.models import Event, EventStage, Registration
from storage.models import Contact
from testkit.fakebotapi.server import FakeBotApi
from testkit.support import EXAMPLE_CONFIG

START = datetime(2027, 9, 22, 8, 0, tzinfo=UTC)
LIMIT = 30.0
FIRST_USER = 500_000_000


class Clock:
    def __init__(self, now: datetime) -> None:
        self.moment = now

    def now(self) -> datetime:
        return self.moment


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.events",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--events", type=int, default=50)
    parser.add_argument("--registrations", type=int, default=100_000)
    parser.add_argument("--big", type=int, default=10_000, help="registrants of the big event")
    parser.add_argument("--deliver", type=int, default=600, help="documents actually sent")
    return parser.parse_args(argv)


async def seed(app: App, events: int, registrations: int, big: int, now: datetime) -> list[int]:
    """`events` events; the first has `big` registrants, the rest share the remainder."""
    ids: list[int] = []
    for n in range(events):
        starts = START + timedelta(days=30 + n)
        event = await app.store.events.add_event(
            Event(
                slug=f"e{n}",
                title=f"Runder Tisch {n}",
                place="Bürgersaal",
                starts_at=starts,
                ends_at=starts + timedelta(hours=6),
                registration_opens_at=now - timedelta(days=30),
                registration_deadline=starts - timedelta(days=5),
                created_at=now,
                updated_at=now,
            )
        )
        assert event.id is not None
        ids.append(event.id)
    contacts = [
        {
            "platform": "telegram",
            "user_id": str(FIRST_USER + i),
            "chat_id": str(FIRST_USER + i),
            "language": ("de", "en", "tr", "ar")[i % 4],
            "subscribed": True,
            "created_at": now,
            "last_seen_at": now,
        }
        for i in range(registrations)
    ]
    rest = (registrations - big) // max(1, events - 1)
    regs = []
    for i in range(registrations):
        event_index = 0 if i < big else min(events - 1, 1 + (i - big) // max(1, rest))
        regs.append(
            {
                "event_id": ids[event_index],
                "contact_id": i + 1,
                "state": "registered",
                "code": f"C{i:07d}",
                "created_at": now,
                "updated_at": now,
            }
        )
    # The invitations of every event are done; nothing else is due yet.
    stages = [{"event_id": i, "stage": "invite:s1", "done_at": now, "messages": 0} for i in ids]

    def work(session: Any) -> None:
        for table, rows in ((Contact, contacts), (Registration, regs), (EventStage, stages)):
            for start in range(0, len(rows), 5000):
                session.execute(insert(table), rows[start : start + 5000])

    await app.db.run(work)
    return ids


async def timed(call: Any) -> tuple[float, Any]:
    began = time.perf_counter()
    result = await call
    return (time.perf_counter() - began) * 1000, result


async def deliver(app: App, count: int, event_id: int) -> dict[str, Any]:
    """Send `count` of the queued documents to the fake Bot API under Telegram's limits."""
    api = FakeBotApi(limits=True)
    await api.start()
    for i in range(count):
        api.add_user(f"R{i}", user_id=FIRST_USER + i)

    def postpone_rest(session: Any) -> None:
        """Only the first `count` rows of the big event are sent; the others wait."""
        session.execute(
            text(
                "UPDATE outbox SET due_at = '2099-01-01 00:00:00' WHERE NOT "
                "(idempotency_key LIKE :k AND CAST(chat_id AS INTEGER) < :limit)"
            ),
            {"k": f"ev{event_id}:docs:%", "limit": FIRST_USER + count},
        )

    await app.db.run(postpone_rest)
    files_before = len(api.files)
    bot = Bot(api.token, base_url=api.base_url, base_file_url=api.base_file_url)
    stop = asyncio.Event()
    async with bot:
        limits = ChatLimits(
            per_second=LIMIT, private_interval=1.0, group_per_minute=20, clock=time.monotonic
        )
        delivery = Delivery(
            app.store.outbox,
            {"telegram": TelegramSender(bot)},
            {"telegram": limits},
            app.clock,
            settings=DeliverySettings(workers=8),
            resolve=app.resolve,
        )
        began = time.perf_counter()
        task = asyncio.create_task(delivery.run(stop))
        while delivery.stats.sent + delivery.stats.dead < count:  # noqa: ASYNC110  (polls stats)
            await asyncio.sleep(0.2)
        elapsed = time.perf_counter() - began
        stop.set()
        await task
    await api.stop()
    documents = api.calls("sendDocument", status=200)
    return {
        "sent": delivery.stats.sent,
        "dead": delivery.stats.dead,
        "rate_limited": delivery.stats.rate_limited,
        "seconds": elapsed,
        "rate": len(documents) / elapsed if elapsed else 0.0,
        "uploads": len(api.files) - files_before,
        "send_document": len(documents),
        "status_429": len(api.calls(status=429)),
    }


async def run(args: argparse.Namespace) -> None:
    settings = load_settings(EXAMPLE_CONFIG, environ={})
    settings = replace(settings, bot=replace(settings.bot, administrators=()))
    now = START - timedelta(days=20)
    clock = Clock(now)
    with tempfile.TemporaryDirectory() as tmp:
        db = Database(f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}")
        await db.create_all()
        app = (await bootstrap(settings, clock=clock, db=db, migrate=False, channels=())).app
        try:
            began = time.perf_counter()
            ids = await seed(app, args.events, args.registrations, args.big, now)
            print(
                f"seeded {args.events} events, {args.registrations:,} registrations "
                f"in {time.perf_counter() - began:.1f} s (SQLite, {tmp})"
            )
            for event_id in ids:  # every event has its documents; none are due yet
                await app.store.events.add_document(
                    event_id,
                    "Programm",
                    "programm.pdf",
                    "application/pdf",
                    b"%PDF-1.7 " * 20_000,
                    now,
                )
            assert app.deps is not None
            planner = EventPlanner(app.deps)
            await planner.plan(now)  # warm up; nothing due
            steady = []
            for _ in range(20):
                ms, added = await timed(planner.plan(now))
                ms2, _ = await timed(planner.next_due(now))
                assert added == 0
                steady.append(ms + ms2)
            print(
                f"steady tick (plan + next_due, nothing due) over {args.registrations:,} "
                f"registrations: median {statistics.median(steady):.1f} ms, "
                f"worst {max(steady):.1f} ms (target < 200 ms)"
            )
            big = await app.store.events.get_event(ids[0])
            assert big is not None
            clock.moment = big.starts_at - timedelta(days=14)
            ms, added = await timed(planner.plan(clock.moment))
            print(
                f"documents to {added:,} registrants of one event enqueued in {ms:.0f} ms "
                f"(one tick)"
            )
            second = await app.store.events.get_event(ids[1])
            assert second is not None
            ms, added = await timed(planner.plan(second.starts_at - timedelta(days=14)))
            print(
                f"fan-out tick: documents of the next event to {added:,} registrants "
                f"enqueued in {ms:.0f} ms"
            )
            figures = await deliver(app, args.deliver, ids[0])
            print(
                f"delivered {figures['sent']:,} of them in {figures['seconds']:.1f} s: "
                f"{figures['rate']:.1f} sendDocument/s ({figures['rate'] / LIMIT:.0%} of "
                f"Telegram's {LIMIT:.0f}/s), 429s {figures['status_429']}, "
                f"uploads {figures['uploads']} (then file_id for the other "
                f"{figures['send_document'] - figures['uploads']:,}), dead {figures['dead']}"
            )
        finally:
            await app.close()


def main(argv: list[str] | None = None) -> int:
    asyncio.run(run(parse_args(argv)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
