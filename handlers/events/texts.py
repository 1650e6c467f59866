"""What residents read about an event, the calendar file, and the messages the planner and
the registration flow enqueue. Times are shown in the city's zone; due times are counted in
local days, so a daylight-saving change between a reminder and the event keeps the hour."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from handlers.context import Deps, Voice, Writer, voice
from handlers.messages import Attachment, Choice, Reply, reply_to_payload
from storage.events.models import Event, Registration
from storage.events.registrations import DocRef
from storage.models import Contact
from storage.outbox import NewMessage

EVE_HOUR = 18  # the reminder on the evening before the event, city time
COMING, NOT_COMING = "yes", "no"
EVE_PAYLOAD = "evr:"  # "evr:<event id>:<schedule version>:yes|no", valid for that date only
CANCEL_PAYLOAD = "evc:"  # "evc:<event id>": cancel one's registration (from /myevents)
ICS_MIME = "text/calendar"


def local_days_before(moment: datetime, days: int, zone: ZoneInfo) -> datetime:
    """`days` calendar days before `moment` at the same wall-clock time in `zone`."""
    local = moment.astimezone(zone).replace(tzinfo=None) - timedelta(days=days)
    return local.replace(tzinfo=zone)


def eve_of(moment: datetime, zone: ZoneInfo) -> datetime:
    """18:00 city time on the day before `moment` (earlier if the event starts earlier)."""
    day = moment.astimezone(zone).date() - timedelta(days=1)
    return datetime.combine(day, time(EVE_HOUR), tzinfo=zone)


def documents_due(event: Event, zone: ZoneInfo) -> datetime:
    return local_days_before(event.starts_at, event.documents_lead_days, zone)


def when_where(speaker: Writer, event: Event) -> str:
    place = f" · {event.place}" if event.place else ""
    return f"{speaker.when(event.starts_at)}{place}"


def calendar_file(event: Event) -> Attachment:
    """The event as an .ics file; the same bytes for everyone (upload once, resend by id)."""
    # Imported here: only the eve reminder needs it, and at start-up it would cost 3 MiB.
    from icalendar import Calendar
    from icalendar import Event as CalendarEvent

    calendar = Calendar()
    calendar.add("prodid", "-//mitreden//events//DE")
    calendar.add("version", "2.0")
    entry = CalendarEvent()
    entry.add("uid", f"event-{event.id}-{event.slug}@mitreden")
    entry.add("dtstamp", event.updated_at)
    entry.add("sequence", event.schedule_version - 1)
    entry.add("summary", event.title)
    entry.add("dtstart", event.starts_at)
    entry.add("dtend", event.ends_at)
    if event.place:
        entry.add("location", event.place)
    if event.description:
        entry.add("description", event.description)
    entry.add("status", "CANCELLED" if event.state == "cancelled" else "CONFIRMED")
    calendar.add_component(entry)
    return Attachment("document", f"{event.slug}.ics", ICS_MIME, calendar.to_ical())


def registration_text(speaker: Writer, event: Event, code: str, workshop: str | None) -> str:
    text = speaker._(
        "Sie sind angemeldet für „{title}“.\n{when}\nIhr Code: {code}\n\nDie Kalenderdatei ist "
        "angehängt. /myevents zeigt Ihre Anmeldungen."
    ).format(title=event.title, when=when_where(speaker, event), code=code)
    if workshop:
        text += "\n" + speaker._("Workshop: {workshop}").format(workshop=workshop)
    return text


def documents_reply(speaker: Writer, event: Event, documents: Sequence[DocRef]) -> Reply:
    """The documents with their titles (the files travel by reference in the outbox)."""
    lines = [
        speaker._(
            "Die Unterlagen für „{title}“, damit Sie sich in Ruhe vorbereiten können:"
        ).format(title=event.title)
    ]
    lines += [f"• {d.title}" for d in documents]
    files = tuple(Attachment("document", "", "", stored_id=d.id) for d in documents)
    return Reply("\n".join(lines), files=files)


def eve_choices(speaker: Writer, event: Event) -> tuple[Choice, ...]:
    base = f"{EVE_PAYLOAD}{event.id}:{event.schedule_version}:"
    return (
        Choice(speaker._("Ich komme"), base + COMING),
        Choice(speaker._("Ich kann nicht kommen"), base + NOT_COMING),
    )


def payload_of(reply: Reply, *, documents: Sequence[int] = (), ics: int | None = None) -> Any:
    """An outbox payload; event documents and the calendar file travel by reference."""
    payload = reply_to_payload(Reply(reply.text, reply.choices, choice_columns=2))
    if not reply.choices:
        payload.pop("columns", None)
    if documents:
        payload["event_files"] = list(documents)
    if ics is not None:
        payload["event_ics"] = ics
    return payload


def message(key: str, contact: Contact, payload: Any, now: datetime) -> NewMessage:
    return NewMessage(key, contact.platform, contact.chat_id, payload, now, contact_id=contact.id)


class Voices:
    """One `Voice` per language, built once for a fan-out to many contacts."""

    def __init__(self, deps: Deps) -> None:
        self._deps = deps
        self._voices: dict[str | None, Voice] = {}

    def of(self, contact: Contact | None) -> Voice:
        language = contact.language if contact is not None else None
        if language not in self._voices:
            self._voices[language] = voice(self._deps, language)
        return self._voices[language]


def documents_messages(
    deps: Deps,
    event: Event,
    contacts: Sequence[Contact],
    documents: Sequence[DocRef],
    now: datetime,
) -> list[NewMessage]:
    """The documents to each contact, once per contact and event (late registrants too)."""
    if not documents:
        return []
    voices = Voices(deps)
    payloads: dict[str, Any] = {}
    messages = []
    for contact in contacts:
        speaker = voices.of(contact)
        if speaker.language not in payloads:
            reply = documents_reply(speaker, event, documents)
            payloads[speaker.language] = payload_of(reply, documents=[d.id for d in documents])
        key = f"ev{event.id}:docs:c{contact.id}"
        messages.append(message(key, contact, payloads[speaker.language], now))
    return messages


def placed_messages(
    deps: Deps, event: Event, registration: Registration, contact: Contact, documents: list[DocRef]
) -> list[NewMessage]:
    """What someone given a place receives at once: what the others already received — the
    documents, and on the evening before the event its reminder."""
    if not contact.chat_id or contact.blocked_at is not None or contact.stopped_at is not None:
        return []
    placed_at = registration.updated_at
    messages = []
    if placed_at >= documents_due(event, deps.zone):
        messages += documents_messages(deps, event, [contact], documents, placed_at)
    if eve_of(event.starts_at, deps.zone) <= placed_at < event.starts_at:
        speaker = voice(deps, contact.language)
        messages.append(eve_message(speaker, event, contact, registration, placed_at))
    return messages


def eve_message(
    speaker: Voice,
    event: Event,
    contact: Contact,
    registration: Registration | None,
    now: datetime,
) -> NewMessage:
    """The reminder on the evening before, with the calendar file and "I'm coming" / "I can't
    come". Its key is the same whoever builds it, so nobody gets it twice."""
    tomorrow = speaker._(
        "Morgen ist es so weit: „{title}“\n{when}\nIhr Code: {code}\n\nKommen Sie?"
    )
    today = speaker._("Heute ist es so weit: „{title}“\n{when}\nIhr Code: {code}\n\nKommen Sie?")
    same_day = (
        event.starts_at.astimezone(speaker.zone).date() == now.astimezone(speaker.zone).date()
    )
    text = (today if same_day else tomorrow).format(
        title=event.title,
        when=when_where(speaker, event),
        code=registration.code if registration is not None else "",
    )
    payload = payload_of(Reply(text, eve_choices(speaker, event)), ics=event.id)
    key = f"ev{event.id}:s{event.schedule_version}:eve:c{contact.id}"
    return message(key, contact, payload, now)


def promoted_messages(
    deps: Deps, event: Event, registration: Registration, contact: Contact, documents: list[DocRef]
) -> list[NewMessage]:
    """A place became free for someone on the waitlist: tell them, with the calendar file."""
    messages = placed_messages(deps, event, registration, contact, documents)
    if not contact.chat_id or contact.blocked_at is not None or contact.stopped_at is not None:
        return messages
    speaker = voice(deps, contact.language)
    text = speaker._(
        "Ein Platz ist frei geworden: Sie sind jetzt angemeldet für „{title}“.\n{when}\n"
        "Ihr Code: {code}"
    ).format(title=event.title, when=when_where(speaker, event), code=registration.code)
    key = f"ev{event.id}:promoted:r{registration.id}:{registration.updated_at.timestamp():.0f}"
    promoted = message(
        key, contact, payload_of(Reply(text), ics=event.id), registration.updated_at
    )
    return [promoted, *messages]
