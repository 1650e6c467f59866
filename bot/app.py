"""The composition root: `bootstrap` wires settings, database, handlers, channels, delivery
and scheduler into one `Bot`, with every part overridable.

`mitreden run` and `mitreden shell`, the other commands, the tests and the benchmarks all
build through it, each overriding only the part it needs (a clock, a database, its own
channels, no delivery limits), as in cosmicpython's `bootstrap.py`. Nothing it wires imports
this module back: channels see the application through `bot.channels.port.ChannelPort`, and
the report draft's child process gets the function it runs (`render_draft_in_child`) handed in.
`bot.runtime` runs what was wired here.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from bot.channels.console import ConsoleChannel
from bot.channels.port import Record
from bot.clock import SystemClock
from bot.cluster import Cluster, Leadership, SoleLeader, leadership_of
from bot.config import ConfigError
from bot.delivery.loop import Delivery
from bot.delivery.ratelimit import ChatLimits
from bot.delivery.scheduler import Planner, PlanScheduler
from bot.delivery.sending import ProactiveSender
from bot.ops.logs import redact
from bot.ops.metrics import FAILED, HANDLED, Metrics
from bot.report.drafts import FixedClock, Rendered, ReportDrafts, render_draft
from bot.serial import KeyedSerializer
from handlers.asking.polls import PollPlanner
from handlers.asking.surveys import SurveyPlanner
from handlers.clock import Clock
from handlers.context import Deps
from handlers.coordination.deadlines import DigestPlanner, EscalationPlanner
from handlers.events.planner import EventPlanner
from handlers.events.texts import calendar_file
from handlers.i18n import Catalogues
from handlers.menu import command_menu
from handlers.messages import Attachment, Incoming, Platform, Reply, reply_from_payload
from handlers.report.planner import REPORT_DRAFT, ReportPlanner
from handlers.residents.retention import RetentionPlanner
from handlers.router import Router
from handlers.settings import MatrixSettings, Settings, TelegramSettings
from storage.bot_messages import BotMessageStore
from storage.db import Database, database_shown, sqlite_file
from storage.erasures import journal_path
from storage.groups import FieldSpec, GroupSpec
from storage.locks import STARTUP, exclusive
from storage.schema import schema_revision, upgrade_to_head
from storage.store import Store

if TYPE_CHECKING:
    from bot.ops.server import OpsServer
    from bot.web.server import WebServer

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
    """The application as channels, the delivery loop and the command line use it."""

    settings: Settings
    db: Database
    store: Store
    router: Router
    clock: Clock
    deps: Deps  # what the handlers were built with, for admin commands
    planners: list[Planner]
    drafts: ReportDrafts
    metrics: Metrics
    serializer: KeyedSerializer = field(default_factory=KeyedSerializer)
    # Several processes on one PostgreSQL: what they share, and whether this one leads
    # (`bot.cluster`); on SQLite no cluster, and the one process leads.
    cluster: Cluster | None = None
    leadership: Leadership = field(default_factory=SoleLeader)

    async def handle(self, incoming: Incoming) -> list[Reply]:
        """Answer one update, after every earlier update of the same chat is done."""
        async with self.chat_turn(incoming):
            return await self.handle_in_turn(incoming)

    def chat_turn(self, incoming: Incoming) -> AbstractAsyncContextManager[None]:
        """Hold the chat's turn; channels hold it over download, handling and sending, so
        that one chat's replies go out in the order its messages came in."""
        return self.serializer.turn((incoming.platform, incoming.chat_id))

    async def handle_in_turn(
        self, incoming: Incoming, record: Record | None = None
    ) -> list[Reply]:
        """Answer one update; the caller holds the chat's turn.

        `record` stores the replies where they survive the process (the Telegram inbox of
        several processes): then the update's changes and its replies commit in one
        transaction (`Database.turn`), and an update that failed keeps none of its changes,
        only the apology, recorded on its own.

        Raises:
            Only what `record` raised when even the apology could not be recorded: then
            nothing of the update is kept, and it is to be handled again.
        """
        channel = str(incoming.platform)
        with self.metrics.reply_seconds.time():
            try:
                if record is None:
                    replies = await self.router.dispatch(incoming)
                else:
                    async with self.db.turn():
                        replies = await self.router.dispatch(incoming)
                        await record(replies)
            except Exception:
                logger.exception(
                    "update failed",
                    extra={
                        "platform": channel,
                        "chat_id": incoming.chat_id,
                        "message_id": incoming.message_id,
                        "command": incoming.command,
                    },
                )
                self.metrics.updates.labels(channel=channel, result=FAILED).inc()
                apology = [self.router.failure_reply(incoming)]
                if record is not None:
                    await record(apology)
                return apology
        self.metrics.updates.labels(channel=channel, result=HANDLED).inc()
        return replies

    async def resolve(self, payload: dict[str, Any]) -> Reply:
        """An outbox payload as a reply, its files loaded from the store."""
        ids = [int(i) for i in payload.get("files", [])]
        stored = await self.store.items.get_attachments(ids) if ids else []
        files = tuple(
            Attachment(a.kind, a.file_name, a.mime_type, a.data, stored_id=a.id, caption=a.caption)
            for a in stored
        )
        files += await self._event_files(payload)
        if payload.get(REPORT_DRAFT):
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

    def count_send(self, platform: str, result: str) -> None:
        self.metrics.sends.labels(channel=platform, result=result).inc()

    async def mark_unreachable(self, platform: str, chat_id: str) -> None:
        """The chat blocked the bot or is gone: stop writing to the contacts behind it."""
        marked = await self.store.contacts.set_unreachable(platform, chat_id, self.clock.now())
        logger.info("%s chat %s unreachable, %d contact(s) marked", platform, chat_id, marked)

    # What channels need besides the calls above (`bot.channels.port.ChannelPort`).
    @property
    def catalogues(self) -> Catalogues:
        return self.router.catalogues

    def command_menu(self, language: str | None) -> list[tuple[str, str]]:
        return command_menu(self.router.registry, self.router.catalogues.get(language))

    @property
    def bot_messages(self) -> BotMessageStore:
        return self.store.bot_messages

    def group_chats(self, platform: str) -> set[str]:
        """The chats configured as working groups' chats on `platform` (`platform:chat`)."""
        prefix = f"{platform}:"
        return {
            chat.removeprefix(prefix)
            for group in self.settings.groups
            for chat in group.chats
            if chat.startswith(prefix)
        }

    async def close(self) -> None:
        if self.cluster is not None:
            await self.cluster.close()
        await self.db.dispose()


