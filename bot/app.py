"""The composition root: one function wires settings, store, handlers and channels."""

from __future__ import annotations

import logging
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from typing import Any

from bot.clock import SystemClock
from bot.delivery.scheduler import Planner
from bot.report.drafts import ReportDrafts
from bot.serial import KeyedSerializer
from bot.settings import WEEKDAYS, Settings
from handlers.clock import Clock
from handlers.context import Deps, HandlerSettings
from handlers.coordination.deadlines import DigestPlanner, EscalationPlanner
from handlers.events.planner import EventPlanner
from handlers.events.texts import calendar_file
from handlers.i18n import Catalogues
from handlers.messages import Attachment, Incoming, Platform, Reply, reply_from_payload
from handlers.report.planner import REPORT_DRAFT, ReportPlanner
from handlers.residents.retention import RetentionPlanner
from handlers.router import Router
from storage.db import Database
from storage.groups import FieldSpec, GroupSpec
from storage.schema import upgrade_to_head
from storage.store import Store

logger = logging.getLogger(__name__)

# Used when the configuration names no fields of action: every item goes to one group.
FALLBACK_FIELDS = (FieldSpec("allgemein", "Allgemein", {"en": "General"}),)
FALLBACK_GROUPS = (
    GroupSpec(
        "integrationsbuero",
        "Integrationsbüro",
        names={"en": "Integration office"},
        is_default=True,
    ),
)


@dataclass
class App:
    settings: Settings
    db: Database
    store: Store
    router: Router
    clock: Clock
    serializer: KeyedSerializer = field(default_factory=KeyedSerializer)
    planners: list[Planner] = field(default_factory=list)
    deps: Deps | None = None  # what the handlers were built with, for admin commands
    drafts: ReportDrafts = field(default_factory=ReportDrafts)

    async def handle(self, incoming: Incoming) -> list[Reply]:
        """Answer one update, after every earlier update of the same chat is done."""
        async with self.chat_turn(incoming):
            return await self.handle_in_turn(incoming)

    def chat_turn(self, incoming: Incoming) -> AbstractAsyncContextManager[None]:
        """Hold the chat's turn; channels hold it over download, handling and sending, so
        that one chat's replies go out in the order its messages came in."""
        return self.serializer.turn((incoming.platform, incoming.chat_id))

    async def handle_in_turn(self, incoming: Incoming) -> list[Reply]:
        """Answer one update; the caller holds the chat's turn. Never raises."""
        try:
            return await self.router.dispatch(incoming)
        except Exception:
            logger.exception(
                "update failed",
                extra={
                    "platform": str(incoming.platform),
                    "chat_id": incoming.chat_id,
                    "message_id": incoming.message_id,
                    "command": incoming.command,
                },
            )
            return [self.router.failure_reply(incoming)]

    async def resolve(self, payload: dict[str, Any]) -> Reply:
        """An outbox payload as a reply, its files loaded from the store."""
        ids = [int(i) for i in payload.get("files", [])]
        stored = await self.store.items.get_attachments(ids) if ids else []
        files = tuple(
            Attachment(a.kind, a.file_name, a.mime_type, a.data, stored_id=a.id) for a in stored
        )
        files += await self._event_files(payload)
        if payload.get(REPORT_DRAFT) and self.deps is not None:
            draft = await self.drafts.attachment(
                self.settings, self.db.url, self.deps, payload[REPORT_DRAFT]
            )
            files += (draft,)
        return reply_from_payload(payload, files)

    async def _event_files(self, payload: dict[str, Any]) -> tuple[Attachment, ...]:
        """Event documents by their stored id, and the event's calendar file."""
        ids = [int(i) for i in payload.get("event_files", [])]
        documents = await self.store.events.get_documents(ids) if ids else []
        files = [
            Attachment("document", d.file_name, d.mime_type, d.data, stored_id=d.id)
            for d in documents
        ]
        if payload.get("event_ics") is not None:
            event = await self.store.events.get_event(int(payload["event_ics"]))
            if event is not None:
                files.append(calendar_file(event))
        return tuple(files)

    async def mark_unreachable(self, platform: str, chat_id: str) -> None:
        """The chat blocked the bot or is gone: stop writing to the contacts behind it."""
        marked = await self.store.contacts.set_unreachable(platform, chat_id, self.clock.now())
        logger.info("%s chat %s unreachable, %d contact(s) marked", platform, chat_id, marked)

    async def close(self) -> None:
        await self.db.dispose()


def handler_settings(settings: Settings) -> HandlerSettings:
    bot = settings.bot
    return HandlerSettings(
        max_text_length=bot.max_text_length,
        flood_messages_per_minute=bot.flood_messages_per_minute,
        max_attachments_per_item=bot.max_attachments_per_item,
        max_file_bytes=settings.telegram.max_download_bytes,
        max_file_bytes_by_platform={
            Platform.TELEGRAM: settings.telegram.max_download_bytes,
            Platform.MATRIX: settings.matrix.max_download_bytes,
        },
        administrators=bot.administrators,
        digest_weekday=WEEKDAYS.index(settings.coordination.digest_weekday),
        digest_hour=settings.coordination.digest_hour,
        name_coordinators=settings.coordination.name_coordinators,
        page_size=settings.coordination.page_size,
        inactive_contact_days=settings.privacy.inactive_contact_days,
        finished_item_days=settings.privacy.finished_item_days,
        timezone=bot.timezone,
        languages=bot.languages,
        default_language=bot.default_language,
        report_due_days=settings.report.due_days_before_round_table,
        report_reminder_days=settings.report.reminder_days_before_due,
        report_draft_format=settings.report.draft_format,
        report_language=settings.report.language,
    )


def group_specs(settings: Settings) -> tuple[tuple[FieldSpec, ...], tuple[GroupSpec, ...]]:
    if not settings.fields:
        return FALLBACK_FIELDS, FALLBACK_GROUPS
    fields = tuple(FieldSpec(f.key, f.name, dict(f.names)) for f in settings.fields)
    groups = tuple(
        GroupSpec(
            key=g.key,
            name=g.name,
            fields=g.fields,
            names=dict(g.names),
            is_default=g.default,
            answer_days=g.answer_days,
            coordinators=tuple(_pair(member) for member in g.coordinators),
            chats=tuple(_pair(chat) for chat in g.chats),
        )
        for g in settings.groups
    )
    return fields, groups


def _pair(member: str) -> tuple[str, str]:
    platform, _, ident = member.partition(":")
    return platform, ident


async def build_app(
    settings: Settings,
    *,
    clock: Clock | None = None,
    db: Database | None = None,
    migrate: bool = True,
) -> App:
    """Open the database (migrating it unless told not to), load groups and wire the router.

    Tests pass their own clock and an already prepared database.
    """
    db = db or Database(
        settings.database.url, echo=settings.database.echo, pool_size=settings.database.pool_size
    )
    if migrate:
        await upgrade_to_head(db)
    store = Store.over(db)
    await store.groups.sync_from_config(*group_specs(settings))
    clock = clock or SystemClock()
    catalogues = Catalogues(settings.bot.languages, settings.bot.default_language)
    deps = Deps(
        store=store, clock=clock, catalogues=catalogues, settings=handler_settings(settings)
    )
    planners: list[Planner] = [
        EscalationPlanner(deps),
        DigestPlanner(deps),
        RetentionPlanner(deps),
        EventPlanner(deps),
        ReportPlanner(deps),
    ]
    return App(
        settings=settings,
        db=db,
        store=store,
        router=Router(deps),
        clock=clock,
        planners=planners,
        deps=deps,
    )
