"""The overview, events and working-groups pages of the web view.

The overview shows the year report's own sections (`handlers.report`), written on the same
figures (`storage.report`) for this month and this year: the numbers on the screen are the
numbers in the report. Working groups are read by every coordinator and changed by
administrators only, through the stores the command line uses (`mitreden coordinator add`).
"""

from __future__ import annotations

import csv
import io
import logging
from dataclasses import dataclass

from handlers.context import Deps, voice
from handlers.i18n import N_
from handlers.labels import localized_name
from handlers.messages import Platform
from handlers.report.asking import asking
from handlers.report.document import Section
from handlers.report.followup import answer_times
from handlers.report.incoming import fields
from handlers.report.writer import SectionWriter
from handlers.web.access import WebUser
from storage.events.models import Event, EventDocument, RegistrationState
from storage.groups import GroupSpec
from storage.web_sessions import WebSessionStore

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Period:
    title: str
    total: int
    sections: list[Section]


@dataclass(frozen=True)
class WorkshopLine:
    title: str
    capacity: str
    registered: int
    waitlisted: int


@dataclass(frozen=True)
class RegistrationLine:
    code: str
    name: str
    workshop: str
    state: str
    at: str


@dataclass(frozen=True)
class EventView:
    event: Event
    when: str
    registered: int
    waitlisted: int
    cancelled: int
    workshops: list[WorkshopLine]
    registrations: list[RegistrationLine]
    documents: list[EventDocument]


@dataclass(frozen=True)
class GroupView:
    key: str
    name: str
    is_default: bool
    answer_days: int
    fields: list[str]
    coordinators: list[tuple[str, str]]  # ("platform:id", display name or "")
    can_edit: bool


REGISTRATION_STATES: dict[str, str] = {
    RegistrationState.REGISTERED: N_("angemeldet"),
    RegistrationState.WAITLISTED: N_("auf der Warteliste"),
    RegistrationState.CANCELLED: N_("abgemeldet"),
}


