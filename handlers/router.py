"""Dispatch: one `Incoming` in, the replies out. Guards first, then commands, buttons, text."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Protocol

from handlers.account import LANGUAGE_PAYLOAD, AccountHandlers
from handlers.announce import FLOW as ANNOUNCEMENT_FLOW
from handlers.announce import AnnouncementHandlers
from handlers.choices import parse_payload
from handlers.context import Deps, Turn
from handlers.flood import FloodGuard, Verdict
from handlers.intake import FLOW as FEEDBACK_FLOW
from handlers.intake import FeedbackFlow
from handlers.messages import FILE_TOO_LARGE, Incoming, Reply
from handlers.status import StatusHandlers
from storage.contacts import ContactKey
from storage.models import ConversationState

logger = logging.getLogger(__name__)

Command = Callable[[Turn], Awaitable[list[Reply]]]


class ChoiceFlow(Protocol):
    async def on_choice(self, turn: Turn, state: ConversationState, value: str) -> list[Reply]:
        """An option of the flow's current step was chosen."""
        ...


class Router:
    """The bot's conversation, independent of any channel."""

    def __init__(self, deps: Deps) -> None:
        self._deps = deps
        self.catalogues = deps.catalogues
        self._flood = FloodGuard(deps.clock, deps.settings.flood_messages_per_minute)
        self.account = AccountHandlers(deps)
        self.feedback = FeedbackFlow(deps)
        self.status = StatusHandlers(deps)
        self.announcements = AnnouncementHandlers(deps)
        self.flows: dict[str, ChoiceFlow] = {
            FEEDBACK_FLOW: self.feedback,
            ANNOUNCEMENT_FLOW: self.announcements,
        }
        self.commands: dict[str, Command] = {
            "start": self.account.start,
            "help": self.account.help,
            "language": self.account.language,
            "privacy": self.account.privacy,
            "cancel": self.account.cancel,
            "feedback": self._feedback_command,
            "status": self.status.status,
            "mine": self.status.mine,
            "broadcast": self.announcements.broadcast,
        }

    async def dispatch(self, incoming: Incoming) -> list[Reply]:
        """Answer one update; the state it changes is committed before this returns."""
        verdict = self._flood.check(f"{incoming.platform}:{incoming.user_id}")
        if verdict is Verdict.DROP:
            logger.info("flood: dropped an update from %s:%s", incoming.platform, incoming.user_id)
            return []
        if incoming.is_group and incoming.command is None:
            return []  # residents talk to the bot privately; group chats are for commands
        turn = await self._turn(incoming)
        if verdict is Verdict.WARN:
            logger.warning(
                "flood: %s:%s is over %d messages a minute",
                incoming.platform,
                incoming.user_id,
                self._deps.settings.flood_messages_per_minute,
            )
            return [
                Reply(
                    turn._(
                        "Sie schicken sehr viele Nachrichten in kurzer Zeit. Bitte warten Sie "
                        "eine "
                        "Minute; Nachrichten bis dahin werden nicht bearbeitet."
                    )
                )
            ]
        if incoming.command is not None:
            return await self._command(turn, incoming.command)
        if incoming.payload is not None:
            return await self._button(turn, incoming.payload)
        return await self._message(turn)

    def failure_reply(self, incoming: Incoming) -> Reply:
        """What the person reads when answering them failed; needs no database."""
        catalogues = self._deps.catalogues
        tr = catalogues.get(catalogues.match(incoming.language_code))
        return Reply(
            tr.gettext(
                "Entschuldigung, da ist bei mir etwas schiefgegangen. Bitte versuchen Sie es in "
                "einem Moment noch einmal."
            )
        )

    async def _turn(self, incoming: Incoming) -> Turn:
        deps = self._deps
        now = deps.clock.now()
        contact, created = await deps.store.contacts.get_or_add_contact(
            ContactKey(
                incoming.platform,
                incoming.user_id,
                "" if incoming.is_group else incoming.chat_id,
                incoming.display_name,
            ),
            now,
        )
        preselected = deps.catalogues.match(incoming.language_code)
        if created and preselected is not None:
            assert contact.id is not None
            await deps.store.contacts.set_language(contact.id, preselected)
            contact.language = preselected
        language = contact.language or preselected or deps.catalogues.default
        return Turn(incoming, contact, language, deps.catalogues.get(language), now, deps.zone)

    async def _command(self, turn: Turn, name: str) -> list[Reply]:
        command = self.commands.get(name)
        if command is None:
            return [
                Reply(
                    turn._(
                        "Den Befehl /{command} kenne ich nicht. /help zeigt, was ich kann."
                    ).format(command=name)
                )
            ]
        # The limit is on what the command carries ("/feedback <text>"), not on its name.
        text_error = self._check_text(turn, turn.incoming.text.strip().partition(" ")[2])
        if text_error is not None:
            return [text_error]
        return await command(turn)

    async def _feedback_command(self, turn: Turn) -> list[Reply]:
        text = turn.incoming.text.strip().partition(" ")[2].strip()
        return await self.feedback.start(turn, text)

    async def _button(self, turn: Turn, payload: str) -> list[Reply]:
        if payload.startswith(LANGUAGE_PAYLOAD):
            return await self.account.on_language_choice(turn, payload[len(LANGUAGE_PAYLOAD) :])
        pressed = parse_payload(payload)
        state = await self._deps.store.conversations.get_state(turn.contact_id)
        flow = self.flows.get(state.flow) if state is not None else None
        if (
            pressed is None
            or state is None
            or flow is None
            or pressed.version != state.version
            or pressed.step != state.step
        ):
            logger.info("stale button %r from contact %s", payload, turn.contact_id)
            return [
                Reply(
                    turn._(
                        "Diese Schaltfläche gehört zu einer früheren Frage und gilt nicht mehr."
                    ),
                    notice=True,
                )
            ]
        return await flow.on_choice(turn, state, pressed.value)

    async def _message(self, turn: Turn) -> list[Reply]:
        incoming = turn.incoming
        if incoming.unsupported == FILE_TOO_LARGE:
            limit = self._deps.settings.max_file_bytes / 1_000_000
            text = turn._(
                "Diese Datei ist zu groß. Ich kann Dateien bis {limit} MB annehmen. "
                "Es wurde nichts gespeichert."
            )
            return [Reply(text.format(limit=f"{limit:g}"))]
        if incoming.unsupported is not None:
            text = turn._(
                "Mit dieser Art von Nachricht kann ich nichts anfangen. Bitte schreiben Sie "
                "Text oder schicken Sie ein Foto oder ein Dokument."
            )
            return [Reply(text)]
        if not incoming.text.strip() and not incoming.attachments:
            return [
                Reply(
                    turn._(
                        "Ihre Nachricht ist leer. Bitte schreiben Sie, was Sie uns mitteilen "
                        "möchten."
                    )
                )
            ]
        text_error = self._check_text(turn, incoming.text)
        if text_error is not None:
            return [text_error]
        state = await self._deps.store.conversations.get_state(turn.contact_id)
        if state is not None and state.flow == ANNOUNCEMENT_FLOW:
            return await self.announcements.on_message(turn, state)
        return await self.feedback.on_message(turn, state)

    def _check_text(self, turn: Turn, text: str) -> Reply | None:
        limit = self._deps.settings.max_text_length
        if len(text) <= limit:
            return None
        return Reply(
            turn._(
                "Ihre Nachricht ist zu lang ({length} Zeichen, höchstens {limit}). Bitte kürzen "
                "Sie "
                "sie oder teilen Sie sie auf mehrere Rückmeldungen auf. Es wurde nichts "
                "gespeichert."
            ).format(length=len(text), limit=limit)
        )