def group_specs(settings: Settings) -> tuple[tuple[FieldSpec, ...], tuple[GroupSpec, ...]]:
    """The configured fields of action and working groups in storage's terms, which
    `store.groups.sync_from_config` writes (storage, the innermost layer, cannot read the
    settings themselves), and which the command line reads to tell the administrator that
    the configuration also defines a group it changes."""
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


class Channel(Protocol):
    """A channel as the runtime runs it: Telegram, Matrix, the console."""

    @property
    def platform(self) -> str: ...

    @property
    def sender(self) -> ProactiveSender:
        """What the outbox sends through on this platform."""
        ...

    async def run(self, stop: asyncio.Event) -> None:
        """Serve until `stop` is set (the console also until its input ends)."""
        ...

    def is_ready(self) -> bool:
        """Connected and serving (`/readyz`)."""
        ...

    def unreadable_updates(self) -> int:
        """Updates skipped so far because they could not be read (`/metrics`)."""
        ...


# Builds one channel on the app, which is the channels' `ChannelPort`.
ChannelFactory = Callable[[App], Channel]


@dataclass
class Bot:
    """Everything one process runs, wired and not yet started (`bot.runtime.run` runs it)."""

    app: App
    channels: list[Channel]
    delivery: Delivery
    scheduler: PlanScheduler
    ops: OpsServer | None = None  # health and metrics, when asked for and configured
    web: WebServer | None = None  # the staff web view, when asked for and configured

    async def close(self) -> None:
        await self.app.close()


