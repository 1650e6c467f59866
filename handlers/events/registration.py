"""Registering for an event, step by step: event → workshop (places left shown, full ones
marked as the waitlist) → summary with consent → the code and the calendar file."""

from __future__ import annotations

import logging
from typing import Any

from handlers.choices import build_choices, match_typed
from handlers.context import Deps, Turn
from handlers.events.texts import (
    calendar_file,
    documents_due,
    placed_messages,
    registration_text,
    when_where,
)
from handlers.messages import Reply
from handlers.residents.privacy import privacy_notice
from storage.events.models import Event
from storage.events.registrations import Outcome, Result
from storage.models import ConversationState
from storage.store import Store

logger = logging.getLogger(__name__)

FLOW = "event"
EVENT, WORKSHOP, CONFIRM = "event", "workshop", "confirm"
NO_WORKSHOP, REGISTER = "none", "register"


class RegistrationFlow:
    """The flow's steps; `EventHandlers` adds the commands that start it."""

    _deps: Deps
    _store: Store

    # ---- the registration flow ----------------------------------------------------------

    async def on_choice(self, turn: Turn, state: ConversationState, value: str) -> list[Reply]:
        data = dict(state.data)
        if state.step == CONFIRM:
            await self._store.conversations.clear_state(turn.contact_id)
            if value != REGISTER:
                return [
                    Reply(
                        turn._("Abgebrochen. Es wurde nichts gespeichert."), replaces_prompt=True
                    )
                ]
            return [await self._register(turn, data)]
        if state.step == EVENT:
            event = await self._store.events.get_event(value) if value.isdigit() else None
            if event is None or event.id is None:
                return [Reply(turn._("Diese Veranstaltung gibt es nicht."))]
            data["event"] = event.id
            workshops = await self._store.events.list_workshops(event.id)
            step = WORKSHOP if workshops else CONFIRM
            return [await self._ask(turn, step, data, replaces=True)]
        if state.step == WORKSHOP:
            options = [v for _, v in await self._options(turn, WORKSHOP, data)]
            if value not in options:
                return [await self._prompt(turn, WORKSHOP, data, state.version)]
            data["workshop"] = None if value == NO_WORKSHOP else int(value)
            return [await self._ask(turn, CONFIRM, data, replaces=True)]
        return []

    async def on_message(self, turn: Turn, state: ConversationState) -> list[Reply]:
        """A typed answer: the number or label of an option."""
        options = await self._options(turn, state.step, state.data)
        value = match_typed(turn.incoming.text, options)
        if value is not None:
            return await self.on_choice(turn, state, value)
        return [
            Reply(
                turn._(
                    "Das passt nicht zur aktuellen Frage. Bitte wählen Sie eine der "
                    "Möglichkeiten "
                    "(Nummer oder Text) oder brechen Sie mit /cancel ab."
                )
            ),
            await self._prompt(turn, state.step, state.data, state.version),
        ]

    async def _register(self, turn: Turn, data: dict[str, Any]) -> Reply:
        if turn.contact.consent_at is None:  # they saw the notice with the summary and agreed
            await self._store.contacts.set_consent(turn.contact_id, turn.now)
        result = await self._store.registrations.register(
            int(data["event"]),
            turn.contact_id,
            data.get("workshop"),
            turn.now,
            lambda e, r, c, d: placed_messages(self._deps, e, r, c, d),
        )
        return await self._answer(turn, result, data.get("workshop"))

    async def _answer(self, turn: Turn, result: Result, workshop_id: int | None) -> Reply:
        event, registration, _ = result.event, result.registration, turn._
        if event is None:
            return Reply(_("Diese Veranstaltung gibt es nicht."), replaces_prompt=True)
        title = event.title
        refusals = {
            Outcome.CANCELLED_EVENT: _("„{title}“ fällt aus."),
            Outcome.PAST: _("„{title}“ hat schon stattgefunden."),
            Outcome.NOT_OPEN: _("Die Anmeldung für „{title}“ beginnt am {day}."),
            Outcome.CLOSED: _("Die Anmeldung für „{title}“ ist seit {day} geschlossen."),
        }
        if result.outcome in refusals:
            day = turn.when(
                event.registration_opens_at
                if result.outcome == Outcome.NOT_OPEN
                else event.registration_deadline
            )
            return Reply(
                refusals[result.outcome].format(title=title, day=day), replaces_prompt=True
            )
        assert registration is not None
        if result.outcome == Outcome.ALREADY:
            return Reply(
                _("Sie sind für „{title}“ schon angemeldet (Code {code}).").format(
                    title=title, code=registration.code
                ),
                replaces_prompt=True,
            )
        if result.outcome == Outcome.WAITLISTED:
            return Reply(
                _(
                    "Leider ist kein Platz mehr frei. Sie stehen auf der Warteliste (Platz "
                    "{position}); wird ein Platz frei, bekommen Sie ihn und eine Nachricht. "
                    "Ihr Code: {code}"
                ).format(position=result.waitlist_position, code=registration.code),
                replaces_prompt=True,
            )
        workshops = {w.workshop.id: w.workshop.title for w in await self._workshops(event)}
        text = registration_text(turn, event, registration.code, workshops.get(workshop_id))
        due = documents_due(event, self._deps.zone)
        if turn.now >= due:
            text += "\n" + _("Die Unterlagen kommen gleich in einer eigenen Nachricht.")
        else:
            text += "\n" + _("Die Unterlagen bekommen Sie am {day}.").format(day=turn.day(due))
        logger.info("contact %s registered for %s", turn.contact_id, event.slug)
        return Reply(text, files=(calendar_file(event),), replaces_prompt=True)

    async def _workshops(self, event: Event) -> list[Any]:
        assert event.id is not None
        return await self._store.events.list_workshops(event.id)

    async def _ask(
        self, turn: Turn, step: str, data: dict[str, Any], *, replaces: bool = False
    ) -> Reply:
        version = await self._store.conversations.set_state(
            turn.contact_id, FLOW, step, data, turn.now
        )
        reply = await self._prompt(turn, step, data, version)
        return Reply(reply.text, reply.choices, replaces_prompt=replaces)

    async def _prompt(self, turn: Turn, step: str, data: dict[str, Any], version: int) -> Reply:
        options = await self._options(turn, step, data)
        if step == EVENT:
            text = turn._("Für welche Veranstaltung möchten Sie sich anmelden?")
        elif step == WORKSHOP:
            text = turn._("Welchen Workshop am Nachmittag möchten Sie besuchen?")
        else:
            text = await self._summary(turn, data)
        return Reply(text, build_choices(version, step, options))

    async def _summary(self, turn: Turn, data: dict[str, Any]) -> str:
        event = await self._store.events.get_event(int(data["event"]))
        assert event is not None
        lines = [
            turn._("Bitte prüfen Sie Ihre Anmeldung:"),
            "",
            event.title,
            when_where(turn, event),
        ]
        if data.get("workshop"):
            titles = {w.workshop.id: w.workshop.title for w in await self._workshops(event)}
            lines.append(
                turn._("Workshop: {workshop}").format(workshop=titles.get(data["workshop"], ""))
            )
        summary = "\n".join(lines)
        if turn.contact.consent_at is None:
            summary += (
                "\n\n"
                + privacy_notice(turn, self._deps)
                + "\n\n"
                + turn._(
                    "Für die Anmeldung speichern wir zusätzlich Ihre Workshop-Wahl und Ihren "
                    "Code; das Integrationsbüro sieht dazu Ihren Anzeigenamen. Mit „Anmelden“ "
                    "sind Sie damit einverstanden."
                )
            )
        return summary

    async def _options(self, turn: Turn, step: str, data: dict[str, Any]) -> list[tuple[str, str]]:
        if step == EVENT:
            return [(e.title, str(e.id)) for e in await self._store.events.list_open(turn.now)]
        if step == WORKSHOP:
            event = await self._store.events.get_event(int(data["event"]))
            if event is None:
                return []
            options = []
            for places in await self._workshops(event):
                label = places.workshop.title
                if places.left == 0:
                    label = turn._("{title} (voll, Warteliste)").format(title=label)
                elif places.left is not None:
                    label = turn._("{title} ({n} frei)").format(title=label, n=places.left)
                options.append((label, str(places.workshop.id)))
            return [*options, (turn._("Ohne Workshop"), NO_WORKSHOP)]
        if step == CONFIRM:
            return [(turn._("Anmelden"), REGISTER), (turn._("Abbrechen"), "cancel")]
        return []
