"""The report draft a deadline reminder carries, rendered when the reminder is sent.

Reminders go to every working group's chats at once; the draft is rendered once for them
all and kept for a few minutes. Without WeasyPrint the draft goes out as HTML rather than
not at all.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from handlers.context import Deps
from handlers.messages import Attachment

logger = logging.getLogger(__name__)
KEEP_SECONDS = 600.0


class ReportDrafts:
    def __init__(self) -> None:
        self._cache: dict[tuple[int, str, str], tuple[float, Attachment]] = {}

    async def attachment(self, deps: Deps, spec: dict[str, Any]) -> Attachment:
        from bot.report import PdfUnavailable, build_report  # matplotlib loads only when used

        year, fmt = int(spec["year"]), str(spec.get("format", "pdf"))
        language = str(spec.get("language") or deps.catalogues.default)
        key = (year, fmt, language)
        cached = self._cache.get(key)
        if cached is not None and time.monotonic() - cached[0] < KEEP_SECONDS:
            return cached[1]
        try:
            report = await build_report(deps, year, fmt, language=language, draft=True)
        except PdfUnavailable as error:
            logger.warning("report draft as HTML: no PDF here (%s)", error)
            report = await build_report(deps, year, "html", language=language, draft=True)
        stem, dot, ext = report.file_name.rpartition(".")
        file = Attachment("document", f"{stem}-draft{dot}{ext}", report.mime_type, report.data)
        self._cache[key] = (time.monotonic(), file)
        return file