async def bootstrap(
    settings: Settings,
    *,
    clock: Clock | None = None,
    db: Database | None = None,
    migrate: bool = True,
    create: bool = True,
    channels: Sequence[ChannelFactory] | None = None,
    senders: Mapping[str, ProactiveSender] | None = None,
    limits: Mapping[str, ChatLimits] | None = None,
    ops: bool = False,
) -> Bot:
    """Wire the bot from `settings`; each keyword replaces one part of it. How the outbox
    is worked off comes from `settings.delivery` (tests replace that section).

    Args:
        clock: the time handlers see (default: the system clock).
        db: an opened database (default: one on `database.url`); `Bot.close` closes it,
            and so does a failure here.
        migrate: bring the schema to the newest migration first; tests pass a prepared one.
        create: make the database when there is none yet (`run`, `shell`, `demo`, tests);
            False, as the other commands pass, raises `NoDatabase` instead (a SQLite file
            that does not exist is not created, a database without a schema not filled).
        channels: what builds each channel (default: Telegram and Matrix where configured,
            else the console); `()` for none, as admin commands and handler tests want.
        senders: what the outbox sends through, by platform (default: each channel's).
        limits: each platform's pace, shared by a channel's replies and the outbox
            (default: from the settings); `{}` sends unpaced.
        ops: serve health and metrics on `ops.listen` and the staff web view on `web.listen`
            (each when set) while running; only `mitreden run` asks, so that no other
            command and no test binds the ports.
    """
    # Which channels, before the database is touched: `run` with none to run stops at once.
    paces = dict(limits) if limits is not None else platform_limits(settings)
    factories = channels if channels is not None else configured_channels(settings, paces)
    if db is None and not create:
        require_database_file(settings.database.url)
    db = db or Database(
        settings.database.url, echo=settings.database.echo, pool_size=settings.database.pool_size
    )
    try:
        if not create:
            await require_schema(db)
        store = Store.over(db, erasures=journal_path(db.url, Path(settings.data.dir)))
        # Processes starting at once on one PostgreSQL do this one after another.
        async with exclusive(db, STARTUP):
            if migrate:
                await upgrade_to_head(db)
            # The configuration seeds groups; the command line owns them afterwards (README,
            # "Working groups"): only an entry new or changed since the last start is applied.
            applied = await store.groups.sync_from_config(*group_specs(settings))
        if applied:
            logger.info(
                "working group(s) %s set from the configuration (entry new or changed)",
                ", ".join(applied),
            )
        clock = clock or SystemClock()
        catalogues = Catalogues(settings.bot.languages, settings.bot.default_language)
        deps = Deps(store=store, clock=clock, catalogues=catalogues, settings=settings)
        planners: list[Planner] = [
            EscalationPlanner(deps),
            DigestPlanner(deps),
            RetentionPlanner(deps),
            EventPlanner(deps),
            SurveyPlanner(deps),
            PollPlanner(deps),
            ReportPlanner(deps),
        ]
        app = App(
            settings=settings,
            db=db,
            store=store,
            router=Router(deps),
            clock=clock,
            deps=deps,
            planners=planners,
            drafts=ReportDrafts(render_draft_in_child),
            metrics=Metrics(),
        )
        if db.is_postgres:
            app.cluster = Cluster.over(db)
            app.leadership = leadership_of(app.cluster)
        try:
            made = [make(app) for make in factories]
        except ValueError as error:  # settings a channel cannot work with, named in the text
            raise ConfigError(str(error)) from None
    except BaseException:
        await db.dispose()
        raise
    by_platform = {**{c.platform: c.sender for c in made}, **(senders or {})}
    delivery = Delivery(
        store.outbox,
        by_platform,
        {platform: pace for platform, pace in paces.items() if platform in by_platform},
        clock,
        settings=settings.delivery,
        on_unreachable=app.mark_unreachable,
        resolve=app.resolve,
        platforms=deliverable(made, app.leadership, by_platform) if app.cluster else None,
    )
    scheduler = PlanScheduler(
        planners,
        clock,
        on_enqueued=delivery.wake,
        interval=timedelta(seconds=settings.delivery.plan_interval_seconds),
    )
    app.metrics.count_unreadable(lambda: sum(c.unreadable_updates() for c in made))
    app.metrics.watch_plans(scheduler.stats)
    app.metrics.watch_leadership(lambda: app.leadership.is_leader)
    if app.cluster is not None:
        app.metrics.watch_inbox(app.cluster.inbox.get_status)
    server = None
    if ops and settings.ops.listen:
        # Imported here: its web server costs 2 MiB, and only `mitreden run` serves it.
        from bot.ops.server import OpsServer

        server = OpsServer(
            settings.ops.listen,
            db,
            store,
            made,
            app.metrics,
            standby=lambda channel: leader_only(channel) and not app.leadership.is_leader,
        )
    web = None
    if ops and settings.web.listen:
        # Imported here like the ops server: Jinja2 and the pages only where they are served.
        from bot.web.server import WebServer

        web = WebServer(settings.web, app.deps)
    return Bot(app, made, delivery, scheduler, server, web)


def leader_only(channel: object) -> bool:
    """Whether `channel` runs only in the leading process (the Matrix sync: one device, one
    sync position); `bot.runtime` runs it as the leader's duty."""
    return bool(getattr(channel, "leader_only", False))


def deliverable(
    channels: Sequence[Channel], leadership: Leadership, senders: Mapping[str, object]
) -> Callable[[], set[str]]:
    """The platforms whose outbox rows this process may send now: a leader-only channel's
    only while this process leads (elsewhere it is not connected)."""
    standby = {c.platform for c in channels if leader_only(c)}
    return lambda: {p for p in senders if p not in standby or leadership.is_leader}


