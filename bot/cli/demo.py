"""`mitreden demo --year 2026 --items 500 [--seed 7] [--again]`: fill the database with demo
data.

A plausible year of residents' feedback, its history and the year's events (see `bot.demo.year`),
for trying `/pending`, `/outcomes` and `mitreden report` without real residents. It adds to
whatever the database holds, so point it at a database of its own, never the production one.
A second run would add a second set of residents and items on top (the report's figures
double), so it is refused unless asked for with `--again`.
"""

from __future__ import annotations

import argparse
import sys
import time

from bot.app import App
from bot.cli.groups import WithApp
from bot.cli.helptext import examples
from bot.demo.year import DemoSummary, seed_demo
from storage.demo import count_demo_contacts


def add_parsers(commands: argparse._SubParsersAction, with_app: WithApp) -> None:
    parser = commands.add_parser(
        "demo",
        help="fill the database with a year of demo feedback",
        description="Fill the database with a plausible year of residents' feedback, its "
        "history, and the year's round table with registrations, to try /pending, /outcomes "
        "and `mitreden report` without real residents. It adds to what the database holds: "
        "point it at a database of its own (MITREDEN_DATABASE_URL), never the production one. "
        "A database that already has demo data gets more only with --again.",
        epilog=examples(
            "MITREDEN_DATABASE_URL=sqlite+aiosqlite:////tmp/demo.db mitreden demo --year 2026",
            "mitreden demo --year 2026 --items 600 --seed 3",
        ),
    )
    parser.add_argument("--year", type=int, required=True, help="the calendar year, e.g. 2026")
    parser.add_argument("--items", type=int, default=500, help="feedback items (default: 500)")
    parser.add_argument(
        "--seed", type=int, default=7, help="the same seed gives the same data (default: 7)"
    )
    parser.add_argument(
        "--again",
        action="store_true",
        help="add another set of demo data to a database that already has some",
    )
    parser.set_defaults(action=with_app(run_demo))


async def run_demo(app: App, args: argparse.Namespace) -> int:
    if args.items < 0:
        print("mitreden: --items must not be negative", file=sys.stderr)
        return 2
    earlier = await count_demo_contacts(app.db)
    if earlier and not args.again:
        print(
            f"mitreden: this database already holds demo data ({_count(earlier, 'demo resident')}"
            "); another run adds as many residents and items again on top. Add --again to do "
            "that, or start from an empty database",
            file=sys.stderr,
        )
        return 2
    zone = app.deps.zone if app.deps is not None else None
    started = time.perf_counter()
    try:
        summary = await seed_demo(
            app.db,
            year=args.year,
            items=args.items,
            now=app.clock.now(),
            seed=args.seed,
            zone=zone,
        )
    except ValueError as error:
        print(f"mitreden: {error}", file=sys.stderr)
        return 1
    print(f"added {_summary(summary)} in {time.perf_counter() - started:.1f} s")
    return 0


def _summary(summary: DemoSummary) -> str:
    return (
        f"{_count(summary.contacts, 'contact')}, {_count(summary.items, 'item')} with "
        f"{_count(summary.history, 'history row')}, {_count(summary.events, 'event')} with "
        f"{_count(summary.workshops, 'workshop')} and "
        f"{_count(summary.registrations, 'registration')}"
    )


def _count(n: int, noun: str) -> str:
    """`n` and `noun`, in the plural unless `n` is 1: "1 workshop", "2 workshops"."""
    return f"{n:,} {noun}" if n == 1 else f"{n:,} {noun}s"
