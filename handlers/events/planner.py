"""Everything an event sends on its own, derived from the database at `now`.

Each event has stages with a due time computed from its current schedule: the invitation
when registration opens, the reminder before the deadline, the documents `documents_lead_days`
before the event, a notice per new or replaced document, the evening-before reminder, and a
note to the coordinators while documents are still missing. A stage is enqueued once (its
name is recorded with its messages, in one transaction); stages bound to a date carry the
schedule version ("eve:s2"), so a postponed event plans them afresh for its new date, and
the postponement itself skips whatever of the old schedule was still waiting.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any

from handlers.context import Deps, voice
from handlers.coordination.notify import administrator_messages
from handlers.events.texts import (
    Voices,
    documents_due,
    documents_messages,
    eve_message,
    eve_of,
    local_days_before,
    message,
    payload_of,
    when_where,
)
from handlers.messages import Reply, reply_to_payload
from storage.events.models import Event, Registration
from storage.events.registrations import Audience, DocRef
from storage.events.store import PlanView
from storage.models import Contact
from storage.outbox import NewMessage

logger = logging.getLogger(__name__)

Recipients = list[tuple[Contact, Registration | None]]


@dataclass(frozen=True)
class Stage:
    name: str
    due: datetime
    until: datetime  # not sent any more after this (a reminder after the deadline is noise)
    audience: Audience
    build: Callable[[Recipients], list[NewMessage]]


class EventPlanner:
    name = "events"

    def __init__(
        self, deps: Deps, *, deadline_reminder_days: int = 3, missing_documents_days: int = 7
    ) -> None:
        self._deps = deps
        self._reminder_days = deadline_reminder_days
        self._missing_days = missing_documents_days
        self._chats: dict[int, list[tuple[str, str]]] = {}  # coordinators' chats per event

    async def plan(self, now: datetime) -> int:
        """Enqueue every stage that is due at `now` and not done yet."""
        view = await self._deps.store.events.plan_view(now)
        added = 0
        for event in view.events:
            assert event.id is not None
            for stage in self._stages(event, view, now):
                if not (stage.due <= now < stage.until):
                    continue
                if stage.audience == Audience.NOBODY:
                    self._chats[event.id] = await self._coordinator_chats(event.id)
                new = await self._deps.store.registrations.fire_stage(
                    event.id, stage.name, stage.audience, stage.build, now
                )
                if new is not None:
                    logger.info("event %s: %s enqueued %d message(s)", event.slug, stage.name, new)
                    added += new
        return added

    async def next_due(self, now: datetime) -> datetime | None:
        view = await self._deps.store.events.plan_view(now)
        upcoming = [
            stage.due
            for event in view.events
            for stage in self._stages(event, view, now)
            if stage.due > now and stage.due < stage.until
        ]
        return min(upcoming, default=None)

    def _stages(self, event: Event, view: PlanView, now: datetime) -> Iterator[Stage]:
        """The stages of `event` not done yet, with their due times."""
        assert event.id is not None
        done = view.stages.get(event.id, {})
        documents = [DocRef(i, t, v) for i, v, _, t in view.documents.get(event.id, [])]
        changes = {i: at for i, _, at, _ in view.documents.get(event.id, [])}
        zone, version = self._deps.zone, event.schedule_version
        docs_due = documents_due(event, zone)
        candidates: list[Stage] = [
            Stage(
                f"invite:s{version}",
                event.registration_opens_at,
                event.registration_deadline,
                Audience.SUBSCRIBERS_UNINVITED,
                lambda people: self._invitations(event, people, now),
            ),
        ]
        reminder = local_days_before(event.registration_deadline, self._reminder_days, zone)
        if reminder > event.registration_opens_at:
            candidates.append(
                Stage(
                    f"deadline:s{version}",
                    reminder,
                    event.registration_deadline,
                    Audience.SUBSCRIBERS_UNREGISTERED,
                    lambda people: self._deadline_reminders(event, people, now),
                )
            )
        if documents:
            candidates.append(
                Stage(
                    "docs",
                    docs_due,
                    event.starts_at,
                    Audience.REGISTERED,
                    lambda people: documents_messages(
                        self._deps, event, [c for c, _ in people], documents, now
                    ),
                )
            )
        else:
            candidates.append(
                Stage(
                    f"docs-missing:s{version}",
                    local_days_before(docs_due, self._missing_days, zone),
                    docs_due,
                    Audience.NOBODY,
                    lambda _: self._missing_documents(event, docs_due, now),
                )
            )
        sent_at = done.get("docs")
        if sent_at is not None:
            for document in documents:
                if changes[document.id] > sent_at:
                    candidates.append(
                        Stage(
                            f"doc{document.id}:v{document.version}",
                            changes[document.id],
                            event.starts_at,
                            Audience.REGISTERED,
                            partial(self._new_version, event, document, now=now),
                        )
                    )
        candidates.append(
            Stage(
                f"eve:s{version}",
                eve_of(event.starts_at, zone),
                event.starts_at,
                Audience.REGISTERED,
                lambda people: self._eve(event, people, now),
            )
        )
        yield from (stage for stage in candidates if stage.name not in done)

    # ---- the messages of each stage -----------------------------------------------------

    def _invitations(self, event: Event, people: Recipients, now: datetime) -> list[NewMessage]:
        def text(speaker: Any) -> str:
            body = speaker._(
                "Einladung: {title}\n{when}\n\n{description}\n\n"
                "Anmeldung bis {deadline} mit /events"
            ).format(
                title=event.title,
                when=when_where(speaker, event),
                description=event.description,
                deadline=speaker.when(event.registration_deadline),
            )
            return body.replace("\n\n\n\n", "\n\n")

        return self._same_for_all(event, people, "invite", text, now, versioned=True)

    def _deadline_reminders(
        self, event: Event, people: Recipients, now: datetime
    ) -> list[NewMessage]:
        def text(speaker: Any) -> str:
            return speaker._(
                "Erinnerung: Die Anmeldung für „{title}“ ({when}) endet am {deadline}. "
                "Anmelden mit /events"
            ).format(
                title=event.title,
                when=speaker.when(event.starts_at),
                deadline=speaker.when(event.registration_deadline),
            )

        return self._same_for_all(event, people, "deadline", text, now, versioned=True)

    def _new_version(
        self, event: Event, document: DocRef, people: Recipients, *, now: datetime
    ) -> list[NewMessage]:
        doc_id, doc_version = document.id, document.version

        def text(speaker: Any) -> str:
            if doc_version == 1:
                return speaker._("Neues Dokument für „{title}“: {document}").format(
                    title=event.title, document=document.title
                )
            return speaker._(
                "Neue Fassung von „{document}“ (Version {version}) für „{title}“"
            ).format(document=document.title, version=doc_version, title=event.title)

        return self._same_for_all(
            event, people, f"doc{doc_id}:v{doc_version}", text, now, documents=[doc_id]
        )

    def _eve(self, event: Event, people: Recipients, now: datetime) -> list[NewMessage]:
        voices = Voices(self._deps)
        return [
            eve_message(voices.of(contact), event, contact, registration, now)
            for contact, registration in people
        ]

    def _missing_documents(self, event: Event, due: datetime, now: datetime) -> list[NewMessage]:
        speaker = voice(self._deps)
        text = speaker._(
            "Für „{title}“ ({when}) sind noch keine Unterlagen hinterlegt. Sie sollen am {day} "
            "an alle Angemeldeten gehen: mitreden event doc add {slug} DATEI --title TITEL"
        ).format(
            title=event.title,
            when=speaker.when(event.starts_at),
            day=speaker.when(due),
            slug=event.slug,
        )
        key = f"ev{event.id}:s{event.schedule_version}:docs-missing"
        messages = administrator_messages(self._deps, text, key, now)
        payload = reply_to_payload(Reply(text))
        for platform, chat_id in self._chats.get(event.id or 0, []):
            messages.append(
                NewMessage(
                    f"{key}:{platform}:{chat_id}", platform, chat_id, payload, now, is_group=True
                )
            )
        return messages

    def _same_for_all(
        self,
        event: Event,
        people: Recipients,
        stage: str,
        text: Callable[[Any], str],
        now: datetime,
        *,
        versioned: bool = False,
        documents: list[int] | None = None,
    ) -> list[NewMessage]:
        voices = Voices(self._deps)
        payloads: dict[str, Any] = {}
        prefix = f"ev{event.id}:s{event.schedule_version}:" if versioned else f"ev{event.id}:"
        messages = []
        for contact, _ in people:
            speaker = voices.of(contact)
            if speaker.language not in payloads:
                payloads[speaker.language] = payload_of(
                    Reply(text(speaker)), documents=documents or ()
                )
            key = f"{prefix}{stage}:c{contact.id}"
            messages.append(message(key, contact, payloads[speaker.language], now))
        return messages

    async def _coordinator_chats(self, event_id: int) -> list[tuple[str, str]]:
        """The chats of the working groups owning the fields of the event's workshops."""
        store = self._deps.store
        fields = {w.workshop.field_key for w in await store.events.list_workshops(event_id)}
        chats: list[tuple[str, str]] = []
        for group in await store.groups.list_groups():
            if fields & set(await store.membership.fields_of(group.key)):
                chats += [
                    (c.platform, c.chat_id) for c in await store.groups.list_group_chats(group.key)
                ]
        return chats