class WebPages:
    def __init__(self, deps: Deps) -> None:
        self._deps = deps
        self._audit = WebSessionStore(deps.store.db)

    async def overview(self, user: WebUser) -> list[Period]:
        """This month and this year (city time), as the year report counts them."""
        turn = user.turn
        local = turn.local_now()
        month = local.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
        following = (
            month.replace(year=month.year + 1, month=1)
            if month.month == 12
            else month.replace(month=month.month + 1)
        )
        year = month.replace(month=1)
        speaker = voice(self._deps, user.language)
        periods = []
        for title, start, end in (
            (turn._("Dieser Monat"), month, following),
            (
                turn._("Dieses Jahr ({year})").format(year=year.year),
                year,
                year.replace(year=year.year + 1),
            ),
        ):
            figures = await self._deps.store.report.year_figures(start, end, turn.now)
            writer = SectionWriter(speaker, figures)
            sections = [fields(writer), answer_times(writer)]
            if (end - start).days > 31 and (figures.surveys or figures.polls):  # the year
                sections.append(asking(writer))  # the year's surveys and polls, as reported
            periods.append(Period(title, figures.total, sections))
        return periods

    async def events(self, user: WebUser) -> list[EventView]:
        """Every event, the latest first, with workshops, registrations and documents."""
        store = self._deps.store
        events = sorted(await store.events.list_events(), key=lambda e: e.starts_at, reverse=True)
        views = []
        for event in events:
            if event.id is None:
                continue
            rows = await store.registrations.list_for_event(event.id)
            workshops = []
            for places in await store.events.list_workshops(event.id):
                waiting = sum(
                    1
                    for r, _, w in rows
                    if w is not None
                    and w.id == places.workshop.id
                    and r.state == RegistrationState.WAITLISTED
                )
                capacity = places.workshop.capacity
                workshops.append(
                    WorkshopLine(
                        places.workshop.title,
                        str(capacity) if capacity is not None else "–",
                        places.taken,
                        waiting,
                    )
                )
            lines = [
                RegistrationLine(
                    r.code,
                    contact.display_name or "–",
                    w.title if w is not None else "–",
                    user._(REGISTRATION_STATES.get(r.state, r.state)),
                    user.turn.when(r.created_at),
                )
                for r, contact, w in rows
            ]
            views.append(
                EventView(
                    event=event,
                    when=user.turn.when(event.starts_at),
                    registered=sum(r.state == RegistrationState.REGISTERED for r, _, _ in rows),
                    waitlisted=sum(r.state == RegistrationState.WAITLISTED for r, _, _ in rows),
                    cancelled=sum(r.state == RegistrationState.CANCELLED for r, _, _ in rows),
                    workshops=workshops,
                    registrations=lines,
                    documents=await store.events.list_documents(event.id),
                )
            )
        return views

    async def registrations_csv(self, user: WebUser, slug: str) -> bytes | None:
        """An event's registrations as CSV, as `mitreden event registrations --csv` lists them."""
        for view in await self.events(user):
            if view.event.slug != slug:
                continue
            _ = user._
            out = io.StringIO()
            writer = csv.writer(out)
            writer.writerow(
                [_("Code"), _("Name"), _("Lokaltermin"), _("Stand"), _("Angemeldet am")]
            )
            for line in view.registrations:
                writer.writerow([line.code, line.name, line.workshop, line.state, line.at])
            return ("\ufeff" + out.getvalue()).encode("utf-8")
        return None

    async def document(self, slug: str, document_id: int) -> EventDocument | None:
        event = await self._deps.store.events.get_event(slug)
        if event is None or event.id is None:
            return None
        found = await self._deps.store.events.get_documents([document_id])
        return found[0] if found and found[0].event_id == event.id else None

    async def groups(self, user: WebUser) -> list[GroupView]:
        store = self._deps.store
        turn = user.turn
        field_names = {
            f.key: localized_name(turn, f, f.key) for f in await store.groups.list_fields()
        }
        coordinators = await store.groups.list_coordinators_named()
        views = []
        for group in await store.groups.list_groups():
            views.append(
                GroupView(
                    key=group.key,
                    name=localized_name(turn, group, group.key),
                    is_default=group.is_default,
                    answer_days=group.answer_days,
                    fields=[
                        field_names.get(k, k) for k in await store.membership.fields_of(group.key)
                    ],
                    coordinators=[
                        (f"{c.platform}:{c.user_id}", c.display_name or "")
                        for c in coordinators
                        if c.group_key == group.key
                    ],
                    can_edit=user.is_admin,
                )
            )
        return views

    async def change_group(
        self, user: WebUser, key: str, change: str, value: str, *, address: str = ""
    ) -> str | None:
        """An administrator's change to a group: "add" or "remove" a coordinator
        (`platform:id`), or set "answer_days". Returns what happened, in the reader's
        language; None when the reader is no administrator or the group does not exist."""
        store = self._deps.store
        group = await store.groups.get_group(key)
        if not user.is_admin or group is None:
            return None
        _ = user._
        value = value.strip()
        if change in ("add", "remove"):
            platform, _sep, ident = value.partition(":")
            if platform not in {p.value for p in Platform} or not ident:
                return _("Bitte in der Form telegram:123456789 oder matrix:@name:server angeben.")
            if change == "add":
                done = await store.membership.add_coordinator(key, platform, ident)
                message = (
                    _("{member} koordiniert jetzt {group}.")
                    if done
                    else _("{member} koordiniert {group} schon.")
                )
            else:
                done = await store.membership.remove_coordinator(key, platform, ident)
                message = (
                    _("{member} koordiniert {group} nicht mehr.")
                    if done
                    else _("{member} koordiniert {group} nicht.")
                )
            await self._record(user, f"coordinator_{change}", f"{key} {value}", address, done)
            return message.format(member=value, group=key)
        if change == "answer_days":
            if not value.isdigit() or not 1 <= int(value) <= 365:
                return _("Bitte eine Zahl von Tagen zwischen 1 und 365 angeben.")
            await store.membership.save_group(
                GroupSpec(
                    key=group.key,
                    name=group.name,
                    fields=tuple(await store.membership.fields_of(key)),
                    names=dict(group.names),
                    is_default=group.is_default,
                    answer_days=int(value),
                )
            )
            await self._record(user, "group_answer_days", f"{key} {value}", address, True)
            days = int(value)
            return user.turn.ngettext(
                "{group}: erste Antwort jetzt innerhalb von {days} Tag.",
                "{group}: erste Antwort jetzt innerhalb von {days} Tagen.",
                days,
            ).format(group=key, days=days)
        return None

    async def _record(
        self, user: WebUser, action: str, detail: str, address: str, done: bool
    ) -> None:
        if done:
            await self._audit.add_audit(
                user.role.actor, action, user.turn.now, detail=detail, address=address
            )
            logger.info("web: %s %s by %s", action, detail, user.role.actor)

    def report_years(self, user: WebUser) -> list[int]:
        """This year and the four before it, the latest first."""
        year = user.turn.local_now().year
        return list(range(year, year - 5, -1))
