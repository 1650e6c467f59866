"""The Telegram channel: a python-telegram-bot `Application` inside the bot's own loop.

Updates arrive by long polling (default) or webhook. PTB runs them concurrently; the bot
keeps each chat in line itself (the port's `chat_turn`) from download to the last reply sent,
so a resident's next answer never meets the state of the one before it uncommitted. Every
call goes through `AiohttpRequest` (PTB's public `BaseRequest` on aiohttp, see its module for
why not PTB's `HTTPXRequest`), through `telegram.proxy_url` when one is set.

Several processes on one PostgreSQL (README, "Running several processes"): in webhook mode
every process takes updates in, through the inbox they share (`bot.channels.telegram.inbox`),
which keeps each chat in line across them; registering the webhook and the command menus is
the leader's duty (`bot.cluster`). Long polling is for one process: on PostgreSQL the leader
polls and the others stand by; a poller that Telegram tells another one took over (409
Conflict) says so in one line and stops (`PollingConflict`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
from dataclasses import replace
from functools import partial
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from telegram import BotCommand, Update
from telegram.error import Conflict, InvalidToken, NetworkError, RetryAfter, TelegramError
from telegram.ext import Application, ContextTypes, TypeHandler
from telegram.request import BaseRequest

from bot.channels.port import ChannelPort, CredentialsRejected, Record
from bot.channels.telegram.map import FileToFetch, files_to_fetch, to_incoming
from bot.channels.telegram.request import AiohttpRequest
from bot.channels.telegram.send import TelegramSender, retry_after_seconds
from bot.channels.telegram.updates import TolerantBot, UnreadableUpdates, read_update
from bot.delivery.ratelimit import ChatLimits
from bot.delivery.sending import Unreachable
from handlers.messages import (
    FILE_TOO_LARGE,
    Attachment,
    Incoming,
    Platform,
    Reply,
    reply_from_record,
    reply_record,
)
from handlers.settings import TelegramSettings

if TYPE_CHECKING:
    from bot.channels.telegram.inbox import InboxIntake
    from bot.channels.telegram.webhook import Take, WebhookServer
    from bot.cluster import Cluster
    from storage.inbox import Taken

logger = logging.getLogger(__name__)

# PTB 22 hands out durations (`RetryAfter.retry_after`) as numbers and warns, on every 429,
# that they will become timedeltas; the bot reads either (`retry_after_seconds`), so it
# takes the coming form now.
os.environ.setdefault("PTB_TIMEDELTA", "true")

ALLOWED_UPDATES = ["message", "edited_message", "callback_query", "my_chat_member"]
CONCURRENT_UPDATES = 256
POLL_TIMEOUT = 30
# getUpdates waits up to POLL_TIMEOUT for news, then this long for the answer to arrive.
POLL_READ_GRACE = 10.0
# A send that times out is sent again (the sender's and the outbox's retries), and Telegram
# may well have delivered it: a slow moment of the Bot API must not double messages. PTB's
# default of 5 s did (sends held past it went out twice, 5 of 5); Telegram answers within a
# second when well, and a send waiting 30 s holds up only its own chat.
READ_TIMEOUT = 30.0
WEBHOOK_PATH = "/telegram"


def bot_request(
    proxy_url: str = "",
    *,
    read_timeout: float | None = READ_TIMEOUT,
    pool_size: int = CONCURRENT_UPDATES,
) -> AiohttpRequest:
    """The HTTP backend for the Bot API calls, through `proxy_url` when one is set
    (`telegram.proxy_url`, or the environment's, resolved by `bot.config`); the other
    timeouts are PTB's defaults (connect 5 s, pool 1 s, write 5 s, uploads 20 s).

    Raises:
        ValueError: `proxy_url` is not an http:// or https:// proxy.
    """
    return AiohttpRequest(
        connection_pool_size=pool_size, read_timeout=read_timeout, proxy_url=proxy_url
    )


class TokenRejected(CredentialsRejected):
    """Telegram answered 401: the token is wrong or was revoked. The message holds no token
    (PTB's `InvalidToken` at start-up quotes it in full)."""

    def __init__(self) -> None:
        super().__init__(
            "Telegram rejected the token (telegram.token: MITREDEN_TELEGRAM_TOKEN or "
            "telegram.token_file); check it against the one @BotFather shows"
        )


class PollingConflict(CredentialsRejected):
    """Telegram ended this process's long polling because another process polls with the
    same token (409 Conflict), or a webhook was set. Fatal like a rejected token: no retry
    helps, two pollers would take turns getting each other's updates. Stops the process with
    exit code 2 and this one line, naming the remedy."""

    def __init__(self, error: TelegramError) -> None:
        super().__init__(
            f"Telegram ended long polling: another process receives this bot's updates "
            f"({error.message}). Long polling is for one process only: stop the other one, "
            'or run several processes on one PostgreSQL in webhook mode (README, "Running '
            'several processes")'
        )


class TelegramChannel:
    platform = Platform.TELEGRAM

    def __init__(
        self,
        settings: TelegramSettings,
        app: ChannelPort,
        *,
        request: BaseRequest | None = None,
        updates_request: BaseRequest | None = None,
        limits: ChatLimits | None = None,
        backoff_start: float = 1.0,
        backoff_cap: float = 60.0,
    ) -> None:
        """`backoff_start` and `backoff_cap`: the first and the longest pause, in seconds,
        between tries to reach a Bot API that cannot be reached at start (`_connect`)."""
        if not settings.token:
            raise ValueError("telegram.token is not set (MITREDEN_TELEGRAM_TOKEN)")
        self._settings = settings
        self._app = app
        self._limits = limits
        self._backoff_start = backoff_start
        self._backoff_cap = backoff_cap
        self.unreadable = UnreadableUpdates()  # updates skipped because they cannot be read
        proxy = settings.proxy_url
        self._bot = TolerantBot(
            settings.token,
            base_url=settings.base_url,
            base_file_url=settings.base_file_url,
            request=request or bot_request(proxy),
            get_updates_request=updates_request
            or bot_request(proxy, read_timeout=POLL_READ_GRACE, pool_size=1),
            unreadable=self.unreadable,
        )
        builder = Application.builder().bot(self._bot).concurrent_updates(CONCURRENT_UPDATES)
        if settings.mode == "webhook":
            builder = builder.updater(None)  # updates come through `WebhookServer`
        self.application = builder.build()
        self.application.add_handler(TypeHandler(Update, self._on_update))
        self.application.add_error_handler(self._on_error)
        self.sender = TelegramSender(
            self.application.bot,
            pace=self._pace if limits is not None else None,
            count=partial(app.count_send, Platform.TELEGRAM),
        )
        self._username = ""

    def is_ready(self) -> bool:
        """Receiving and handling updates (for /readyz)."""
        return self.application.running

    def unreadable_updates(self) -> int:
        """Updates skipped because they could not be read (`UnreadableUpdates`)."""
        return self.unreadable.count

    async def run(self, stop: asyncio.Event) -> None:
        """Serve until `stop` is set; then finish the updates in hand and shut down.

        Raises:
            TokenRejected: Telegram refused the token, at start or (polling) later on.
        """
        try:
            if await self._connect(stop):
                await self._serve(stop)
        except InvalidToken:
            raise TokenRejected() from None
        if self._bot.token_rejected.is_set():
            raise TokenRejected()

    async def _connect(self, stop: asyncio.Event) -> bool:
        """Reach the Bot API (getMe, which also checks the token) before anything else.

        A Bot API that cannot be reached at start (the network or a proxy not up yet, a local
        Bot API server starting, Telegram answering 5xx or 429) is tried again, with pauses
        from `backoff_start` doubling to `backoff_cap`, one warning a try, until it answers
        or `stop` is set: a service manager need not restart the bot for it, and a stop
        meanwhile ends it at once. A rejected token is not retried (`InvalidToken`).

        Returns:
            Whether the Bot API answered (False: stopped first; nothing is left open).
        """
        host = urlsplit(self._settings.base_url).netloc
        pause = self._backoff_start
        while True:
            trying = asyncio.ensure_future(self._bot.initialize())  # getMe, once it answers
            stopping = asyncio.ensure_future(stop.wait())
            try:
                await asyncio.wait([trying, stopping], return_when=asyncio.FIRST_COMPLETED)
            finally:
                stopping.cancel()
                stopped_first = not trying.done()
                if stopped_first:
                    trying.cancel()
            if stopped_first:
                await self._bot.shutdown()
                return False
            try:
                trying.result()
                return True
            except (NetworkError, RetryAfter) as error:  # TimedOut and 5xx are NetworkErrors
                if isinstance(error, RetryAfter):
                    pause = max(pause, retry_after_seconds(error))
                logger.warning(
                    "telegram: Bot API at %s not reachable (%s: %s); trying again in %g s",
                    host,
                    type(error).__name__,
                    error,
                    pause,
                )
            except BaseException:
                await self._bot.shutdown()
                raise
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), pause)
            if stop.is_set():
                await self._bot.shutdown()
                return False
            pause = min(self._backoff_cap, pause * 2)

    async def _serve(self, stop: asyncio.Event) -> None:
        async with self.application:
            self._username = self.application.bot.username or ""
            leadership = self._app.leadership
            webhook = None
            intake: asyncio.Task[None] | None = None
            intake_stop = asyncio.Event()  # set once no more updates can come in
            try:
                if self.application.updater is None:
                    # Every process listens; the leader tells Telegram where to push.
                    webhook, inbox = await self._start_webhook()
                    if inbox is not None:
                        intake = asyncio.create_task(inbox.run(intake_stop), name="inbox")
                    duty = self._lead_webhook
                else:
                    duty = self._poll
                await self.application.start()
                logger.info("telegram: serving as @%s (%s)", self._username, self._settings.mode)
                await leadership.run_duty("telegram " + self._settings.mode, duty, stop)
            finally:
                if webhook is not None:
                    await webhook.stop()
                if intake is not None:  # the turns under way end, the lines go back
                    intake_stop.set()
                    await intake
                if self.application.running:
                    await self.application.stop()

    async def _lead_webhook(self, term_over: asyncio.Event) -> None:
        """The leader's part in webhook mode: the command menus, where Telegram pushes, and
        (several processes on PostgreSQL) forgetting the inbox's handled updates once
        Telegram can no longer send them again."""
        await self.register_commands()
        settings = self._settings
        await self._bot.set_webhook(
            settings.webhook_url,
            allowed_updates=ALLOWED_UPDATES,
            secret_token=settings.webhook_secret or None,
        )
        cluster = self._app.cluster
        while cluster is not None and not term_over.is_set():
            await self._forget_handled(cluster)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(_first_of(term_over, self._bot.token_rejected), 3600)
            if self._bot.token_rejected.is_set():
                return
        await _first_of(term_over, self._bot.token_rejected)

    async def _forget_handled(self, cluster: Cluster) -> None:
        from storage.inbox import KEEP_HANDLED

        try:
            gone = await cluster.inbox.delete_handled(self._app.clock.now() - KEEP_HANDLED)
        except Exception:  # the database is away; logged, and tried again in an hour
            logger.exception("telegram inbox: handled updates not forgotten")
            return
        if gone:
            logger.info("telegram inbox: %d handled update(s) forgotten", gone)

    async def _poll(self, term_over: asyncio.Event) -> None:
        """Long polling, in the one process that leads.

        Raises:
            PollingConflict: Telegram ended it for another poller (or a webhook) while this
                process still led.
        """
        updater = self.application.updater
        assert updater is not None
        await self.register_commands()
        conflict: list[TelegramError] = []
        ended = asyncio.Event()

        def polling_failed(error: TelegramError) -> None:
            if isinstance(error, Conflict):
                conflict.append(error)
                ended.set()
            else:  # PTB tries again, with growing pauses
                logger.warning("telegram: getUpdates failed (%s: %s)", type(error).__name__, error)

        await updater.start_polling(
            allowed_updates=ALLOWED_UPDATES,
            timeout=POLL_TIMEOUT,
            poll_interval=0,
            error_callback=polling_failed,
        )
        try:
            await _first_of(term_over, self._bot.token_rejected, ended)
        finally:
            if updater.running:
                # A token rejected while polling ended the updater's polling with it; `run`
                # reports it.
                with contextlib.suppress(InvalidToken):
                    await updater.stop()
        if conflict and not term_over.is_set():
            if await self._app.leadership.confirm():
                raise PollingConflict(conflict[0])  # not the next leader of these processes
            await term_over.wait()  # this process lost the lead: the next leader polls

    async def _start_webhook(self) -> tuple[WebhookServer, InboxIntake | None]:
        """Listen for Telegram's pushes: into the inbox the processes share on PostgreSQL,
        else onto PTB's update queue. Registering the URL is the leader's (`_lead_webhook`)."""
        # Imported here: aiohttp's web server costs 2 MiB that long polling never uses.
        from bot.channels.telegram.webhook import WebhookServer

        settings = self._settings
        cluster = self._app.cluster
        inbox = None
        if cluster is not None:
            from bot.channels.telegram.inbox import InboxIntake

            inbox = InboxIntake(cluster, self._handle_stored, self._app.clock)
            await inbox.open()
            take: Take = partial(_store, inbox)
        else:
            take = self._queue
        server = WebhookServer(
            take,
            self.unreadable,
            listen=settings.webhook_listen,
            port=settings.webhook_port,
            path=WEBHOOK_PATH,
            secret=settings.webhook_secret,
        )
        await server.start()
        return server, inbox

    async def _queue(self, data: dict[str, Any]) -> None:
        """A pushed update onto PTB's update queue (one process: nothing to share)."""
        update = read_update(data, self._bot, self.unreadable)
        if update is not None:
            await self.application.update_queue.put(update)

    async def _handle_stored(self, taken: Taken) -> None:
        """One stored update's turn: its changes and replies committed together in the
        inbox, then the replies sent; an update whose replies were stored by a process that
        died before it had sent them gets them sent again, and is not handled again. One
        that cannot be read is counted and skipped.

        Raises:
            What storing the turn raised: nothing of it is kept, and the inbox hands the
            update out again.
        """
        update = read_update(taken.payload, self._bot, self.unreadable)
        if update is None:
            return
        cluster = self._app.cluster
        assert cluster is not None

        async def record(replies: list[Reply]) -> None:
            await cluster.inbox.answer(taken.update_id, [reply_record(r) for r in replies])

        if taken.replies is not None:
            await self._answer(update, [reply_from_record(r) for r in taken.replies])
        else:
            await self._answer(update, record=record)

    async def register_commands(self) -> None:
        """The command menu in every shipped language, and the default one."""
        catalogues = self._app.catalogues
        # Telegram takes two-letter ISO 639-1 codes; a variant such as plain German is chosen
        # in the bot (/language) and has no menu of its own.
        menu_languages = [code for code in catalogues.languages if re.fullmatch("[a-z]{2}", code)]
        for language in (None, *menu_languages):
            commands = [
                BotCommand(name, description[:256])
                for name, description in self._app.command_menu(language)
            ]
            request = partial(
                self.application.bot.set_my_commands, commands, language_code=language
            )
            await self.sender.call("setMyCommands", "-", request)

    async def _on_update(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        await self._answer(update)

    async def _answer(
        self, update: Update, stored: list[Reply] | None = None, record: Record | None = None
    ) -> None:
        """Handle one update and send its replies; `stored`: the replies the update's turn
        stored before its process died, sent instead of handling it again; `record`: where
        to store them (`App.handle_in_turn`)."""
        if update.my_chat_member is not None:
            await self._membership_changed(update)
            return
        incoming = to_incoming(update, self._username)
        query = update.callback_query
        if incoming is None:
            if query is not None:  # every callback query is answered, or the button spins
                await self.sender.call("answerCallbackQuery", "-", query.answer)
            return
        async with self._app.chat_turn(incoming):
            if stored is not None:
                replies = stored
            else:
                incoming = await self._with_files(update, incoming)
                replies = await self._app.handle_in_turn(incoming, record)
            try:
                if query is not None and incoming.message_id is not None:
                    await self.sender.answer_button(
                        incoming.chat_id,
                        incoming.message_id,
                        query.id if stored is None else None,
                        replies,
                        pressed_text=getattr(query.message, "text", None),
                        pressed_has_text=getattr(query.message, "caption", None) is None,
                    )
                else:
                    for reply in replies:
                        await self.sender.send(incoming.chat_id, reply)
            except Unreachable:
                await self._mark_unreachable(incoming.chat_id)

    async def _pace(self, chat_id: str) -> None:
        """Each new message takes the next slot of the overall pace before it goes out: at
        once while there is room, else within a fraction of a second, ahead of every
        proactive message, so replies and broadcasts together stay within the limit."""
        assert self._limits is not None
        delay = self._limits.book_direct(chat_id, is_group=chat_id.startswith("-"))
        if delay > 0:
            await asyncio.sleep(delay)

    async def _with_files(self, update: Update, incoming: Incoming) -> Incoming:
        """Download the photo or document of a message, within the configured size."""
        wanted = files_to_fetch(update.message)
        if not wanted:
            return incoming
        limit = self._settings.max_download_bytes
        attachments = []
        for file in wanted:
            data = None if (file.size or 0) > limit else await self._download(file)
            if data is None or len(data) > limit:
                logger.info("telegram: file of %s bytes refused (limit %d)", file.size, limit)
                return replace(incoming, unsupported=FILE_TOO_LARGE)
            attachments.append(
                Attachment(
                    file.kind, file.file_name, file.mime_type, data, platform_file_id=file.file_id
                )
            )
        return replace(incoming, attachments=tuple(attachments), unsupported=None)

    async def _download(self, file: FileToFetch) -> bytes | None:
        bot = self.application.bot
        remote = await self.sender.call("getFile", "-", lambda: bot.get_file(file.file_id))
        if remote is None:
            return None
        data = await self.sender.call("download", "-", remote.download_as_bytearray)
        return bytes(data) if data is not None else None

    async def _membership_changed(self, update: Update) -> None:
        change = update.my_chat_member
        assert change is not None
        if change.chat.type == "private" and change.new_chat_member.status == "kicked":
            logger.info("telegram: chat %s blocked the bot", change.chat.id)
            await self._mark_unreachable(str(change.chat.id))

    async def _mark_unreachable(self, chat_id: str) -> None:
        await self._app.mark_unreachable(Platform.TELEGRAM, chat_id)

    async def _on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Log what failed by its ids only: never the token, never a resident's text."""
        ids = {}
        if isinstance(update, Update):
            ids = {
                "update_id": update.update_id,
                "chat_id": update.effective_chat.id if update.effective_chat else None,
            }
        logger.error(
            "telegram: unhandled error %s for %s",
            type(context.error).__name__,
            ids,
            exc_info=context.error,
        )


async def _store(inbox: InboxIntake, data: dict[str, Any]) -> None:
    await inbox.take_in(data["update_id"], data)


async def _first_of(*events: asyncio.Event) -> None:
    """Wait until one of `events` is set."""
    waiters = [asyncio.ensure_future(event.wait()) for event in events]
    try:
        await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()
