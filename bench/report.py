"""The year report with 100,000 feedback items: seconds, size and memory per format.

The target: `mitreden report` writes any format of a year with 100,000 items in under 30 s.
What is timed is `bot.report.build_report(app.deps, year, fmt)` on the production wiring
(`bootstrap` over config.example.toml), the call the `report` command makes: reading the
figures in one transaction, writing the document, drawing the charts, rendering the format.
The data is `bot.demo.year.seed_demo` (a fixed seed): a plausible year of items with their history,
the round table and its workshops, seen on 24 November with the year not yet over.

    python -m bench.report --items 100000 --formats md,html,csv
    python -m bench.report --items 5000 --formats pdf
    python -m bench.report --postgres postgresql+asyncpg://user:pw@localhost/mitreden_bench
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import os
import platform
import resource
import tempfile
import time
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from bot.app import bootstrap
from bot.config import load_settings
from bot.demo.year import seed_demo
from bot.report import FORMATS, PdfUnavailable, build_report
from storage.db import Database

REPO = Path(__file__).resolve().parent.parent
TARGET_S = 30.0


class FixedClock:
    """The report's "now" (draft mark, overdue items) stays where the data was seeded:
    24 November of the report's year, 12:00 UTC."""

    def __init__(self, year: int) -> None:
        self._now = datetime(year, 11, 24, 12, tzinfo=UTC)

    def now(self) -> datetime:
        return self._now


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.report",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--year", type=int, default=2026)
    parser.add_argument("--formats", default="md,html,pdf,csv", help="comma-separated")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--postgres",
        metavar="URL",
        help="an existing, empty PostgreSQL database (postgresql+asyncpg://...) instead of a "
        "temporary SQLite file; its tables are created here",
    )
    return parser.parse_args(argv)


def reset_peak_rss() -> None:
    """Linux: writing 5 to clear_refs resets VmHWM, so each format gets its own peak."""
    with contextlib.suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")


def peak_rss_mib() -> float:
    """This process's peak resident memory since the last reset (VmHWM), in MiB."""
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def maxrss_mib() -> float:
    """ru_maxrss (KiB on Linux); read before the first reset, it is the seeding's peak (the
    reset lowers it too)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


@contextlib.asynccontextmanager
async def database(args: argparse.Namespace) -> AsyncIterator[tuple[str, Database]]:
    if args.postgres:
        db = Database(args.postgres)
        try:
            yield "postgres", db
        finally:
            await db.dispose()
        return
    with tempfile.TemporaryDirectory(prefix="mitreden-report-") as tmp:
        db = Database(f"sqlite+aiosqlite:///{tmp}/bench.db")
        try:
            yield "sqlite", db
        finally:
            await db.dispose()


async def main_async(args: argparse.Namespace) -> int:
    formats = [f.strip() for f in args.formats.split(",") if f.strip()]
    unknown = [f for f in formats if f not in FORMATS]
    if unknown:
        raise SystemExit(f"unknown format(s) {', '.join(unknown)}; known: {', '.join(FORMATS)}")
    settings = load_settings(REPO / "config.example.toml", environ={})
    async with database(args) as (engine, db):
        settings = replace(settings, database=replace(settings.database, url=db.url))
        await db.create_all()
        clock = FixedClock(args.year)
        app = (await bootstrap(settings, clock=clock, db=db, migrate=False, channels=())).app
        assert app.deps is not None
        started = time.perf_counter()
        summary = await seed_demo(
            db,
            year=args.year,
            items=args.items,
            now=clock.now(),
            seed=args.seed,
            zone=app.deps.zone,
        )
        seeding, peaks = time.perf_counter() - started, [maxrss_mib()]
        print(
            f"mitreden year report — {engine}, {args.items:,} items, Python "
            f"{platform.python_version()}, {os.cpu_count()} CPU(s)\n"
            f"seeded in {seeding:.1f} s: {summary.contacts:,} contacts, {summary.items:,} "
            f"items, {summary.history:,} history rows, {summary.events} events, "
            f"{summary.workshops} workshops, {summary.registrations} registrations; "
            f"peak RSS {peaks[0]:.0f} MiB",
            flush=True,
        )
        print(f"{'format':<7} {'seconds':>8} {'bytes':>12} {'charts':>7} {'peak RSS':>9}  ×30 s")
        # bytes: the document plus, for Markdown, its chart PNGs (written beside it)
        worst = 0.0
        for fmt in formats:
            gc.collect()  # the seeding's garbage is not the report's
            reset_peak_rss()
            started = time.perf_counter()
            try:
                report = await build_report(app.deps, args.year, fmt)
            except PdfUnavailable as error:
                print(f"{fmt:<7} skipped: WeasyPrint cannot run here ({error})")
                continue
            seconds = time.perf_counter() - started
            worst = max(worst, seconds)
            peaks.append(peak_rss_mib())
            size = len(report.data) + sum(len(png) for png in report.images.values())
            print(
                f"{fmt:<7} {seconds:8.2f} {size:12,} {len(report.images):7} "
                f"{peaks[-1]:6.0f} MiB  {seconds / TARGET_S:.2f}",
                flush=True,
            )
        print(
            f"peak RSS over the whole run: {max(peaks):.0f} MiB (a format's peak includes "
            f"what the process still held from before it)\n"
            f"target: < {TARGET_S:.0f} s per format; the slowest took {worst:.2f} s, "
            f"{worst / TARGET_S:.2f}× the target"
        )
    return 0  # the database is disposed of by `database`, which app.close() would do twice


def main(argv: list[str] | None = None) -> None:
    raise SystemExit(asyncio.run(main_async(parse_args(argv))))


if __name__ == "__main__":
    main()
