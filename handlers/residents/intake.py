"""The feedback flow: text → kind → field of action → anonymity → confirm → committed."""

from __future__ import annotations

import logging
from typing import Any

from handlers.choices import build_choices, match_typed
from handlers.context import Deps, Turn
from handlers.coordination.notify import group_notifications
from handlers.guards import check_length
from handlers.i18n import N_
from handlers.labels import KIND_LABELS, kind_label, localized_name
from handlers.messages import Reply
from handlers.residents.privacy import consent_request
from storage.items.feedback import NewItem
from storage.models import ConversationState, FeedbackItem, GroupChat
from storage.outbox import NewMessage

logger = logging.getLogger(__name__)

FLOW = "feedback"
TEXT, KIND, FIELD, ANONYMITY, CONFIRM = "text", "kind", "field", "anon", "confirm"
CHOICE_STEPS = (KIND, FIELD, ANONYMITY, CONFIRM)
SOURCE = "source"  # flow data: the id of the message the text came in
NEW_ITEM = N_("Neue Rückmeldung")


class FeedbackFlow:
    def __init__(self, deps: Deps) -> None:
        self._deps = deps
        self._conversations = deps.store.conversations

    async def start(self, turn: Turn, text: str) -> list[Reply]:
        """Begin a new item; with `text` the first question is already answered."""
        await self._conversations.clear_state(turn.contact_id)
        if not text:
            return [await self._ask(turn, TEXT, {})]
        return [await self._ask(turn, KIND, {"text": text})]

    async def continue_with(
        self, turn: Turn, text: str, kind: str, field: str | None
    ) -> list[Reply]:
        """Take `text`, written for another flow (the survey after an event asks what the
        working group should take up), as an item of `kind` in `field`: only the questions
        still open are asked (the field when it is not known), the anonymity question and
        the summary always."""
        data: dict[str, Any] = {"text": text, "kind": kind, SOURCE: turn.incoming.message_id}
        if field is None:
            return [await self._ask(turn, FIELD, data)]
        return [await self._ask(turn, ANONYMITY, {**data, "field": field})]

    async def on_message(self, turn: Turn, state: ConversationState | None) -> list[Reply]:
        """A text or file sent while in the flow (or outside, which starts it)."""
        incoming = turn.incoming
        replies: list[Reply] = []
        text = incoming.text.strip()
        if incoming.attachments:
            if state is None or state.flow != FLOW:
                await self._conversations.clear_state(turn.contact_id)
                state = None
            # Text with a file while a question with options is open describes the file: it
            # is kept as the file's caption, neither taken as an answer nor refused as one.
            caption = text if text and state is not None and state.step in CHOICE_STEPS else None
            held = await self._attach(turn, caption)
            if held is None:
                limit = self._deps.settings.bot.max_attachments_per_item
                return [
                    Reply(
                        turn.ngettext(
                            "Sie können höchstens {n} Datei anhängen.",
                            "Sie können höchstens {n} Dateien anhängen.",
                            limit,
                        ).format(n=limit)
                    )
                ]
            attached = turn.ngettext(
                "Datei angehängt ({n} Datei bei dieser Rückmeldung).",
                "Datei angehängt ({n} Dateien bei dieser Rückmeldung).",
                held,
            ).format(n=held)
            if caption is not None:
                text = ""  # answered nothing: the question comes again below
                attached += "\n" + turn._(
                    "Ihren Text dazu habe ich als Beschreibung der Datei gespeichert."
                )
            replies.append(Reply(attached))
        # The message the text came in, so that a later change to it can replace the text.
        written = {"text": text, SOURCE: incoming.message_id}
        if state is None:
            if text:
                return [*replies, await self._ask(turn, KIND, written)]
            return [*replies, await self._ask(turn, TEXT, {})]
        if state.step == TEXT and text:
            return [*replies, await self._ask(turn, KIND, {**state.data, **written})]
        if state.step in CHOICE_STEPS and text:
            options = await self._options(turn, state.step)
            value = match_typed(text, options)
            if value is not None:
                return [*replies, *await self.on_choice(turn, state, value)]
            replies.append(
                Reply(
                    turn._(
                        "Das passt nicht zur aktuellen Frage. Bitte wählen Sie eine der "
                        "Möglichkeiten "
                        "(Nummer oder Text) oder brechen Sie mit /cancel ab."
                    )
                )
            )
        return [*replies, await self._prompt(turn, state.step, state.data, state.version)]

    async def on_edit(self, turn: Turn) -> list[Reply]:
        """A message changed after sending: while its item is still being written, the new
        text replaces the old and the current question comes again (its earlier buttons go
        stale); otherwise the change cannot reach anything, which the person is told."""
        incoming, state = turn.incoming, turn.state
        text = incoming.text.strip()
        if not text or incoming.unsupported is not None:
            return []  # e.g. a live location moving on: nothing a person wrote changed
        if (
            state is not None
            and state.flow == FLOW
            and state.step in CHOICE_STEPS
            and incoming.message_id is not None
            and state.data.get(SOURCE) == incoming.message_id
            and incoming.command is None
        ):
            too_long = check_length(turn, text, self._deps.settings)
            if too_long is not None:
                return [too_long]
            prompt = await self._ask(turn, state.step, {**state.data, "text": text})
            return [Reply(turn._("Geändert: Ihre Rückmeldung hat jetzt den neuen Text.")), prompt]
        return [
            Reply(
                turn._(
                    "Eine geänderte Nachricht kann ich nur übernehmen, solange die Rückmeldung "
                    "dazu noch nicht abgeschickt ist. Schicken Sie Ergänzungen bitte als neue "
                    "Nachricht."
                )
            )
        ]

    async def on_choice(self, turn: Turn, state: ConversationState, value: str) -> list[Reply]:
        """An option of the current step was chosen (pressed or typed)."""
        data, step = dict(state.data), state.step
        if step == CONFIRM:
            if value == "send":
                return [await self._submit(turn, data, state.version)]
            await self._conversations.clear_state(turn.contact_id)
            return [
                Reply(turn._("Abgebrochen. Es wurde nichts gespeichert."), replaces_prompt=True)
            ]
        options = [v for _, v in await self._options(turn, step)]
        if value not in options:
            return [await self._prompt(turn, step, data, state.version)]
        if step == KIND:
            data["kind"] = value
            next_step = FIELD
        elif step == FIELD:
            data["field"] = value
            next_step = ANONYMITY
        else:
            data["anonymous"] = value == "anonymous"
            next_step = CONFIRM
        reply = await self._ask(turn, next_step, data)
        return [
            Reply(
                reply.text,
                reply.choices,
                replaces_prompt=True,
                choice_columns=reply.choice_columns,
            )
        ]

    async def _submit(self, turn: Turn, data: dict[str, Any], version: int) -> Reply:
        if turn.contact.consent_at is None:  # they saw the notice with the summary and agreed
            await self._deps.store.contacts.set_consent(turn.contact_id, turn.now)
        new = NewItem(
            contact_id=turn.contact_id,
            kind=data["kind"],
            field_key=data["field"],
            text=data["text"],
            language=turn.language,
            anonymous=bool(data["anonymous"]),
            platform=turn.incoming.platform,
        )
        field = await self._deps.store.groups.get_field(new.field_key)

        def announce(
            item: FeedbackItem, chats: list[GroupChat], files: list[int]
        ) -> list[NewMessage]:
            return group_notifications(
                self._deps,
                item,
                chats,
                files,
                field=field,
                author_name=turn.contact.display_name,
                headline=NEW_ITEM,
                event="item-new",
                now=turn.now,
            )

        item = await self._deps.store.feedback.add_item(
            new,
            turn.now,
            reference_year=turn.local_now().year,
            conversation_version=version,
            notify=announce,
        )
        if item is None:
            return Reply(turn._("Diese Rückmeldung wurde bereits abgeschickt."))
        logger.info(
            "feedback %s stored for contact %s, routed to %s",
            item.reference,
            turn.contact_id,
            item.group_key,
        )
        group = await self._deps.store.groups.get_group(item.group_key)
        return Reply(
            turn._(
                "Vielen Dank! Ihre Rückmeldung ist eingegangen.\n"
                "Ihre Referenz: {reference}\n"
                "Weitergeleitet an: {group}\n\n"
                "Mit /status {reference} sehen Sie jederzeit, wie es damit weitergeht."
            ).format(reference=item.reference, group=localized_name(turn, group, item.group_key)),
            replaces_prompt=True,
        )

    async def _attach(self, turn: Turn, caption: str | None) -> int | None:
        """Keep the message's files, `caption` with the first (the one it was written with)."""
        held = 0
        for index, attachment in enumerate(turn.incoming.attachments):
            held = await self._conversations.add_pending_attachment(
                turn.contact_id,
                kind=attachment.kind,
                file_name=attachment.file_name,
                mime_type=attachment.mime_type,
                data=attachment.data,
                now=turn.now,
                limit=self._deps.settings.bot.max_attachments_per_item,
                caption=caption if index == 0 else None,
            )
            if held < 0:
                return None
        return held

    async def _ask(self, turn: Turn, step: str, data: dict[str, Any]) -> Reply:
        """Move to `step` and ask its question."""
        version = await self._conversations.set_state(turn.contact_id, FLOW, step, data, turn.now)
        return await self._prompt(turn, step, data, version)

    async def _prompt(self, turn: Turn, step: str, data: dict[str, Any], version: int) -> Reply:
        _ = turn._
        if step == TEXT:
            return Reply(
                _(
                    "Bitte schreiben Sie Ihre Rückmeldung in einer Nachricht. "
                    "Sie können auch ein Foto oder Dokument anhängen. /cancel bricht ab."
                )
            )
        texts = {
            KIND: _("Was für eine Rückmeldung ist das?"),
            FIELD: _("Zu welchem Handlungsfeld gehört sie?"),
            ANONYMITY: _(
                "Soll die Arbeitsgruppe Ihren Namen sehen? Anonym bedeutet: "
                "Die Arbeitsgruppe sieht nur Ihren Text, nicht wer Sie sind."
            ),
        }
        text = texts.get(step) or await self._summary(turn, data)
        options = await self._options(turn, step)
        columns = 2 if step in (KIND, FIELD) else 1
        return Reply(text, build_choices(version, step, options), choice_columns=columns)

    async def _summary(self, turn: Turn, data: dict[str, Any]) -> str:
        _ = turn._
        field = await self._deps.store.groups.get_field(data["field"])
        visibility = _("anonym") if data["anonymous"] else _("mit Namen")
        summary = _(
            "Bitte prüfen Sie Ihre Rückmeldung:\n\n"
            "Art: {kind}\nHandlungsfeld: {field}\nSichtbarkeit: {visibility}\n\n"
            "{text}\n\nAbschicken?"
        ).format(
            kind=kind_label(turn, data["kind"]),
            field=localized_name(turn, field, data["field"]),
            visibility=visibility,
            text=data["text"],
        )
        if turn.contact.consent_at is None:
            summary += "\n\n" + consent_request(turn, self._deps)
        return summary

    async def _options(self, turn: Turn, step: str) -> list[tuple[str, str]]:
        _ = turn._
        if step == KIND:
            return [(kind_label(turn, kind), kind) for kind in KIND_LABELS]
        if step == FIELD:
            fields = await self._deps.store.groups.list_fields()
            return [(localized_name(turn, field, field.key), field.key) for field in fields]
        if step == ANONYMITY:
            return [(_("Anonym bleiben"), "anonymous"), (_("Mit meinem Namen"), "named")]
        if step == CONFIRM:
            return [(_("Abschicken"), "send"), (_("Abbrechen"), "cancel")]
        return []
