"""Reminders before the year report is due, derived from the round table's date.

The city reports to its council a set number of days before the yearly round table. Each
working group's chats and the administrators are reminded some weeks and again some days
before that, with the current draft attached (the delivery renders it when it sends, so it
holds the figures of that moment) and with what the group still has to do. The stage key
carries the event's schedule version: postponing the round table moves the reminders.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta

from handlers.context import Deps, Voice, voice
from handlers.events.texts import payload_of
from handlers.messages import Reply
from storage.events.models import Event
from storage.events.registrations import Audience
from storage.outbox import NewMessage

logger = logging.getLogger(__name__)
REPORT_DRAFT = "report_draft"  # the payload key the delivery renders a draft for


def days_before(deps: Deps, moment: datetime, days: int) -> datetime:
    """`days` calendar days before `moment` at the same time on the city's clocks, also
    across a change to or from summer time."""
    wall = moment.astimezone(deps.zone).replace(tzinfo=None) - timedelta(days=days)
    return wall.replace(tzinfo=deps.zone).astimezone(moment.tzinfo)


def report_due(deps: Deps, event: Event) -> datetime:
    return days_before(deps, event.starts_at, deps.settings.report.due_days_before_round_table)


def report_year(deps: Deps, due: datetime) -> int:
    """The report due at `due` is on the calendar year it falls in (city time)."""
    return due.astimezone(deps.zone).year


class ReportPlanner:
    name = "report"

    def __init__(self, deps: Deps) -> None:
        self._deps = deps

    def _reminders(self, event: Event) -> Iterator[tuple[int, datetime, datetime]]:
        """(days before due, when, due) of each reminder of the report due before `event`."""
        due = report_due(self._deps, event)
        for days in sorted(self._deps.settings.report.reminder_days_before_due, reverse=True):
            yield days, days_before(self._deps, due, days), due

    async def _round_tables(self, now: datetime) -> list[tuple[Event, set[str]]]:
        """The coming round tables (planned or postponed) with the stages already done."""
        view = await self._deps.store.events.plan_view(now)
        return [
            (e, set(view.stages.get(e.id or 0, {})))
            for e in view.events
            if e.round_table and e.starts_at > now
        ]

    async def plan(self, now: datetime) -> int:
        """Send the latest reminder that is due and not sent; an earlier one missed while
        the bot was down is not sent after a later one is due."""
        added = 0
        for event, done in await self._round_tables(now):
            assert event.id is not None
            current = [r for r in self._reminders(event) if r[1] <= now < r[2]]
            if not current:
                continue
            days, _, due = current[-1]
            stage = f"report-d{days}:s{event.schedule_version}"
            if stage in done:  # sent; do not count the groups' items again every tick
                continue
            messages = await self._messages(event, days, due, now)
            new = await self._deps.store.registrations.fire_stage(
                event.id, stage, Audience.NOBODY, _these(messages), now
            )
            if new is not None:
                logger.info("report due %s: reminder %s enqueued %d", due.date(), stage, new)
                added += new
        return added

    async def next_due(self, now: datetime) -> datetime | None:
        upcoming = [
            when
            for event, _done in await self._round_tables(now)
            for _, when, _ in self._reminders(event)
            if when > now
        ]
        return min(upcoming, default=None)

    async def _messages(
        self, event: Event, days: int, due: datetime, now: datetime
    ) -> list[NewMessage]:
        deps = self._deps
        settings = deps.settings
        speaker = voice(deps, settings.report.language or None)
        year = report_year(deps, due)
        draft = {
            "year": year,
            "format": settings.report.draft_format,
            "language": speaker.language,
        }
        key = f"report:ev{event.id}:s{event.schedule_version}:d{days}"
        store = deps.store
        messages = []
        for group in await store.groups.list_groups():
            chats = await store.groups.list_group_chats(group.key)
            if not chats:
                continue
            open_items, overdue = await store.items.count_open(group.key, now)
            text = (
                _reminder_text(speaker, event, due, year)
                + "\n\n"
                + speaker.ngettext(
                    "{group}: {open} offene Rückmeldung, davon {overdue} über der Frist.",
                    "{group}: {open} offene Rückmeldungen, davon {overdue} über der Frist.",
                    open_items,
                ).format(group=group.name, open=open_items, overdue=overdue)
                + " "
                + speaker._(
                    "Vorschläge mit Ergebnis erscheinen mit Ihrer Begründung im Bericht: "
                    "/state REF implemented|declined Begründung."
                )
            )
            payload = payload_of(Reply(text)) | {REPORT_DRAFT: draft}
            messages += [
                NewMessage(
                    f"{key}:{c.platform}:{c.chat_id}",
                    c.platform,
                    c.chat_id,
                    payload,
                    now,
                    is_group=True,
                )
                for c in chats
            ]
        payload = payload_of(Reply(_reminder_text(speaker, event, due, year))) | {
            REPORT_DRAFT: draft
        }
        for admin in settings.bot.administrators:
            platform, _, user_id = admin.partition(":")
            messages.append(NewMessage(f"{key}:{admin}", platform, user_id, payload, now))
        return messages


def _these(messages: list[NewMessage]) -> Callable[[object], list[NewMessage]]:
    """A stage builder for messages made beforehand (they go to chats, not registrants)."""
    return lambda _people: messages


def _reminder_text(speaker: Voice, event: Event, due: datetime, year: int) -> str:
    days = (event.starts_at - due).days
    due_text = speaker.ngettext(
        "Der Bericht {year} an den Stadtrat ist am {due} fällig, {days} Tag vor „{title}“ am "
        "{when}.",
        "Der Bericht {year} an den Stadtrat ist am {due} fällig, {days} Tage vor „{title}“ am "
        "{when}.",
        days,
    ).format(
        year=year,
        due=speaker.day(due),
        days=days,
        title=event.title,
        when=speaker.when(event.starts_at),
    )
    draft_text = speaker._(
        "Anbei der aktuelle Entwurf; mitreden report --year {year} erstellt ihn neu."
    ).format(year=year)
    return f"{due_text} {draft_text}"
