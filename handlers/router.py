"""Dispatch: one `Incoming` in, the replies out. Guards first, then commands, buttons, text."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Protocol

from handlers.announce import FLOW as ANNOUNCEMENT_FLOW
from handlers.announce import AnnouncementHandlers
from handlers.choices import parse_payload
from handlers.context import Deps, Turn
from handlers.coordination.commands import PAGE_PAYLOAD, CoordinatorCommands
from handlers.coordination.flow import FLOW as COORDINATOR_FLOW
from handlers.coordination.flow import CoordinatorFlow
from handlers.coordination.notify import ITEM_PAYLOAD
from handlers.events.admin import EventAdminCommands
from handlers.events.residents import FLOW as EVENT_FLOW
from handlers.events.residents import EventHandlers, events_help, is_event_button
from handlers.flood import FloodGuard, Verdict
from handlers.guards import (
    check_length,
    check_message,
    flood_warning,
    private_chat_only,
    stale_button,
    unknown_command,
)
from handlers.messages import Incoming, Reply
from handlers.residents.account import LANGUAGE_PAYLOAD, AccountHandlers
from handlers.residents.intake import FLOW as FEEDBACK_FLOW
from handlers.residents.intake import FeedbackFlow
from handlers.residents.link import LinkHandlers
from handlers.residents.outcomes import OUTCOMES_PAYLOAD, OutcomeHandlers
from handlers.residents.privacy import FLOW as FORGET_FLOW
from handlers.residents.privacy import PrivacyHandlers
from handlers.residents.status import StatusHandlers
from handlers.roles import role_of
from storage.contacts import ContactKey
from storage.models import ConversationState

logger = logging.getLogger(__name__)

Command = Callable[[Turn], Awaitable[list[Reply]]]

# Commands that show or change the sender's own data. In a group chat they answer only with a
# pointer to the private chat (`private_chat_only`), whoever sends them, in any group the bot
# is in. Decided per turn in `_private_in_group`: /cancel (of a resident's own flow) and
# /reply (by a resident, not a coordinator); `_events_command` keeps coordinators' overview.
PRIVATE_COMMANDS = frozenset(
    {
        "start",
        "language",
        "privacy",
        "mydata",
        "forget",
        "stop",
        "link",
        "feedback",
        "status",
        "mine",
        "myevents",
        "docs",
        "subscribe",
        "unsubscribe",
    }
)
# Flows a resident goes through for themselves: their buttons and /cancel belong in private.
PRIVATE_FLOWS = frozenset({FEEDBACK_FLOW, FORGET_FLOW, EVENT_FLOW})


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
        self.coordinators = CoordinatorCommands(deps)
        self.coordination = CoordinatorFlow(deps, self.coordinators)
        self.privacy = PrivacyHandlers(deps)
        self.links = LinkHandlers(deps)
        self.events = EventHandlers(deps)
        self.event_admin = EventAdminCommands(deps)
        self.outcomes = OutcomeHandlers(deps)
        self.flows: dict[str, ChoiceFlow] = {
            FEEDBACK_FLOW: self.feedback,
            ANNOUNCEMENT_FLOW: self.announcements,
            FORGET_FLOW: self.privacy,
            EVENT_FLOW: self.events,
        }
        c = self.coordinators
        self.commands: dict[str, Command] = {
            "start": self.account.start,
            "help": self.account.help,
            "language": self.account.language,
            "privacy": self.privacy.privacy,
            "mydata": self.privacy.mydata,
            "forget": self.privacy.forget,
            "stop": self.privacy.stop,
            "cancel": self.account.cancel,
            "link": self.links.link,
            "feedback": self._feedback_command,
            "status": self.status.status,
            "mine": self.status.mine,
            "outcomes": self.outcomes.outcomes,
            "reply": self.coordination.reply_command,
            "broadcast": self.announcements.broadcast,
            "pending": c.pending,
            "item": c.item,
            "take": c.take,
            "assign": c.assign,
            "state": c.state,
            "note": c.note,
            "stats": c.stats,
            "events": self._events_command,
            "myevents": self.events.myevents,
            "docs": self.events.docs,
            "subscribe": self.events.subscribe,
            "unsubscribe": self.events.unsubscribe,
            "registrations": self.event_admin.registrations,
            "postpone": self.event_admin.postpone,
        }
        self.commands["help"] = self._help

    async def dispatch(self, incoming: Incoming) -> list[Reply]:
        """Answer one update; the state it changes is committed before this returns."""
        verdict = self._flood.check(f"{incoming.platform}:{incoming.user_id}")
        if verdict is Verdict.DROP:
            logger.info("flood: dropped an update from %s:%s", incoming.platform, incoming.user_id)
            return []
        if incoming.edited and incoming.is_group:
            return []  # coordinators tidying their own messages in the group
        if incoming.is_group and not (incoming.command or incoming.payload or incoming.reply_to):
            # In groups the bot takes commands, buttons and replies to its own messages (all
            # Telegram delivers to a bot in privacy mode); other chatter leaves no trace.
            return []
        turn = await self._turn(incoming)
        if verdict is Verdict.WARN:
            logger.warning(
                "flood: %s:%s is over %d messages a minute",
                incoming.platform,
                incoming.user_id,
                self._deps.settings.flood_messages_per_minute,
            )
            return [flood_warning(turn)]
        if incoming.edited:
            return await self.feedback.on_edit(turn)
        if incoming.command is not None:
            return await self._command(turn, incoming.command)
        if incoming.payload is not None:
            return await self._button(turn, incoming.payload)
        return await self._message(turn)

    def failure_reply(self, incoming: Incoming) -> Reply:
        """What the person reads when answering them failed; needs no database."""
        tr = self.catalogues.get(self.catalogues.match(incoming.language_code))
        return Reply(
            tr.gettext(
                "Entschuldigung, da ist bei mir etwas schiefgegangen. Bitte versuchen Sie es in "
                "einem Moment noch einmal."
            )
        )

    async def _turn(self, incoming: Incoming) -> Turn:
        deps = self._deps
        now = deps.clock.now()
        private_chat = "" if incoming.is_group else incoming.chat_id
        contact, created, state = await deps.store.contacts.open_turn(
            ContactKey(incoming.platform, incoming.user_id, private_chat, incoming.display_name),
            now,
        )
        preselected = self.catalogues.match(incoming.language_code)
        if created and preselected is not None:
            assert contact.id is not None
            await deps.store.contacts.set_language(contact.id, preselected)
            contact.language = preselected
        language = contact.language or preselected or self.catalogues.default
        return Turn(
            incoming, contact, language, self.catalogues.get(language), now, deps.zone, state
        )

    async def _command(self, turn: Turn, name: str) -> list[Reply]:
        command = self.commands.get(name)
        if command is None:
            return [unknown_command(turn, name)]
        if turn.incoming.is_group and await self._private_in_group(turn, name):
            return [private_chat_only(turn)]
        # The limit is on what the command carries ("/feedback <text>"), not on its name.
        too_long = check_length(
            turn, turn.incoming.text.strip().partition(" ")[2], self._deps.settings
        )
        return [too_long] if too_long is not None else await command(turn)

    async def _private_in_group(self, turn: Turn, name: str) -> bool:
        """Whether command `name` would show or change the sender's own data (asked only in
        group chats, where the answer is then a pointer to the private chat)."""
        if name in PRIVATE_COMMANDS:
            return True
        if name == "cancel":
            return turn.state is not None and turn.state.flow in PRIVATE_FLOWS
        if name == "reply":  # a resident writing back about their own item
            return not (await role_of(self._deps, turn)).is_coordinator
        return False

    def _private_button(self, turn: Turn, payload: str) -> bool:
        """Whether a pressed button belongs to a resident's own business (language, events,
        the steps of a private flow); such buttons act only in the private chat."""
        if is_event_button(payload) or payload.startswith(LANGUAGE_PAYLOAD):
            return True
        state = turn.state
        return (
            parse_payload(payload) is not None
            and state is not None
            and state.flow in PRIVATE_FLOWS
        )

    async def _feedback_command(self, turn: Turn) -> list[Reply]:
        text = turn.incoming.text.strip().partition(" ")[2].strip()
        return await self.feedback.start(turn, text)

    async def _events_command(self, turn: Turn) -> list[Reply]:
        if turn.incoming.is_group:  # registering is private; coordinators' overview is not
            return await self.event_admin.overview(turn) or [private_chat_only(turn)]
        return [*await self.events.events(turn), *await self.event_admin.overview(turn)]

    async def _help(self, turn: Turn) -> list[Reply]:
        first, *rest = await self.account.help(turn)
        text = f"{first.text}\n\n{events_help(turn)}"
        return [Reply(text, first.choices, choice_columns=first.choice_columns), *rest]

    async def _button(self, turn: Turn, payload: str) -> list[Reply]:
        if turn.incoming.is_group and self._private_button(turn, payload):
            return [private_chat_only(turn)]
        if is_event_button(payload):
            return await self.events.on_button(turn, payload)
        if payload.startswith(LANGUAGE_PAYLOAD):
            return await self.account.on_language_choice(turn, payload[len(LANGUAGE_PAYLOAD) :])
        if payload.startswith(ITEM_PAYLOAD):
            return await self.coordination.on_button(turn, payload)
        if payload.startswith(OUTCOMES_PAYLOAD):
            return await self.outcomes.on_button(turn, payload)
        if payload.startswith(PAGE_PAYLOAD):
            return await self.coordinators.next_page(turn, payload)
        pressed = parse_payload(payload)
        state = turn.state
        flow = self.flows.get(state.flow) if state is not None else None
        if (
            pressed is None
            or state is None
            or flow is None
            or pressed.version != state.version
            or pressed.step != state.step
        ):
            logger.info("stale button %r from contact %s", payload, turn.contact_id)
            return [stale_button(turn)]
        return await flow.on_choice(turn, state, pressed.value)

    async def _message(self, turn: Turn) -> list[Reply]:
        incoming = turn.incoming
        state = turn.state
        if state is not None and state.flow == COORDINATOR_FLOW:
            return await self.coordination.on_message(turn, state)
        if incoming.is_group and incoming.reply_to is None:
            return []  # group chats are for commands and coordinators' answers
        refusal = check_message(turn, self._deps.settings)
        if refusal is not None:
            return [] if incoming.is_group else [refusal]
        answered = await self.coordination.on_reply_to_bot(turn)
        if answered is not None:
            return answered
        if incoming.is_group:
            return []
        if state is not None and state.flow == EVENT_FLOW:
            return await self.events.on_message(turn, state)
        if state is not None and state.flow == ANNOUNCEMENT_FLOW:
            return await self.announcements.on_message(turn, state)
        return await self.feedback.on_message(turn, state)
