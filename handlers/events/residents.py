"""Events for residents: invitations on request (`/subscribe`), open events and registration
(event → workshop → confirm → code and calendar file), `/myevents` with cancelling, `/docs`,
and the answers to the evening-before reminder."""

from __future__ import annotations

import logging

from handlers.choices import build_choices
from handlers.context import Deps, Turn
from handlers.events.registration import EVENT, FLOW, RegistrationFlow
from handlers.events.texts import (
    CANCEL_PAYLOAD,
    COMING,
    EVE_PAYLOAD,
    promoted_messages,
    when_where,
)
from handlers.messages import Attachment, Choice, Reply
from storage.events.models import Event

logger = logging.getLogger(__name__)


class EventHandlers(RegistrationFlow):
    """The commands and buttons; the registration steps come from `RegistrationFlow`."""

    def __init__(self, deps: Deps) -> None:
        self._deps = deps
        self._store = deps.store

    # ---- commands -----------------------------------------------------------------------

    async def subscribe(self, turn: Turn) -> list[Reply]:
        await self._store.contacts.set_subscribed(turn.contact_id, True)
        return [
            Reply(
                turn._(
                    "Sie bekommen ab jetzt Einladungen zu Veranstaltungen. /unsubscribe beendet "
                    "das, /events zeigt, wofür Sie sich jetzt anmelden können."
                )
            )
        ]

    async def unsubscribe(self, turn: Turn) -> list[Reply]:
        await self._store.contacts.set_subscribed(turn.contact_id, False)
        return [Reply(turn._("Sie bekommen keine Einladungen mehr. /subscribe: wieder an."))]

    async def events(self, turn: Turn) -> list[Reply]:
        """The events open for registration, each a button that starts registering."""
        events = await self._store.events.list_open(turn.now)
        if not events:
            return [Reply(turn._("Zurzeit kann man sich für keine Veranstaltung anmelden."))]
        lines = [turn._("Veranstaltungen, für die Sie sich anmelden können:")]
        for event in events:
            lines += ["", f"{event.title}", when_where(turn, event)]
            lines.append(
                turn._("Anmeldung bis {deadline}").format(
                    deadline=turn.when(event.registration_deadline)
                )
            )
        version = await self._store.conversations.set_state(
            turn.contact_id, FLOW, EVENT, {}, turn.now
        )
        options = [(e.title, str(e.id)) for e in events]
        return [Reply("\n".join(lines), build_choices(version, EVENT, options))]

    async def myevents(self, turn: Turn) -> list[Reply]:
        mine = await self._store.registrations.list_for_contact(turn.contact_id)
        if not mine:
            return [
                Reply(
                    turn._(
                        "Sie sind für keine Veranstaltung angemeldet. /events zeigt, wofür Sie "
                        "sich anmelden können."
                    )
                )
            ]
        lines = [turn._("Ihre Anmeldungen:")]
        choices = []
        for registration, event, workshop in mine:
            lines += ["", event.title, when_where(turn, event)]
            if workshop is not None:
                lines.append(turn._("Workshop: {workshop}").format(workshop=workshop.title))
            if registration.state == "waitlisted":
                lines.append(turn._("Warteliste, Code {code}").format(code=registration.code))
            else:
                lines.append(turn._("Ihr Code: {code}").format(code=registration.code))
            if event.starts_at > turn.now:
                choices.append(
                    Choice(
                        turn._("Abmelden: {title}").format(title=event.title),
                        f"{CANCEL_PAYLOAD}{event.id}",
                    )
                )
        return [Reply("\n".join(lines), tuple(choices))]

    async def docs(self, turn: Turn) -> list[Reply]:
        """The documents of every event the resident is registered for, again."""
        replies = []
        for registration, event, _ in await self._store.registrations.list_for_contact(
            turn.contact_id
        ):
            if registration.state != "registered" or event.id is None:
                continue
            documents = await self._store.events.list_documents(event.id)
            if not documents:
                continue
            files = tuple(
                Attachment("document", d.file_name, d.mime_type, d.data, stored_id=None)
                for d in documents
            )
            lines = [
                turn._(
                    "Die Unterlagen für „{title}“, damit Sie sich in Ruhe vorbereiten können:"
                ).format(title=event.title)
            ]
            lines += [f"• {d.title}" for d in documents]
            replies.append(Reply("\n".join(lines), files=files))
        return replies or [Reply(turn._("Für Ihre Anmeldungen gibt es noch keine Unterlagen."))]

    # ---- buttons outside a flow ---------------------------------------------------------

    async def on_button(self, turn: Turn, payload: str) -> list[Reply]:
        """ "I'm coming" / "I can't come" on the reminder, and "cancel" in /myevents."""
        if payload.startswith(CANCEL_PAYLOAD):
            event = await self._store.events.get_event(payload[len(CANCEL_PAYLOAD) :])
            return await self._cancel(turn, event)
        event_id, _, rest = payload[len(EVE_PAYLOAD) :].partition(":")
        version, _, answer = rest.partition(":")
        event = await self._store.events.get_event(event_id)
        if event is None or str(event.schedule_version) != version or event.state == "cancelled":
            return [Reply(turn._("Dieser Knopf gilt nicht mehr: Der Termin hat sich geändert."))]
        if answer == COMING:
            return [Reply(turn._("Schön, bis morgen!"), replaces_prompt=True)]
        return await self._cancel(turn, event)

    async def _cancel(self, turn: Turn, event: Event | None) -> list[Reply]:
        if event is None or event.id is None:
            return [Reply(turn._("Diese Veranstaltung gibt es nicht."))]
        cancelled, promoted = await self._store.registrations.cancel(
            event.id,
            turn.contact_id,
            turn.now,
            lambda e, r, c, d: promoted_messages(self._deps, e, r, c, d),
        )
        if cancelled is None:
            return [
                Reply(turn._("Sie sind für „{title}“ nicht angemeldet.").format(title=event.title))
            ]
        logger.info(
            "registration %s for %s cancelled; promoted: %s",
            cancelled.code,
            event.slug,
            promoted.code if promoted else None,
        )
        return [
            Reply(
                turn._("Sie sind von „{title}“ abgemeldet. Ihr Platz ist wieder frei.").format(
                    title=event.title
                ),
                replaces_prompt=True,
            )
        ]


def events_help(turn: Turn) -> str:
    return turn._(
        "Veranstaltungen:\n"
        "/events – anmelden\n"
        "/myevents – Ihre Anmeldungen, abmelden\n"
        "/docs – die Unterlagen noch einmal\n"
        "/subscribe – Einladungen bekommen (/unsubscribe: keine mehr)"
    )
