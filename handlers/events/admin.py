"""Events for coordinators and administrators: the overview, the registrations, and changing
the date. A postponement or cancellation tells every registrant at once and, in the same
transaction, skips whatever was still waiting for the old date."""

from __future__ import annotations

import logging
from datetime import datetime, time, timedelta

from handlers.context import Deps, Turn
from handlers.events.texts import Voices, calendar_file, message, payload_of, when_where
from handlers.messages import Reply
from handlers.roles import refuse, role_of
from storage.events.models import Event, EventState, Registration, RegistrationState
from storage.models import Contact
from storage.outbox import NewMessage

logger = logging.getLogger(__name__)

Recipients = list[tuple[Contact, Registration | None]]


async def postpone_event(
    deps: Deps,
    event: Event,
    starts_at: datetime,
    reason: str,
    now: datetime,
    *,
    deadline: datetime | None = None,
) -> tuple[Event, int] | None:
    """Move the event to `starts_at` (its length and the deadline's distance kept).

    Returns:
        The moved event and the number of old-schedule messages skipped.
    """
    assert event.id is not None
    zone = deps.zone

    def wall(moment: datetime) -> datetime:
        return moment.astimezone(zone).replace(tzinfo=None)

    # Shifted on the wall clock: a deadline at 12:00 stays at 12:00 across a time change.
    shift = wall(starts_at) - wall(event.starts_at)

    def moved(moment: datetime) -> datetime:
        return (wall(moment) + shift).replace(tzinfo=zone)

    values = {
        "starts_at": starts_at,
        "ends_at": moved(event.ends_at),
        "registration_deadline": deadline or moved(event.registration_deadline),
        "state": EventState.POSTPONED,
        "reason": reason or None,
    }

    def notify(event: Event, people: Recipients) -> list[NewMessage]:
        voices = Voices(deps)
        messages = []
        for contact, registration in people:
            speaker = voices.of(contact)
            # Someone on the waitlist has no place: no calendar file, which would say they had.
            waiting = (
                registration is not None and registration.state == RegistrationState.WAITLISTED
            )
            if waiting:
                text = speaker._(
                    "„{title}“ wird verschoben. Neuer Termin: {when}\nSie stehen weiter auf "
                    "der Warteliste; wird ein Platz frei, bekommen Sie ihn und eine Nachricht. "
                    "Wenn Sie nicht mehr warten möchten: /myevents"
                ).format(title=event.title, when=when_where(speaker, event))
            else:
                text = speaker._(
                    "„{title}“ wird verschoben. Neuer Termin: {when}\nIhre Anmeldung gilt "
                    "weiter; die Kalenderdatei ist angehängt. Wenn Sie nicht kommen können: "
                    "/myevents"
                ).format(title=event.title, when=when_where(speaker, event))
            if reason:
                text += "\n" + speaker._("Grund: {reason}").format(reason=reason)
            key = f"ev{event.id}:s{event.schedule_version}:postponed:c{contact.id}"
            payload = payload_of(Reply(text), ics=None if waiting else event.id)
            messages.append(message(key, contact, payload, now))
        return messages

    changed = await deps.store.events.change_schedule(event.id, now, values, notify)
    if changed is not None:
        logger.info(
            "event %s postponed to %s; %d waiting message(s) skipped",
            event.slug,
            starts_at.isoformat(),
            changed[1],
        )
    return changed


async def cancel_event(
    deps: Deps, event: Event, reason: str, now: datetime
) -> tuple[Event, int] | None:
    """Cancel the event: every registrant is told, nothing else about it goes out."""
    assert event.id is not None

    def notify(cancelled: Event, people: Recipients) -> list[NewMessage]:
        voices = Voices(deps)
        messages = []
        for contact, _ in people:
            speaker = voices.of(contact)
            text = speaker._("„{title}“ am {when} fällt aus.").format(
                title=cancelled.title, when=speaker.when(cancelled.starts_at)
            )
            if reason:
                text += "\n" + speaker._("Grund: {reason}").format(reason=reason)
            key = f"ev{cancelled.id}:cancelled:c{contact.id}"
            messages.append(message(key, contact, payload_of(Reply(text)), now))
        return messages

    values = {"state": EventState.CANCELLED, "reason": reason or None}
    return await deps.store.events.change_schedule(event.id, now, values, notify)


