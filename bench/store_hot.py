"""The store calls every resident update pays for, one at a time, against a budget.

A profile of the Telegram intake benchmark put most of the bot's GIL time in the SQLite
thread, almost all of it SQLAlchemy's Python work around four calls. This times each of them
alone, on the production wiring (`bootstrap` from config.example.toml, with a notification
chat per working group as `testkit.support.coordination_settings` gives them):

- `open_turn`: an existing contact seen again within `LAST_SEEN_RESOLUTION` (no refresh
  write), who is in the middle of the feedback flow, so the flow step is read as well;
- `set_state`: the next step of the feedback flow (upsert, version returned);
- `add_item`: the confirmation, with `conversation_version` and the real `notify` of the
  intake flow (`handlers.coordination.notify.group_notifications`: one outbox message per
  group chat);
  no attachments. The `set_state` that gives each item its conversation is not timed;
- `get_group`: the group the item was routed to, for the thank-you reply.

Wall time per call (p50/p95/p99) and CPU per call (`time.process_time`, every thread of
this process) are printed with the CPU's ratio to 100 µs per call. On SQLite, "in tx" is the
CPU of the transaction alone (`time.thread_time` around the session and the store's work on
the database thread, where `Database.run` runs it); the rest is the event loop's part and the
hand-off to the database thread and back.

    python -m bench.store_hot [--calls 2000] [--postgres]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import storage.db
from bench.measure import percentile
from bot.app import App, bootstrap
from bot.config import load_settings
from handlers.coordination.notify import group_notifications
from storage.contacts import ContactKey
from storage.db import Database
from storage.items.feedback import NewItem
from storage.models import FeedbackItem, GroupChat
from storage.outbox import NewMessage
from testkit.support import EXAMPLE_CONFIG, coordination_settings

T = TypeVar("T")
BUDGET_US = 100.0
START = datetime(2026, 6, 15, 12, 0, tzinfo=UTC)
FIELD = "bildung"  # owned by uag-bildung, which has a notification chat
FLOW_DATA = {"text": "Mehr Sprachkurse am Abend, bitte.", "kind": "suggestion"}


@dataclass(frozen=True)
class Result:
    name: str
    wall_us: list[float]  # sorted
    cpu_us: float  # per call
    db_us: float | None  # per call, CPU inside the SQLite transaction; None on PostgreSQL


class TransactionCpu:
    """Adds up the CPU spent inside SQLite transactions on the database thread (a wrapper
    around `storage.db._run_on`, which runs every one of them: benchmark-only)."""

    def __init__(self, db: Database) -> None:
        self.seconds = 0.0
        inner = getattr(storage.db, "_run_on", None)
        self.active = db.is_sqlite and inner is not None
        if not self.active:
            return

        def run_on(engine: Any, work: Callable[[Any], T]) -> T:
            start = time.thread_time()
            try:
                return inner(engine, work)  # type: ignore[misc]
            finally:
                self.seconds += time.thread_time() - start

        storage.db._run_on = run_on


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.store_hot",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--calls", type=int, default=2000, help="timed calls per store call")
    parser.add_argument("--warmup", type=int, default=200, help="untimed calls first")
    parser.add_argument("--contacts", type=int, default=200, help="residents the calls cycle")
    parser.add_argument("--postgres", action="store_true", help="PostgreSQL instead of SQLite")
    return parser.parse_args(argv)


class Clock:
    """Moves a millisecond per reading: contacts stay within LAST_SEEN_RESOLUTION."""

    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        self.now += timedelta(milliseconds=1)
        return self.now


async def timed(
    transactions: TransactionCpu,
    name: str,
    call: Callable[[int], Awaitable[object]],
    calls: int,
    warmup: int,
    before: Callable[[int], Awaitable[object]] | None = None,
) -> Result:
    """Time `call(i)` for i in range(calls) after `warmup` untimed calls; `before(i)` runs
    untimed ahead of each call (to prepare what the call consumes)."""
    for i in range(warmup):
        if before is not None:
            await before(i)
        await call(i)
    gc.collect()
    wall: list[float] = []
    cpu = db = 0.0
    for i in range(warmup, warmup + calls):
        if before is not None:
            await before(i)
        db_start = transactions.seconds
        cpu_start, start = time.process_time(), time.perf_counter()
        await call(i)
        wall.append((time.perf_counter() - start) * 1e6)
        cpu += time.process_time() - cpu_start
        db += transactions.seconds - db_start
    return Result(
        name, sorted(wall), cpu / calls * 1e6, db / calls * 1e6 if transactions.active else None
    )


async def run(app: App, args: argparse.Namespace) -> list[Result]:
    store, deps, clock = app.store, app.deps, Clock()
    transactions = TransactionCpu(app.db)
    assert deps is not None
    keys = [
        ContactKey("telegram", f"u{n}", f"c{n}", f"Resident {n}") for n in range(args.contacts)
    ]
    ids: list[int] = []
    for key in keys:
        contact, _ = await store.contacts.get_or_add_contact(key, clock())
        assert contact.id is not None
        ids.append(contact.id)
        await store.conversations.set_state(contact.id, "feedback", "kind", FLOW_DATA, clock())
    field = await store.groups.get_field(FIELD)

    def announce(item: FeedbackItem, chats: list[GroupChat], files: list[int]) -> list[NewMessage]:
        return group_notifications(
            deps,
            item,
            chats,
            files,
            field=field,
            author_name="Resident",
            headline="Neue Rückmeldung",
            event="item-new",
            now=clock.now,
        )

    def contact_of(i: int) -> int:
        return ids[i % len(ids)]

    versions: dict[int, int] = {}

    async def prepare_item(i: int) -> None:
        data = {**FLOW_DATA, "field": FIELD, "anonymous": True}
        versions[i] = await store.conversations.set_state(
            contact_of(i), "feedback", "confirm", data, clock()
        )

    async def add_item(i: int) -> None:
        new = NewItem(
            contact_of(i), "suggestion", FIELD, FLOW_DATA["text"], "de", True, "telegram"
        )
        item = await store.feedback.add_item(
            new, clock(), reference_year=2026, conversation_version=versions[i], notify=announce
        )
        assert item is not None and item.group_key == "uag-bildung"

    async def open_turn(i: int) -> None:
        _, created, state = await store.contacts.open_turn(keys[i % len(keys)], clock())
        assert not created and state is not None

    async def set_state(i: int) -> None:
        await store.conversations.set_state(contact_of(i), "feedback", "field", FLOW_DATA, clock())

    # open_turn first: it must find every contact in a flow, and add_item ends flows.
    results = [
        await timed(transactions, "open_turn", open_turn, args.calls, args.warmup),
        await timed(transactions, "set_state", set_state, args.calls, args.warmup),
        await timed(
            transactions, "add_item", add_item, args.calls, args.warmup, before=prepare_item
        ),
        await timed(
            transactions,
            "get_group",
            lambda _: store.groups.get_group("uag-bildung"),
            args.calls,
            args.warmup,
        ),
    ]
    return results


def report(results: list[Result]) -> None:
    print(
        f"   {'call':<10} {'p50':>7} {'p95':>7} {'p99':>7} {'CPU':>7} {'in tx':>7}"
        f"  CPU/{BUDGET_US:.0f}  (µs per call)"
    )
    for r in results:
        p50, p95, p99 = (percentile(r.wall_us, q) for q in (0.50, 0.95, 0.99))
        db = "-" if r.db_us is None else f"{r.db_us:.0f}"
        print(
            f"   {r.name:<10} {p50:7.0f} {p95:7.0f} {p99:7.0f} {r.cpu_us:7.0f} {db:>7}"
            f"  {r.cpu_us / BUDGET_US:7.2f}"
        )


async def bench(url: str, args: argparse.Namespace) -> None:
    settings = coordination_settings(load_settings(EXAMPLE_CONFIG, environ={}))
    db = Database(url)
    await db.create_all()
    app = (await bootstrap(settings, db=db, migrate=False, channels=())).app
    try:
        report(await run(app, args))
    finally:
        await app.close()


async def main_async(args: argparse.Namespace) -> None:
    engine = "PostgreSQL" if args.postgres else "SQLite"
    print(
        f"mitreden store hot path — {engine}, {args.calls} calls each after {args.warmup} "
        f"warm-up, {args.contacts} contacts, Python {sys.version.split()[0]}, "
        f"{os.cpu_count()} CPUs"
    )
    if args.postgres:
        from testkit.pgserver import TemporaryPostgres

        with TemporaryPostgres() as server:
            await bench(server.url, args)
    else:
        with tempfile.TemporaryDirectory(prefix="mitreden-store-hot-") as tmp:
            await bench(f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}", args)
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"   load average at the end {load} (other processes inflate the figures)")


def main(argv: list[str] | None = None) -> None:
    asyncio.run(main_async(parse_args(argv)))


if __name__ == "__main__":
    main()
