"""Buttons on item notifications, the answer typed after pressing "Answer", and residents
answering back (`/reply REF text` or a reply to the bot's message about their item)."""

from __future__ import annotations

import logging
import re
import uuid

from handlers.context import Deps, Turn
from handlers.coordination.actions import ANSWERED, FLOW
from handlers.coordination.commands import CoordinatorCommands
from handlers.coordination.notify import (
    ANSWER,
    ITEM_PAYLOAD,
    STATE,
    TAKE,
    item_actions,
    item_payload,
    out_of_reach,
    reachable,
)
from handlers.coordination.notify import group_notifications as notify_group
from handlers.guards import private_chat_only
from handlers.i18n import N_
from handlers.labels import state_label
from handlers.messages import Choice, Incoming, Reply
from handlers.roles import role_of
from handlers.workflow import NEEDS_NOTE, allowed_next
from storage.items.feedback import find_reference
from storage.items.handling import Change, ItemChanged
from storage.models import ConversationState, FeedbackItem

logger = logging.getLogger(__name__)

SET = "set"
BARE_NUMBER = re.compile(r"\d+\s*[.):]?")


class CoordinatorFlow:
    def __init__(self, deps: Deps, commands: CoordinatorCommands) -> None:
        self._deps = deps
        self._commands = commands
        self._actions = commands.actions

    async def on_button(self, turn: Turn, payload: str) -> list[Reply]:
        """ "item:ACTION:REF[:VALUE]" from a notification or an /item card."""
        action, _, rest = payload.removeprefix(ITEM_PAYLOAD).partition(":")
        reference, _, value = rest.partition(":")
        loaded = await self._actions.load(turn, action, reference)
        if isinstance(loaded, list):  # a refusal stays one: the card keeps its buttons
            return [Reply(loaded[0].text, notice=True, refusal=loaded[0].refusal)]
        role, item = loaded
        try:
            if action == TAKE:  # from a card that may be older than the item's state
                return [
                    Reply(r.text, notice=True, refusal=True) if r.refusal else r
                    for r in await self._actions.take(turn, role, item)
                ]
            if action == ANSWER and not reachable(await self._deps.store.items.get_author(item)):
                return [Reply(out_of_reach(turn), notice=True)]  # a card from before
            if action == ANSWER:
                return await self._ask(
                    turn,
                    item,
                    ANSWER,
                    turn._(
                        "Bitte schreiben Sie jetzt Ihre Antwort auf {reference}. Sie geht an die "
                        "Person, die die Rückmeldung geschickt hat. /cancel bricht ab."
                    ),
                )
            if action == STATE:
                return [self._state_menu(turn, item)]
            if action == SET and value in NEEDS_NOTE and value in allowed_next(item.state):
                return await self._ask(
                    turn,
                    item,
                    value,
                    turn._(
                        "Bitte schreiben Sie die Begründung für {state} ({reference}). Die Person "
                        "bekommt sie zu lesen. /cancel bricht ab."
                    ).replace("{state}", state_label(turn, value)),
                )
            if action == SET:
                return await self._actions.set_state(turn, role, item, value, None)
        except ItemChanged:
            return [
                Reply(
                    turn._("{reference} wurde gerade von jemand anderem geändert.").format(
                        reference=item.reference
                    ),
                    notice=True,
                )
            ]
        return [Reply(turn._("Diese Schaltfläche gilt nicht mehr."), notice=True)]

    def _state_menu(self, turn: Turn, item: FeedbackItem) -> Reply:
        options = tuple(
            Choice(state_label(turn, s), item_payload(SET, item.reference, s))
            for s in allowed_next(item.state)
        )
        return Reply(
            turn._("Neuer Stand für {reference} (jetzt: {state})?").format(
                reference=item.reference, state=state_label(turn, item.state)
            ),
            options,
            choice_columns=2,
        )

    async def _ask(self, turn: Turn, item: FeedbackItem, step: str, prompt: str) -> list[Reply]:
        # The chat is kept so that a message there that misses the prompt gets a hint (see
        # `on_group_chatter`), and only there.
        data = {"ref": item.reference, "chat": turn.incoming.chat_id}
        await self._deps.store.conversations.set_state(turn.contact_id, FLOW, step, data, turn.now)
        # In a group chat the answer must reply to this prompt (Telegram shows a bot only
        # commands and replies to it); `expects_reply` opens the reply field for that.
        return [Reply(prompt.format(reference=item.reference), expects_reply=True)]

    async def may_be_asked(self, incoming: Incoming) -> bool:
        """Whether the sender of a message in a group chat (neither a command nor a reply to
        the bot) is a coordinator, who may have been asked for an answer there. Asked before
        anything about the sender is stored: other people's chatter leaves no trace."""
        settings = self._deps.settings
        if f"{incoming.platform}:{incoming.user_id}" in settings.bot.administrators:
            return True
        membership = self._deps.store.membership
        return bool(await membership.groups_of(incoming.platform, incoming.user_id))

    async def on_group_chatter(self, turn: Turn) -> list[Reply]:
        """A coordinator's plain message in a group chat where the bot asked them for an answer
        or a reason. Telegram shows a bot in a group only replies to it, so the answer must
        reply to the prompt; a message that does not is not passed on (the group is a
        conversation among people too), and the coordinator is told once how to answer."""
        state = turn.state
        if (
            state is None
            or state.flow != FLOW
            or state.data.get("chat") != turn.incoming.chat_id
            or state.data.get("hinted")
            or state.data.get(ANSWERED)
            or not turn.incoming.text.strip()
        ):
            return []
        reference = str(state.data.get("ref", ""))
        await self._deps.store.conversations.set_state(
            turn.contact_id, FLOW, state.step, {**state.data, "hinted": True}, turn.now
        )
        if state.step == ANSWER:
            hint = turn._(
                "Das habe ich nicht weitergegeben. Um {reference} zu beantworten, antworten Sie "
                "direkt auf meine Frage (die Nachricht nach links wischen oder antippen und "
                "„Antworten“ wählen) oder schreiben Sie /reply {reference} Ihr Text. /cancel "
                "bricht ab."
            )
        else:
            hint = turn._(
                "Das habe ich nicht weitergegeben. Um die Begründung für {reference} ({state}) "
                "zu schicken, antworten Sie direkt auf meine Frage (die Nachricht nach links "
                "wischen oder antippen und „Antworten“ wählen) oder schreiben Sie /state "
                "{reference} {state} Ihre Begründung. /cancel bricht ab."
            )
        logger.info("%s: a coordinator's message missed the prompt; hint given", reference)
        return [Reply(hint.format(reference=reference, state=state_label(turn, state.step)))]

    async def on_message(self, turn: Turn, state: ConversationState) -> list[Reply]:
        """The text typed after "Answer" or after choosing a state that needs a reason."""
        reference = str(state.data.get("ref", ""))
        if state.data.get(ANSWERED):  # answered with /reply meanwhile: not a second answer
            await self._deps.store.conversations.clear_state(turn.contact_id)
            return [
                Reply(
                    turn._(
                        "Auf {reference} haben Sie schon geantwortet, deshalb habe ich diese "
                        "Nachricht nicht weitergegeben. Für eine weitere Antwort schreiben Sie "
                        "/reply {reference} Ihr Text."
                    ).format(reference=reference)
                )
            ]
        text = turn.incoming.text.strip()
        if not text:
            return [
                Reply(turn._("Bitte schreiben Sie einen Text oder brechen Sie mit /cancel ab."))
            ]
        if turn.incoming.is_group and is_bare_number(text):
            return [unknown_choice(turn, reference)]  # the question stays open
        await self._deps.store.conversations.clear_state(turn.contact_id)
        loaded = await self._actions.load(turn, "reply", reference)
        if isinstance(loaded, list):
            return loaded
        role, item = loaded
        try:
            if state.step == ANSWER:
                return await self._actions.reply(turn, role, item, text, closes_prompt=False)
            return await self._actions.set_state(turn, role, item, state.step, text)
        except ItemChanged:
            return [
                Reply(
                    turn._("{reference} wurde gerade von jemand anderem geändert.").format(
                        reference=item.reference
                    )
                )
            ]

    async def reply_command(self, turn: Turn) -> list[Reply]:
        """`/reply REF text`: a coordinator answers, or the resident answers back."""
        role = await role_of(self._deps, turn)
        if role.is_coordinator:
            return await self._commands.reply(turn)
        args = turn.incoming.args
        text = turn.incoming.text.strip().split(None, 2)[2:]
        if not args or not text:
            return [Reply(turn._("So geht es: /reply F-2026-0042 Ihr Text"))]
        return await self.resident_answer(turn, args[0].upper(), text[0].strip())

    async def on_reply_to_bot(self, turn: Turn) -> list[Reply] | None:
        """A message sent as a reply to one of the bot's messages about an item; None when
        the replied-to message was about no item (then it is ordinary input)."""
        incoming = turn.incoming
        if incoming.reply_to is None:
            return None
        reference = await self._deps.store.items.reference_for_message(
            incoming.platform, incoming.chat_id, incoming.reply_to
        )
        if reference is None and not incoming.is_group and incoming.quoted_text:
            # A resident's reply to any message of ours about their item: the reference in it
            # says which (also before delivery has recorded which message it sent). In group
            # chats only recorded notifications count, so that a coordinator's remark on a
            # confirmation never reaches a resident.
            reference = find_reference(incoming.quoted_text)
        if reference is None:
            return None
        if incoming.is_group and is_bare_number(incoming.text):
            return [unknown_choice(turn, reference)]
        role = await role_of(self._deps, turn)
        if role.is_coordinator and incoming.is_group:
            loaded = await self._actions.load(turn, "reply", reference)
            if isinstance(loaded, list):
                return loaded
            return await self._actions.reply(turn, *loaded, incoming.text.strip())
        if incoming.is_group:
            # Answered here, a resident's reply to the card of her own (anonymous) item would
            # tell the whole group who wrote it: she writes back in the private chat.
            return [private_chat_only(turn)]
        return await self.resident_answer(turn, reference, incoming.text.strip())

    async def resident_answer(self, turn: Turn, reference: str, text: str) -> list[Reply]:
        """The resident writes back about their own item: into its history and on to the
        working group's chats."""
        items = self._deps.store.items
        item = await items.get_item(reference)
        mine = await self._deps.store.links.list_linked_ids(turn.contact_id)
        if item is None or item.contact_id not in mine:
            return [
                Reply(
                    turn._(
                        "Unter {reference} finde ich keine Rückmeldung von Ihnen. "
                        "/mine zeigt alle."
                    ).format(reference=reference)
                )
            ]
        groups = self._deps.store.groups
        chats = await groups.list_group_chats(item.group_key)
        outgoing = notify_group(
            self._deps,
            item,
            chats,
            [],
            field=await groups.get_field(item.field_key),
            author_name=turn.contact.display_name,
            headline=N_("Antwort der Person"),
            event=f"item-resident:{uuid.uuid4().hex}",
            now=turn.now,
        )
        for message in outgoing:
            message.payload["text"] += "\n\n" + text
        await items.apply(
            item.reference,
            Change("resident", "resident_reply", text=text),
            turn.now,
            outgoing=outgoing,
        )
        logger.info("%s: the resident answered back", item.reference)
        return [
            Reply(
                turn._(
                    "Danke, Ihre Nachricht zu {reference} ist an die Arbeitsgruppe weitergegeben."
                ).format(reference=item.reference)
            )
        ]


def is_bare_number(text: str) -> bool:
    """Whether `text` is only a number ("1", "2)", "3."): in a group chat that is a choice
    from a list whose message the bot no longer knows (Matrix shows buttons as numbers),
    never an answer to pass on to a resident."""
    return BARE_NUMBER.fullmatch(text.strip()) is not None


def unknown_choice(turn: Turn, reference: str) -> Reply:
    return Reply(
        turn._(
            "Eine Zahl allein gebe ich nicht als Antwort weiter: Zu welcher Auswahl sie "
            "gehört, weiß ich nicht (mehr). /item {reference} zeigt die Rückmeldung mit ihrer "
            "Auswahl neu."
        ).format(reference=reference)
    )


__all__ = ["FLOW", "CoordinatorFlow", "item_actions"]
