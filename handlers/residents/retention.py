"""Retention: personal data of residents gone quiet is erased, finished items are anonymised.
Runs from the scheduler once a day (and on demand: `mitreden privacy purge`)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from handlers.context import Deps
from handlers.public_text import anonymous_text
from storage.privacy import Erased

logger = logging.getLogger(__name__)
EVERY = timedelta(hours=24)


@dataclass(frozen=True, slots=True)
class Purge:
    inactive_contacts: int
    finished_items: int
    erased: Erased | None = None  # None for a dry run


async def purge(deps: Deps, now: datetime, *, dry_run: bool) -> Purge:
    """Apply the retention periods at `now`; with `dry_run`, only count what would go."""
    privacy = deps.store.privacy
    contacts_before = now - timedelta(days=deps.settings.privacy.inactive_contact_days)
    items_before = now - timedelta(days=deps.settings.privacy.finished_item_days)
    inactive = await privacy.list_inactive(contacts_before)
    finished = await privacy.list_finished_before(items_before)
    if dry_run:
        return Purge(len(inactive), len(finished))
    erased = await privacy.erase_inactive(contacts_before, scrub=anonymous_text)
    anonymised = await privacy.anonymise_finished(items_before, scrub=anonymous_text)
    logger.info(
        "retention: %d inactive contact(s) erased, %d finished item(s) anonymised",
        erased.contacts,
        anonymised,
    )
    return Purge(erased.contacts, anonymised, erased)


class RetentionPlanner:
    """Sends nothing; it rides on the scheduler's tick to purge once a day."""

    name = "retention"

    def __init__(self, deps: Deps) -> None:
        self._deps = deps
        self._last: datetime | None = None

    async def plan(self, now: datetime) -> int:
        if self._last is not None and now - self._last < EVERY:
            return 0
        self._last = now
        await purge(self._deps, now, dry_run=False)
        return 0

    async def next_due(self, now: datetime) -> datetime | None:
        return None
