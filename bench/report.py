"""The year report with 100,000 feedback items: seconds, size, pages and memory per format.

The targets: `mitreden report` writes any format of a year with 100,000 items in under 30 s;
the PDF in under 1 GiB peak memory, in at most 5× the time of the Markdown on the same data,
and in at most about 60 pages. What is timed is `bot.report.build_report(app.deps, year,
fmt)` on the production wiring (`bootstrap` over config.example.toml), the call the `report`
command makes: reading the figures (the year's and the same span of the year before),
writing the document, drawing the charts, writing the appendix (every recommendation, HTML
and CSV) for md, html and pdf, rendering the format. The data is `bot.demo.year.seed_demo`
(fixed seeds): a plausible year of items with their history, the round table and its
workshops, seen on 24 November with the year not yet over, and the year before with 80 % as
many items.

Each format runs `--rounds` times (default 3); the table shows the median and the spread
(min–max), because other work on the machine shows in single runs. The load average is
printed before and after.

    python -m bench.report --items 100000
    python -m bench.report --items 5000 --formats md,pdf --rounds 5
    python -m bench.report --postgres postgresql+asyncpg://user:pw@localhost/mitreden_bench
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import io
import os
import platform
import resource
import statistics
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
TARGET_RSS_MIB = 1024.0
TARGET_PDF_OVER_MD = 5.0
TARGET_PAGES = 60


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
    parser.add_argument("--formats", default="md,html,pdf,csv,xlsx", help="comma-separated")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--previous",
        type=float,
        default=0.8,
        metavar="SHARE",
        help="items of the year before, as a share of --items (default 0.8; 0: none)",
    )
    parser.add_argument("--rounds", type=int, default=3, help="runs per format (default 3)")
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
        previous_items = int(args.items * args.previous)
        if previous_items:
            await seed_demo(
                db,
                year=args.year - 1,
                items=previous_items,
                now=datetime(args.year - 1, 12, 31, 12, tzinfo=UTC),
                seed=args.seed + 1,
                zone=app.deps.zone,
            )
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
            f"mitreden year report — {engine}, {args.items:,} items ({previous_items:,} the "
            f"year before), Python {platform.python_version()}, {os.cpu_count()} CPU(s), "
            f"load average {load()}\n"
            f"seeded in {seeding:.1f} s: {summary.contacts:,} contacts, {summary.items:,} "
            f"items, {summary.history:,} history rows, {summary.events} events, "
            f"{summary.workshops} workshops, {summary.registrations} registrations; "
            f"peak RSS {peaks[0]:.0f} MiB",
            flush=True,
        )
        print(
            f"{'format':<7} {'median s':>8} {'min–max s':>13} {'bytes':>12} {'pages':>6} "
            f"{'files':>6} {'peak RSS':>9}"
        )
        # bytes: the document plus what is written beside it (chart PNGs, the appendix)
        medians: dict[str, float] = {}
        peak: dict[str, float] = {}
        pdf_page_count = 0
        for fmt in formats:
            times: list[float] = []
            rss: list[float] = []
            report = None
            for _ in range(args.rounds):
                gc.collect()  # the previous run's garbage is not this one's
                reset_peak_rss()
                started = time.perf_counter()
                try:
                    report = await build_report(app.deps, args.year, fmt)
                except PdfUnavailable as error:
                    print(f"{fmt:<7} skipped: WeasyPrint cannot run here ({error})")
                    break
                times.append(time.perf_counter() - started)
                rss.append(peak_rss_mib())
            if report is None or not times:
                continue
            medians[fmt], peak[fmt] = statistics.median(times), max(rss)
            extra = {**report.images, **report.appendix}
            size = len(report.data) + sum(len(data) for data in extra.values())
            if fmt == "pdf":
                pdf_page_count = pdf_pages(report.data)
            pages = str(pdf_page_count) if fmt == "pdf" else "–"
            print(
                f"{fmt:<7} {medians[fmt]:8.2f} {min(times):6.2f}–{max(times):<6.2f} "
                f"{size:12,} {pages:>6} {len(extra):6} {max(rss):6.0f} MiB",
                flush=True,
            )
        worst = max(medians.values(), default=0.0)
        print(f"load average after: {load()}")
        print(
            f"target: < {TARGET_S:.0f} s per format; the slowest (median) took {worst:.2f} s, "
            f"{worst / TARGET_S:.2f}× the target"
        )
        if "pdf" in medians:
            print(
                f"pdf: peak RSS {peak['pdf']:.0f} MiB (target < {TARGET_RSS_MIB:.0f}), "
                f"{pdf_page_count} pages (target about {TARGET_PAGES} at most)"
            )
        if "pdf" in medians and "md" in medians:
            ratio = medians["pdf"] / medians["md"]
            print(
                f"pdf / md (medians): {medians['pdf']:.2f} s / {medians['md']:.2f} s = "
                f"{ratio:.2f}× (target ≤ {TARGET_PDF_OVER_MD:.0f}×)"
            )
    return 0  # the database is disposed of by `database`, which app.close() would do twice


def load() -> str:
    """The 1-minute load average: how busy the machine was around the runs."""
    with contextlib.suppress(OSError):
        return f"{os.getloadavg()[0]:.1f}"
    return "?"


def pdf_pages(data: bytes) -> int:
    """A PDF's page count (pikepdf, from the dev extras, as the tests read PDFs)."""
    import pikepdf

    with pikepdf.open(io.BytesIO(data)) as pdf:
        return len(pdf.pages)


def main(argv: list[str] | None = None) -> None:
    raise SystemExit(asyncio.run(main_async(parse_args(argv))))


if __name__ == "__main__":
    main()
