"""`/status [REF]` and `/mine`: the resident's own items, their state and last change."""

from __future__ import annotations

from handlers.context import Deps, Turn
from handlers.labels import kind_label, localized_name, state_label
from handlers.messages import Reply
from storage.items.feedback import ItemSummary, is_reference

LIST_LIMIT = 20


class StatusHandlers:
    def __init__(self, deps: Deps) -> None:
        self._deps = deps

    async def status(self, turn: Turn) -> list[Reply]:
        if not turn.incoming.args:
            return await self.mine(turn)
        reference = turn.incoming.args[0].upper()
        if not is_reference(reference):
            return [
                Reply(turn._("Das ist keine Referenz. Eine Referenz sieht so aus: F-2026-0042."))
            ]
        item = await self._deps.store.feedback.get_item_for_contact(turn.contact_id, reference)
        if item is None:
            return [
                Reply(
                    turn._(
                        "Unter {reference} finde ich keine Rückmeldung von Ihnen. /mine zeigt "
                        "alle."
                    ).format(reference=reference)
                )
            ]
        return [Reply(await self._details(turn, item))]

    async def mine(self, turn: Turn) -> list[Reply]:
        items = await self._deps.store.feedback.list_items_for_contact(
            turn.contact_id, limit=LIST_LIMIT
        )
        if not items:
            return [
                Reply(
                    turn._(
                        "Sie haben noch keine Rückmeldung geschickt. Schreiben Sie einfach los."
                    )
                )
            ]
        lines = [turn._("Ihre Rückmeldungen:")]
        for item in items:
            lines.append(
                turn._("{reference} · {kind} · {state} · zuletzt geändert {when}").format(
                    reference=item.reference,
                    kind=kind_label(turn, item.kind),
                    state=state_label(turn, item.state),
                    when=turn.when(item.updated_at),
                )
            )
        lines.append(
            turn._("Details: /status und die Referenz, z. B. /status {reference}").format(
                reference=items[0].reference
            )
        )
        return [Reply("\n".join(lines))]

    async def _details(self, turn: Turn, item: ItemSummary) -> str:
        groups = self._deps.store.groups
        field = await groups.get_field(item.field_key)
        group = await groups.get_group(item.group_key)
        details = turn._(
            "{reference}\nArt: {kind}\nHandlungsfeld: {field}\nArbeitsgruppe: {group}\n"
            "Stand: {state}\nEingegangen: {created}\nZuletzt geändert: {updated}\n"
            "Anhänge: {attachments}"
        ).format(
            reference=item.reference,
            kind=kind_label(turn, item.kind),
            field=localized_name(turn, field, item.field_key),
            group=localized_name(turn, group, item.group_key),
            state=state_label(turn, item.state),
            created=turn.when(item.created_at),
            updated=turn.when(item.updated_at),
            attachments=item.attachments,
        )
        if item.answer_due_at is not None and item.first_answered_at is None:
            details += "\n" + turn._("Erste Antwort erwartet bis {day}").format(
                day=turn.day(item.answer_due_at)
            )
        return details