def parse_local(text: str, deps: Deps, keep: datetime | None = None) -> datetime | None:
    """ "2027-10-14" (keeping the time of day of `keep`) or "2027-10-14T17:00", city time."""
    try:
        parsed = datetime.fromisoformat(text.strip())
    except ValueError:
        return None
    if parsed.tzinfo is not None:
        return parsed
    if len(text.strip()) <= 10 and keep is not None:
        clock = keep.astimezone(deps.zone).time()
        parsed = datetime.combine(parsed.date(), time(clock.hour, clock.minute))
    return parsed.replace(tzinfo=deps.zone)


class EventAdminCommands:
    def __init__(self, deps: Deps) -> None:
        self._deps = deps

    async def overview(self, turn: Turn) -> list[Reply]:
        """For coordinators, after `/events`: every coming event with its numbers."""
        if not (await role_of(self._deps, turn)).is_coordinator:
            return []
        store = self._deps.store.events
        events = await store.list_events(since=turn.now - timedelta(days=1))
        if not events:
            return []
        counts = await store.overview([e.id for e in events if e.id is not None])
        lines = [turn._("Für Koordinator:innen:")]
        for event in events:
            o = counts[event.id or 0]
            lines.append(
                turn._(
                    "{slug}: {title}, {when}; {registered} angemeldet, {waitlisted} auf der "
                    "Warteliste, {documents} Unterlagen ({state})"
                ).format(
                    slug=event.slug,
                    title=event.title,
                    when=turn.when(event.starts_at),
                    registered=o.registered,
                    waitlisted=o.waitlisted,
                    documents=o.documents,
                    state=event.state,
                )
            )
        return [Reply("\n".join(lines))]

    async def registrations(self, turn: Turn) -> list[Reply]:
        if not (await role_of(self._deps, turn)).is_coordinator:
            return refuse(turn, "registrations")
        event = await self._event(turn)
        if event is None or event.id is None:
            return [Reply(turn._("Bitte nennen Sie eine Veranstaltung: /registrations KENNUNG"))]
        rows = await self._deps.store.registrations.list_for_event(event.id)
        counted = [r for r, _, _ in rows]
        lines = [
            turn._(
                "Anmeldungen für „{title}“: {registered} angemeldet, {waitlisted} auf der "
                "Warteliste"
            ).format(
                title=event.title,
                registered=sum(r.state == "registered" for r in counted),
                waitlisted=sum(r.state == "waitlisted" for r in counted),
            )
        ]
        for registration, contact, workshop in rows:
            if registration.state == "cancelled":
                continue
            workshop_title = workshop.title if workshop is not None else "-"
            lines.append(
                f"{registration.code} · {contact.display_name or '-'} · {workshop_title} · "
                f"{registration.state}"
            )
        return [Reply("\n".join(lines))]

    async def postpone(self, turn: Turn) -> list[Reply]:
        """`/postpone EVENT DATE [reason]`."""
        if not (await role_of(self._deps, turn)).is_coordinator:
            return refuse(turn, "postpone")
        args = turn.incoming.args
        event = await self._event(turn)
        usage = turn._("So verschieben Sie: /postpone KENNUNG 2027-10-14 [Grund]")
        if event is None or len(args) < 2:
            return [Reply(usage)]
        starts_at = parse_local(args[1], self._deps, keep=event.starts_at)
        if starts_at is None or starts_at <= turn.now:
            return [Reply(usage)]
        if event.state == EventState.CANCELLED:
            return [Reply(turn._("„{title}“ fällt aus.").format(title=event.title))]
        reason = turn.incoming.text.strip().split(maxsplit=3)[3:]
        moved = await postpone_event(
            self._deps, event, starts_at, reason[0] if reason else "", turn.now
        )
        assert moved is not None
        overview = await self._deps.store.events.overview([event.id or 0])
        people = overview[event.id or 0]
        # Registrants and the waitlist counted apart: only the former have a place.
        told = turn.ngettext(
            "{n} angemeldete Person bekommt Bescheid.",
            "{n} Angemeldete bekommen Bescheid.",
            people.registered,
        ).format(n=people.registered)
        if people.waitlisted:
            told += " " + turn.ngettext(
                "{n} Person auf der Warteliste bekommt ebenfalls Bescheid.",
                "{n} Personen auf der Warteliste bekommen ebenfalls Bescheid.",
                people.waitlisted,
            ).format(n=people.waitlisted)
        return [
            Reply(
                turn._("„{title}“ ist verschoben auf {when}.").format(
                    title=event.title, when=turn.when(moved[0].starts_at)
                )
                + " "
                + told,
                files=(calendar_file(moved[0]),),
            )
        ]

    async def _event(self, turn: Turn) -> Event | None:
        args = turn.incoming.args
        return await self._deps.store.events.get_event(args[0]) if args else None
