"""`mitreden demo --year 2026 --items 500 [--seed 7]`: fill the database with demo data.

A plausible year of residents' feedback, its history and the year's events (see `bot.demo.year`),
for trying `/pending`, `/outcomes` and `mitreden report` without real residents. It adds to
whatever the database holds, so point it at a database of its own, never the production one.
"""

from __future__ import annotations

import argparse
import sys
import time

from bot.app import App
from bot.cli.groups import WithApp
from bot.demo.year import seed_demo


def add_parsers(commands: argparse._SubParsersAction, with_app: WithApp) -> None:
    parser = commands.add_parser("demo", help="fill the database with a year of demo feedback")
    parser.add_argument("--year", type=int, required=True, help="the calendar year, e.g. 2026")
    parser.add_argument("--items", type=int, default=500, help="feedback items (default: 500)")
    parser.add_argument("--seed", type=int, default=7, help="the same seed, the same data")
    parser.set_defaults(action=with_app(run_demo))


async def run_demo(app: App, args: argparse.Namespace) -> int:
    if args.items < 0:
        print("mitreden: --items must not be negative", file=sys.stderr)
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
    print(
        f"added {summary.contacts:,} contacts, {summary.items:,} items with "
        f"{summary.history:,} history rows, {summary.events} events with "
        f"{summary.workshops} workshops and {summary.registrations} registrations "
        f"in {time.perf_counter() - started:.1f} s"
    )
    return 0
