"""The report draft a deadline reminder carries, rendered when the reminder is sent.

The draft is rendered in a process of its own: a PDF of a large year takes minutes of CPU
and gigabytes of memory in WeasyPrint (see bench/README.md), which must not stall the
conversations the bot process serves, nor stay in its heap. Reminders go to every working
group's chats at once; the draft is rendered once for them all and kept for a few minutes.
Without WeasyPrint the draft goes out as HTML rather than not at all.

What runs in the child is handed in by the composition root (`bot.app`), which wires the app
there: this module never imports the module that wires it.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from bot.report import PdfUnavailable, build_report
from handlers.context import Deps
from handlers.messages import Attachment
from handlers.settings import DatabaseSettings, Settings

logger = logging.getLogger(__name__)
KEEP_SECONDS = 600.0

Rendered = tuple[str, str, bytes]  # file name, MIME type, bytes
# What the child process runs: (settings, year, format, language, the parent's now). A
# module-level function, since the process pool pickles it by name.
RenderInChild = Callable[[Settings, int, str, str, datetime], Rendered]


class ReportDrafts:
    def __init__(self, render_in_child: RenderInChild) -> None:
        self._render_in_child = render_in_child
        self._cache: dict[tuple[int, str, str], tuple[float, Attachment]] = {}
        self._lock = asyncio.Lock()

    async def attachment(
        self, settings: Settings, database_url: str, deps: Deps, spec: dict[str, Any]
    ) -> Attachment:
        year, fmt = int(spec["year"]), str(spec.get("format", "pdf"))
        language = str(spec.get("language") or deps.catalogues.default)
        key = (year, fmt, language)
        async with self._lock:  # one rendering at a time; the others wait for its result
            cached = self._cache.get(key)
            if cached is not None and time.monotonic() - cached[0] < KEEP_SECONDS:
                return cached[1]
            started = time.perf_counter()
            child = replace(settings, database=DatabaseSettings(url=database_url, pool_size=1))
            now = deps.clock.now()
            name, mime_type, data = await _in_child(
                self._render_in_child, child, year, fmt, language, now
            )
            stem, dot, ext = name.rpartition(".")
            file = Attachment("document", f"{stem}-draft{dot}{ext}", mime_type, data)
            self._cache[key] = (time.monotonic(), file)
            logger.info(
                "report draft %s rendered",
                year,
                extra={
                    "format": fmt,
                    "bytes": len(data),
                    "seconds": time.perf_counter() - started,
                },
            )
            return file


@dataclass(frozen=True)
class FixedClock:
    """The parent's time, so that the draft says what it said there (and tests hold)."""

    at: datetime

    def now(self) -> datetime:
        return self.at


async def _in_child(
    render: RenderInChild, settings: Settings, year: int, fmt: str, language: str, now: datetime
) -> Rendered:
    # "spawn": forking a process that runs an event loop and threads is not safe.
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=1, mp_context=context) as pool:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(pool, render, settings, year, fmt, language, now)


async def render_draft(deps: Deps, year: int, fmt: str, language: str) -> Rendered:
    """In the child, on the app wired there: the draft, as HTML where WeasyPrint cannot run."""
    # Sent alone in a chat: a draft that named the appendix files would point to files the
    # coordinators do not have (`mitreden report` writes them beside the report).
    try:
        report = await build_report(
            deps, year, fmt, language=language, draft=True, with_appendix=False
        )
    except PdfUnavailable as error:
        logger.warning("report draft as HTML: no PDF here (%s)", error)
        report = await build_report(
            deps, year, "html", language=language, draft=True, with_appendix=False
        )
    return report.file_name, report.mime_type, report.data
