"""Dispatch: one `Incoming` in, the replies out. Guards first, then commands, buttons, text.

Every command, button prefix and conversation flow is registered once, in
`Router._register`, with what dispatch must know about it: whether it belongs in the private
chat only, and for commands the line residents see in the platform's command menu. Adding a
flow is one `registry.flow(...)` line there; dispatch itself names no command and no flow.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from handlers.announce import FLOW as ANNOUNCEMENT_FLOW
from handlers.announce import AnnouncementHandlers
from handlers.asking.polls import PollHandlers
from handlers.asking.stats import asking_stats
from handlers.asking.surveys import FLOW as SURVEY_FLOW
from handlers.asking.surveys import SurveyHandlers
from handlers.asking.texts import POLL_PAYLOAD, POLLS_HELP, SURVEY_PAYLOAD
from handlers.choices import parse_payload
from handlers.context import Deps, Turn
from handlers.coordination.commands import PAGE_PAYLOAD, CoordinatorCommands
from handlers.coordination.flow import FLOW as COORDINATOR_FLOW
from handlers.coordination.flow import CoordinatorFlow
from handlers.coordination.notify import ITEM_PAYLOAD
from handlers.events.admin import EventAdminCommands
from handlers.events.residents import FLOW as EVENT_FLOW
from handlers.events.residents import EventHandlers, events_help
from handlers.events.texts import CANCEL_PAYLOAD, EVE_PAYLOAD
from handlers.flood import FloodGuard, Verdict
from handlers.guards import (
    check_length,
    check_message,
    counts_against_flood,
    flood_warning,
    private_chat_only,
    stale_button,
    unknown_command,
)
from handlers.i18n import N_
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
from handlers.web.signin import WebSignIn
from storage.contacts import ContactKey
from storage.models import ConversationState

logger = logging.getLogger(__name__)

Command = Callable[[Turn], Awaitable[list[Reply]]]
Press = Callable[[Turn, str], Awaitable[list[Reply]]]  # (turn, the whole payload)
OnChoice = Callable[[Turn, ConversationState, str], Awaitable[list[Reply]]]
OnMessage = Callable[[Turn, ConversationState], Awaitable[list[Reply]]]
OutsideFlows = Callable[[Turn, ConversationState | None], Awaitable[list[Reply]]]
# Whether a command shows or changes the sender's own data: known when it is registered, or
# decided per turn (/cancel of one's own flow, /reply by a resident rather than a coordinator).
Private = bool | Callable[[Turn], Awaitable[bool]]


@dataclass(frozen=True, slots=True)
class CommandEntry:
    name: str
    run: Command
    # In a group chat a private command answers only with a pointer to the private chat
    # (`private_chat_only`), whoever sends it, in any group the bot is in.
    private: Private
    menu: str | None  # its line in residents' command menu (untranslated), if it has one


@dataclass(frozen=True, slots=True)
class ButtonEntry:
    prefix: str
    press: Press
    private: bool  # a resident's own business: acts only in the private chat


@dataclass(frozen=True, slots=True)
class FlowEntry:
    name: str
    on_choice: OnChoice | None  # an option of the current step was pressed or typed
    on_message: OnMessage | None  # text or files; without it, as outside any flow
    private: bool  # its buttons and /cancel act only in the private chat
    # Its messages come to it before the rules for residents' messages: in group chats too,
    # without being a reply, and unchecked (a coordinator typing an answer).
    in_groups: bool


class Registry:
    """Every command, button prefix and conversation flow the router dispatches to."""

    def __init__(self) -> None:
        self.commands: dict[str, CommandEntry] = {}  # in registration order: the menu's order
        self.buttons: list[ButtonEntry] = []
        self.flows: dict[str, FlowEntry] = {}
        self.outside_flows: OutsideFlows | None = None

    def command(
        self, name: str, run: Command, *, private: Private, menu: str | None = None
    ) -> None:
        """Register `/name`. `private` is required: every command is placed on one side."""
        if name in self.commands:
            raise ValueError(f"command /{name} is registered twice")
        self.commands[name] = CommandEntry(name, run, private, menu)

    def button(self, prefix: str, press: Press, *, private: bool) -> None:
        """Register the buttons whose payload starts with `prefix`."""
        for other in self.buttons:
            if prefix.startswith(other.prefix) or other.prefix.startswith(prefix):
                raise ValueError(f"button prefix {prefix!r} overlaps {other.prefix!r}")
        self.buttons.append(ButtonEntry(prefix, press, private))

    def flow(
        self,
        name: str,
        *,
        on_choice: OnChoice | None = None,
        on_message: OnMessage | None = None,
        private: bool,
        in_groups: bool = False,
    ) -> None:
        """Register the conversation flow `name` (the `flow` of a `ConversationState`)."""
        if name in self.flows:
            raise ValueError(f"flow {name!r} is registered twice")
        self.flows[name] = FlowEntry(name, on_choice, on_message, private, in_groups)

    def otherwise(self, on_message: OutsideFlows) -> None:
        """What a message outside any flow (or in a flow that takes no text) begins."""
        self.outside_flows = on_message

    def button_for(self, payload: str) -> ButtonEntry | None:
        return next((b for b in self.buttons if payload.startswith(b.prefix)), None)

    def flow_of(self, state: ConversationState | None) -> FlowEntry | None:
        return self.flows.get(state.flow) if state is not None else None


class Router:
    """The bot's conversation, independent of any channel."""

    def __init__(self, deps: Deps) -> None:
        self._deps = deps
        self.catalogues = deps.catalogues
        self._flood = FloodGuard(deps.clock, deps.settings.bot.flood_messages_per_minute)
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
        self.web = WebSignIn(deps)
        self.surveys = SurveyHandlers(deps, self.feedback)
        self.polls = PollHandlers(deps, self.surveys)
        self.registry = Registry()
        self._register(self.registry)

    def _register(self, r: Registry) -> None:
        """Every command, button and flow, by area. The command menu lists the commands that
        have a `menu` line, in the order they are registered here."""
        # ---- a resident's feedback, and what became of it ---------------------------------
        r.command(
            "feedback",
            self._feedback_command,
            private=True,
            menu=N_("Neue Rückmeldung schicken"),
        )
        r.command("status", self.status.status, private=True, menu=N_("Stand Ihrer Rückmeldungen"))
        r.command("mine", self.status.mine, private=True, menu=N_("Alle Ihre Rückmeldungen"))
        r.flow(
            FEEDBACK_FLOW,
            on_choice=self.feedback.on_choice,
            on_message=self.feedback.on_message,
            private=True,
        )
        r.otherwise(self.feedback.on_message)  # any text outside a flow is new feedback
        r.command(
            "outcomes", self.outcomes.outcomes, private=False, menu=N_("Was aus Vorschlägen wurde")
        )
        r.button(OUTCOMES_PAYLOAD, self.outcomes.on_button, private=False)
        # ---- events: registering (private) and the coordinators' side ----------------------
        # In a group, /events shows coordinators the overview and others the pointer.
        r.command(
            "events",
            self._events_command,
            private=False,
            menu=N_("Veranstaltungen und Anmeldung"),
        )
        r.command("myevents", self.events.myevents, private=True)
        r.command("docs", self.events.docs, private=True)
        r.command("subscribe", self.events.subscribe, private=True)
        r.command("unsubscribe", self.events.unsubscribe, private=True)
        r.button(EVE_PAYLOAD, self.events.on_button, private=True)
        r.button(CANCEL_PAYLOAD, self.events.on_button, private=True)
        r.flow(
            EVENT_FLOW,
            on_choice=self.events.on_choice,
            on_message=self.events.on_message,
            private=True,
        )
        r.command("registrations", self.event_admin.registrations, private=False)
        r.command("postpone", self.event_admin.postpone, private=False)
        # ---- the city asks back: the survey after an event, polls -------------------------
        r.command("polls", self.polls.polls, private=True, menu=N_("Umfragen und Ergebnisse"))
        r.button(SURVEY_PAYLOAD, self.surveys.on_button, private=True)
        r.button(POLL_PAYLOAD, self.polls.on_button, private=True)
        r.flow(
            SURVEY_FLOW,
            on_choice=self.surveys.on_choice,
            on_message=self.surveys.on_message,
            private=True,
        )
        # ---- the resident's account: language, data, linking, help -----------------------
        r.command("language", self.account.language, private=True, menu=N_("Sprache wählen"))
        r.button(LANGUAGE_PAYLOAD, self._language_button, private=True)
        r.command("privacy", self.privacy.privacy, private=True, menu=N_("Was gespeichert wird"))
        r.command("mydata", self.privacy.mydata, private=True)
        r.command("forget", self.privacy.forget, private=True)
        r.flow(FORGET_FLOW, on_choice=self.privacy.on_choice, private=True)
        r.command("stop", self.privacy.stop, private=True)
        r.command("link", self.links.link, private=True, menu=N_("Telegram und Matrix verbinden"))
        r.command(
            "cancel",
            self.account.cancel,
            private=self._in_private_flow,
            menu=N_("Aktuellen Vorgang abbrechen"),
        )
        r.command("help", self._help, private=False, menu=N_("Hilfe"))
        r.command("whoami", self.account.whoami, private=False)
        r.command("start", self.account.start, private=True)
        # ---- coordinators: items, answers, announcements ----------------------------------
        c = self.coordinators
        r.command("reply", self.coordination.reply_command, private=self._resident_writes)
        r.command("pending", c.pending, private=False)
        r.command("item", c.item, private=False)
        r.command("take", c.take, private=False)
        r.command("assign", c.assign, private=False)
        r.command("state", c.state, private=False)
        r.command("note", c.note, private=False)
        r.command("stats", self._stats, private=False)
        # A sign-in link is a secret: asked for and sent in the private chat only.
        r.command("web", self.web.web, private=True)
        r.button(ITEM_PAYLOAD, self.coordination.on_button, private=False)
        r.button(PAGE_PAYLOAD, c.next_page, private=False)
        r.flow(
            COORDINATOR_FLOW,
            on_message=self.coordination.on_message,
            private=False,
            in_groups=True,
        )
        r.command("broadcast", self.announcements.broadcast, private=False)
        r.flow(
            ANNOUNCEMENT_FLOW,
            on_choice=self.announcements.on_choice,
            on_message=self.announcements.on_message,
            private=False,
        )

    async def dispatch(self, incoming: Incoming) -> list[Reply]:
        """Answer one update; the state it changes is committed before this returns."""
        verdict = (
            self._flood.check(f"{incoming.platform}:{incoming.user_id}")
            if counts_against_flood(incoming)
            else Verdict.ACCEPT
        )
        if verdict is Verdict.DROP:
            logger.info("flood: dropped an update from %s:%s", incoming.platform, incoming.user_id)
            return []
        if incoming.edited and incoming.is_group:
            return []  # coordinators tidying their own messages in the group
        if incoming.is_group and not (incoming.command or incoming.payload or incoming.reply_to):
            # In groups the bot takes commands, buttons and replies to its own messages (all
            # Telegram delivers to a bot in privacy mode); other chatter leaves no trace. A
            # coordinator whose answer missed the bot's prompt in this chat hears how to answer.
            if not await self.coordination.may_be_asked(incoming):
                return []
            return await self.coordination.on_group_chatter(await self._turn(incoming))
        turn = await self._turn(incoming)
        if verdict is Verdict.WARN:
            logger.warning(
                "flood: %s:%s is over %d messages a minute",
                incoming.platform,
                incoming.user_id,
                self._deps.settings.bot.flood_messages_per_minute,
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
        command = self.registry.commands.get(name)
        if command is None:
            return [unknown_command(turn, name)]
        if turn.incoming.is_group and await self._private(turn, command.private):
            return [private_chat_only(turn)]
        # The limit is on what the command carries ("/feedback <text>"), not on its name.
        too_long = check_length(
            turn, turn.incoming.text.strip().partition(" ")[2], self._deps.settings
        )
        return [too_long] if too_long is not None else await command.run(turn)

    @staticmethod
    async def _private(turn: Turn, private: Private) -> bool:
        """Whether a command shows or changes the sender's own data (asked only in group
        chats, where the answer is then a pointer to the private chat)."""
        return private if isinstance(private, bool) else await private(turn)

    async def _in_private_flow(self, turn: Turn) -> bool:
        """/cancel: private when it would end a resident's own flow."""
        flow = self.registry.flow_of(turn.state)
        return flow is not None and flow.private

    async def _resident_writes(self, turn: Turn) -> bool:
        """/reply: private when a resident writes back about their own item."""
        return not (await role_of(self._deps, turn)).is_coordinator

    async def _feedback_command(self, turn: Turn) -> list[Reply]:
        text = turn.incoming.text.strip().partition(" ")[2].strip()
        return await self.feedback.start(turn, text)

    async def _events_command(self, turn: Turn) -> list[Reply]:
        if turn.incoming.is_group:  # registering is private; coordinators' overview is not
            return await self.event_admin.overview(turn) or [private_chat_only(turn)]
        return [*await self.events.events(turn), *await self.event_admin.overview(turn)]

    async def _help(self, turn: Turn) -> list[Reply]:
        first, *rest = await self.account.help(turn)
        text = f"{first.text}\n\n{events_help(turn)}\n{turn._(POLLS_HELP)}"
        return [Reply(text, first.choices, choice_columns=first.choice_columns), *rest]

    async def _stats(self, turn: Turn) -> list[Reply]:
        """`/stats`: the items' figures, then the period's surveys and polls."""
        replies = await self.coordinators.stats(turn)
        if not (await role_of(self._deps, turn)).is_coordinator:
            return replies
        period = turn.incoming.args[0] if turn.incoming.args else ""
        asked = await asking_stats(self._deps, turn, period)
        return replies if asked is None else [*replies, asked]

    async def _language_button(self, turn: Turn, payload: str) -> list[Reply]:
        return await self.account.on_language_choice(turn, payload.removeprefix(LANGUAGE_PAYLOAD))

    async def _button(self, turn: Turn, payload: str) -> list[Reply]:
        button = self.registry.button_for(payload)
        pressed = parse_payload(payload) if button is None else None
        state = turn.state
        flow = self.registry.flow_of(state)
        # A resident's own business (language, events, the steps of a private flow) acts
        # only in the private chat.
        private = (
            button.private
            if button is not None
            else pressed is not None and (flow is not None and flow.private)
        )
        if turn.incoming.is_group and private:
            return [private_chat_only(turn)]
        if button is not None:
            return await button.press(turn, payload)
        if (
            pressed is None
            or state is None
            or flow is None
            or flow.on_choice is None
            or pressed.version != state.version
            or pressed.step != state.step
        ):
            logger.info("stale button %r from contact %s", payload, turn.contact_id)
            return [stale_button(turn)]
        return await flow.on_choice(turn, state, pressed.value)

    async def _message(self, turn: Turn) -> list[Reply]:
        incoming = turn.incoming
        state = turn.state
        flow = self.registry.flow_of(state)
        if state is not None and flow is not None and flow.in_groups and flow.on_message:
            return await flow.on_message(turn, state)
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
        if state is not None and flow is not None and flow.on_message is not None:
            return await flow.on_message(turn, state)
        assert self.registry.outside_flows is not None, "Router._register names it"
        return await self.registry.outside_flows(turn, state)
