"""What coordinators do to an item: take it, re-route it, change its state, answer the
resident, note something internally. Each change lands in the item's history and causes its
messages in the same transaction."""

from __future__ import annotations

import logging
import uuid
from datetime import datetime

from handlers.context import Deps, Turn
from handlers.coordination.notify import (
    ANSWER,
    group_notifications,
    reachable,
    resident_notification,
    resident_voice,
)
from handlers.i18n import N_
from handlers.labels import localized_name, name_list, state_label
from handlers.messages import Reply
from handlers.roles import Role, refuse, role_of
from handlers.workflow import NEEDS_NOTE, TAKEABLE, TRANSITIONS
from storage.items.feedback import is_reference
from storage.items.handling import Change, ItemChanged
from storage.models import FeedbackItem, ItemState
from storage.outbox import NewMessage

logger = logging.getLogger(__name__)
S = ItemState
# The flow of the questions a button opens (an answer, a reason; handlers.coordination.flow),
# and the mark of an answer prompt whose answer went out another way (`/reply`).
FLOW = "coordinator"
ANSWERED = "answered"
# A change to one of these tells the resident what came of the item: their first answer.
ANSWERING_STATES = frozenset({S.ANSWERED, S.IMPLEMENTED, S.DECLINED})


class CoordinatorActions:
    def __init__(self, deps: Deps) -> None:
        self._deps = deps
        self._items = deps.store.items

    async def load(
        self, turn: Turn, command: str, reference: str | None
    ) -> tuple[Role, FeedbackItem] | list[Reply]:
        """The caller's role and the item, or the refusal to show instead."""
        role = await role_of(self._deps, turn)
        if not role.is_coordinator:
            return refuse(turn, command)
        if not reference or not is_reference(reference):
            return [
                Reply(
                    turn._(
                        "Bitte geben Sie eine Referenz an, z. B. /{command} F-2026-0042."
                    ).format(command=command)
                )
            ]
        item = await self._items.get_item(reference)
        if item is None:
            return [
                Reply(
                    turn._("Eine Rückmeldung {reference} gibt es nicht.").format(
                        reference=reference.upper()
                    )
                )
            ]
        if not role.can_act_on(item.group_key):
            logger.warning(
                "refused /%s %s for %s: not in group %s",
                command,
                item.reference,
                role.actor,
                item.group_key,
            )
            return [
                Reply(
                    turn._("{reference} gehört nicht zu Ihren Arbeitsgruppen.").format(
                        reference=item.reference
                    ),
                    refusal=True,
                )
            ]
        return role, item

    async def take(self, turn: Turn, role: Role, item: FeedbackItem) -> list[Reply]:
        if item.state not in TAKEABLE:  # an old card's button, or /take typed
            return [
                Reply(
                    turn._("{reference} ist {state}: Übernehmen geht nicht mehr.").format(
                        reference=item.reference, state=state_label(turn, item.state)
                    ),
                    refusal=True,
                )
            ]
        if item.assignee == role.actor:
            return [
                Reply(turn._("{reference} ist schon bei Ihnen.").format(reference=item.reference))
            ]
        values: dict[str, object] = {"assignee": role.actor, "assignee_name": role.name}
        outgoing: list[NewMessage] = []
        new_state = S.IN_PROGRESS if item.state == S.RECEIVED else item.state
        if new_state != item.state:
            values["state"] = new_state
            outgoing = await self._tell_author(item, new_state, None, turn.now)
        await self._apply(
            item,
            Change(role.actor, "taken", role.name, state=new_state),
            turn.now,
            values,
            outgoing,
        )
        return [
            Reply(
                turn._("{reference} ist jetzt bei Ihnen ({state}).").format(
                    reference=item.reference, state=state_label(turn, new_state)
                )
            )
        ]

    async def assign(
        self, turn: Turn, role: Role, item: FeedbackItem, group_key: str
    ) -> list[Reply]:
        groups = self._deps.store.groups
        group = await groups.get_group(group_key)
        if group is None:
            known = name_list(turn, (g.key for g in await groups.list_groups()))
            return [
                Reply(
                    turn._(
                        "Die Arbeitsgruppe {group} gibt es nicht. Bekannt sind: {known}"
                    ).format(group=group_key, known=known)
                )
            ]
        if group.key == item.group_key:
            return [
                Reply(
                    turn._("{reference} ist schon bei {group}.").format(
                        reference=item.reference, group=localized_name(turn, group, group.key)
                    )
                )
            ]
        moved = FeedbackItem.model_validate(item.model_dump() | {"group_key": group.key})
        author = await self._items.get_author(item)
        field = await groups.get_field(item.field_key)
        chats = await groups.list_group_chats(group.key)
        attachments = await self._items.list_attachment_ids(item.id or 0)
        event = f"item-assigned:{uuid.uuid4().hex}"
        outgoing = group_notifications(
            self._deps,
            moved,
            chats,
            attachments,
            field=field,
            author_name=author.display_name if author else None,
            headline=N_("Weitergeleitete Rückmeldung"),
            event=event,
            now=turn.now,
            answerable=reachable(author),
        )
        speaker = resident_voice(self._deps, author)
        outgoing += resident_notification(
            author,
            item,
            speaker._("Ihre Rückmeldung {reference} ist jetzt bei: {group}.").format(
                reference=item.reference, group=localized_name(speaker, group, group.key)
            ),
            turn.now,
        )
        await self._apply(
            item,
            Change(role.actor, "assigned", role.name, group_key=group.key),
            turn.now,
            {"group_key": group.key, "assignee": None, "assignee_name": None},
            outgoing,
        )
        return [
            Reply(
                turn._("{reference} ist an {group} weitergeleitet.").format(
                    reference=item.reference, group=localized_name(turn, group, group.key)
                )
            )
        ]

    async def set_state(
        self, turn: Turn, role: Role, item: FeedbackItem, state: str, note: str | None
    ) -> list[Reply]:
        if state == item.state:
            return [
                Reply(
                    turn._("{reference} ist schon {state}.").format(
                        reference=item.reference, state=state_label(turn, state)
                    )
                )
            ]
        if state not in TRANSITIONS.get(item.state, frozenset()):
            return [
                Reply(
                    turn._("Von {old} nach {new} geht es nicht.").format(
                        old=state_label(turn, item.state), new=state_label(turn, state)
                    )
                )
            ]
        if state in NEEDS_NOTE and not note:
            return [
                Reply(
                    turn._(
                        "Für {state} ist eine Begründung nötig: /state {reference} "
                        "{key} Begründung"
                    ).format(
                        state=state_label(turn, state),
                        reference=item.reference,
                        key=state_label(turn, state),  # /state reads it in their language
                    )
                )
            ]
        values: dict[str, object] = {"state": state}
        if state in ANSWERING_STATES and item.first_answered_at is None:
            values["first_answered_at"] = turn.now
        outgoing = await self._tell_author(item, state, note, turn.now)
        await self._apply(
            item,
            Change(role.actor, "state", role.name, state=state, text=note),
            turn.now,
            values,
            outgoing,
        )
        if not outgoing:
            return [
                Reply(
                    turn._(
                        "{reference} ist jetzt {state}. Die Person ist nicht erreichbar und "
                        "erfährt es nicht."
                    ).format(reference=item.reference, state=state_label(turn, state))
                )
            ]
        return [
            Reply(
                turn._("{reference} ist jetzt {state}. Die Person wurde informiert.").format(
                    reference=item.reference, state=state_label(turn, state)
                )
            )
        ]

    async def reply(
        self,
        turn: Turn,
        role: Role,
        item: FeedbackItem,
        text: str,
        *,
        closes_prompt: bool = True,
    ) -> list[Reply]:
        """Relay an answer to the resident, who stays anonymous to the coordinator. With
        `closes_prompt`, the coordinator's open "Answer" prompt for the same item is marked
        answered (the answer came as `/reply` or a reply to the card instead)."""
        author = await self._items.get_author(item)
        speaker = resident_voice(self._deps, author)
        group = await self._deps.store.groups.get_group(item.group_key)
        sender = localized_name(speaker, group, item.group_key)
        if self._deps.settings.coordination.name_coordinators:
            sender = f"{role.name} ({sender})"
        message = speaker._(
            "Antwort von {sender} zu Ihrer Rückmeldung {reference}:\n\n{text}\n\n"
            "Sie können direkt auf diese Nachricht antworten oder /reply {reference} "
            "Ihr Text schreiben."
        ).format(sender=sender, reference=item.reference, text=text)
        values: dict[str, object] = {}
        if item.first_answered_at is None:
            values["first_answered_at"] = turn.now
        if item.state in (S.RECEIVED, S.IN_PROGRESS):
            values["state"] = S.ANSWERED
        outgoing = resident_notification(author, item, message, turn.now)
        await self._apply(
            item, Change(role.actor, "reply", role.name, text=text), turn.now, values, outgoing
        )
        if closes_prompt:
            await self._answered_prompt(turn, item.reference)
        if not outgoing:  # "on its way" only when it is
            return [
                Reply(
                    turn._(
                        "Die Antwort ist gespeichert, aber die Person ist nicht mehr erreichbar."
                    )
                )
            ]
        return [
            Reply(
                turn._("Ihre Antwort auf {reference} ist unterwegs.").format(
                    reference=item.reference
                )
            )
        ]

    async def _answered_prompt(self, turn: Turn, reference: str) -> None:
        """Mark the coordinator's open "Answer" prompt for `reference` answered: a later reply
        to it would otherwise go out as a second answer; now it is refused with a word why
        (`CoordinatorFlow.on_message`)."""
        state = turn.state
        if (
            state is None
            or state.flow != FLOW
            or state.step != ANSWER
            or state.data.get("ref") != reference
        ):
            return
        await self._deps.store.conversations.set_state(
            turn.contact_id, FLOW, ANSWER, {**state.data, ANSWERED: True}, turn.now
        )
        logger.info("%s: answered while the answer prompt was open; prompt closed", reference)

    async def note(self, turn: Turn, role: Role, item: FeedbackItem, text: str) -> list[Reply]:
        await self._apply(item, Change(role.actor, "note", role.name, text=text), turn.now, {}, [])
        return [
            Reply(
                turn._("Notiz zu {reference} gespeichert (nur für die Arbeitsgruppe).").format(
                    reference=item.reference
                )
            )
        ]

    async def _tell_author(
        self, item: FeedbackItem, state: str, note: str | None, now: datetime
    ) -> list[NewMessage]:
        author = await self._items.get_author(item)
        speaker = resident_voice(self._deps, author)
        text = speaker._("Neuer Stand Ihrer Rückmeldung {reference}: {state}.").format(
            reference=item.reference, state=state_label(speaker, state)
        )
        if note:
            text += "\n" + speaker._("Anmerkung der Arbeitsgruppe: {note}").format(note=note)
        return resident_notification(author, item, text, now)

    async def _apply(
        self,
        item: FeedbackItem,
        change: Change,
        now: datetime,
        values: dict[str, object],
        outgoing: list[NewMessage],
    ) -> None:
        try:
            await self._items.apply(
                item.reference,
                change,
                now,
                expected_state=item.state,
                values=values,
                outgoing=outgoing,
            )
        except ItemChanged:
            logger.info("%s changed meanwhile; %s not applied", item.reference, change.action)
            raise
        logger.info("%s %s by %s", item.reference, change.action, change.actor)