class NoDatabase(Exception):
    """No database where the settings point, for a command that creates none (all but
    `run`, `shell`, `demo` and `db upgrade`): run from the wrong directory or with the wrong
    data directory, a command must say so, not work on a new, empty database."""


CREATE_HINT = (
    "create it with `mitreden db upgrade`, or point --data-dir (MITREDEN_DATA_DIR) or "
    "database.url at the bot's database"
)


def require_database_file(url: str) -> None:
    """Raise `NoDatabase` when `url` names a SQLite file that does not exist (checked
    before the database is opened, which would create it)."""
    path = sqlite_file(url)
    if path is not None and not path.is_file():
        raise NoDatabase(f"no database at {path}; {CREATE_HINT}")


async def require_schema(db: Database) -> None:
    """Raise `NoDatabase` when the database has no schema yet (an empty PostgreSQL
    database, an empty SQLite file)."""
    if await schema_revision(db) is None:
        where = sqlite_file(db.url) or database_shown(db.url)
        raise NoDatabase(f"the database {where} holds no mitreden data yet; {CREATE_HINT}")


def telegram_limits(settings: Settings) -> ChatLimits:
    telegram = settings.telegram
    return ChatLimits(
        per_second=telegram.broadcast_per_second,
        private_interval=1.0 / telegram.private_chat_per_second,
        group_per_minute=telegram.group_per_minute,
        clock=time.monotonic,
    )


def matrix_limits(settings: Settings) -> ChatLimits:
    matrix = settings.matrix
    return ChatLimits(
        per_second=matrix.broadcast_per_second,
        private_interval=60.0 / matrix.room_per_minute,
        group_per_minute=matrix.room_per_minute,
        clock=time.monotonic,
    )


def platform_limits(settings: Settings) -> dict[str, ChatLimits]:
    return {Platform.TELEGRAM: telegram_limits(settings), Platform.MATRIX: matrix_limits(settings)}


def configured_channels(
    settings: Settings, limits: Mapping[str, ChatLimits]
) -> list[ChannelFactory]:
    """Telegram and Matrix where their credentials are configured; else the console, when
    there is a terminal to talk on.

    Raises:
        ConfigError: neither is configured and standard input is no terminal, as under a
            service manager with a token missing: a bot that serves nobody must not look
            like one that runs (`mitreden shell` takes a script on standard input).
    """
    factories: list[ChannelFactory] = []
    if settings.telegram.token:
        redact(settings.telegram.token)
        factories.append(telegram_channel(settings.telegram, limits.get(Platform.TELEGRAM)))
    if settings.matrix.homeserver:
        redact(settings.matrix.password, settings.matrix.access_token)
        factories.append(matrix_channel(settings.matrix))
    if not factories:
        if sys.stdin is None or not sys.stdin.isatty():
            raise ConfigError(
                "no channel to run: neither a Telegram token (MITREDEN_TELEGRAM_TOKEN or "
                "telegram.token_file) nor a Matrix homeserver (matrix.homeserver) is "
                "configured, and the console channel needs a terminal"
            )
        logger.info("no Telegram or Matrix credentials configured: console channel")
        factories.append(console_channel(settings.console.user))
    return factories


# python-telegram-bot and matrix-nio are imported where their channel is built, not by every
# command that wires the app (`mitreden group list` needs neither).


def telegram_channel(settings: TelegramSettings, limits: ChatLimits | None) -> ChannelFactory:
    """The Telegram channel, its replies paced by `limits` (shared with the outbox)."""
    from bot.channels.telegram.channel import TelegramChannel

    return lambda app: TelegramChannel(settings, app, limits=limits)


def matrix_channel(settings: MatrixSettings) -> ChannelFactory:
    from bot.channels.matrix.channel import MatrixChannel

    return lambda app: MatrixChannel(settings, app)


def console_channel(user: str, *, language: str | None = None) -> ChannelFactory:
    """One resident, `user`, talking to the bot in this terminal."""
    return lambda app: ConsoleChannel(app.handle, user, language=language)


def render_draft_in_child(
    settings: Settings, year: int, fmt: str, language: str, now: datetime
) -> Rendered:
    """What `ReportDrafts` runs in its child process: the app wired there, without channels,
    at the parent's time, and the draft rendered on it."""
    return asyncio.run(_render_draft(settings, year, fmt, language, now))


async def _render_draft(
    settings: Settings, year: int, fmt: str, language: str, now: datetime
) -> Rendered:
    bot = await bootstrap(settings, clock=FixedClock(now), migrate=False, channels=())
    try:
        return await render_draft(bot.app.deps, year, fmt, language)
    finally:
        await bot.close()
