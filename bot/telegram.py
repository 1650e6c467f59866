"""The Telegram channel: a python-telegram-bot `Application` inside the bot's own loop.

Updates arrive by long polling (default) or webhook. PTB runs them concurrently; the bot
keeps each chat in line itself (`App.chat_turn`) from download to the last reply sent, so a
resident's next answer never meets the state of the one before it uncommitted.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
from dataclasses import replace
from functools import partial

from telegram import BotCommand, Update
from telegram.ext import Application, ContextTypes, TypeHandler
from telegram.request import BaseRequest

from bot.app import App
from bot.ratelimit import ChatLimits
from bot.settings import TelegramSettings
from bot.telegram_map import FileToFetch, files_to_fetch, to_incoming
from bot.telegram_request import BotApiRequest
from bot.telegram_send import TelegramSender, Unreachable
from handlers.menu import command_menu
from handlers.messages import FILE_TOO_LARGE, Address, Attachment, Incoming, Platform, Reply

logger = logging.getLogger(__name__)

# PTB 22 hands out durations (`RetryAfter.retry_after`) as numbers and warns, on every 429,
# that they will become timedeltas; the bot reads either (`retry_after_seconds`), so it
# takes the coming form now.
os.environ.setdefault("PTB_TIMEDELTA", "true")

ALLOWED_UPDATES = ["message", "edited_message", "callback_query", "my_chat_member"]
CONCURRENT_UPDATES = 256
POLL_TIMEOUT = 30


class TelegramChannel:
    platform = Platform.TELEGRAM

    def __init__(
        self,
        settings: TelegramSettings,
        app: App,
        *,
        request: BaseRequest | None = None,
        updates_request: BaseRequest | None = None,
        limits: ChatLimits | None = None,
    ) -> None:
        if not settings.token:
            raise ValueError("telegram.token is not set (MITREDEN_TELEGRAM_TOKEN)")
        self._settings = settings
        self._app = app
        self._limits = limits
        builder = (
            Application.builder()
            .token(settings.token)
            .base_url(settings.base_url)
            .base_file_url(settings.base_file_url)
            .concurrent_updates(CONCURRENT_UPDATES)
            .arbitrary_callback_data(False)
        )
        # Our own BaseRequest instead of PTB's httpx one: far less CPU per call (bench/README.md).
        builder = builder.request(request or BotApiRequest(CONCURRENT_UPDATES))
        builder = builder.get_updates_request(updates_request or BotApiRequest(1))
        self.application = builder.build()
        self.application.add_handler(TypeHandler(Update, self._on_update))
        self.application.add_error_handler(self._on_error)
        self.sender = TelegramSender(
            self.application.bot, pace=self._pace if limits is not None else None
        )
        self._username = ""

    async def run(self, stop: asyncio.Event) -> None:
        """Serve until `stop` is set; then finish the updates in hand and shut down."""
        async with self.application:
            self._username = self.application.bot.username or ""
            await self.register_commands()
            await self.application.start()
            updater = self.application.updater
            assert updater is not None
            if self._settings.mode == "webhook":
                await updater.start_webhook(
                    listen=self._settings.webhook_listen,
                    port=self._settings.webhook_port,
                    url_path="telegram",
                    webhook_url=self._settings.webhook_url,
                    secret_token=self._settings.webhook_secret or None,
                    allowed_updates=ALLOWED_UPDATES,
                )
            else:
                await updater.start_polling(
                    allowed_updates=ALLOWED_UPDATES, timeout=POLL_TIMEOUT, poll_interval=0
                )
            logger.info("telegram: serving as @%s (%s)", self._username, self._settings.mode)
            try:
                await stop.wait()
            finally:
                await updater.stop()
                await self.application.stop()

    async def register_commands(self) -> None:
        """The command menu in every shipped language, and the default one."""
        catalogues = self._app.router.catalogues
        # Telegram takes two-letter ISO 639-1 codes; a variant such as plain German is chosen
        # in the bot (/language) and has no menu of its own.
        menu_languages = [code for code in catalogues.languages if re.fullmatch("[a-z]{2}", code)]
        for language in (None, *menu_languages):
            commands = [
                BotCommand(name, description[:256])
                for name, description in command_menu(catalogues.get(language))
            ]
            request = partial(
                self.application.bot.set_my_commands, commands, language_code=language
            )
            await self.sender.call("setMyCommands", "-", request)

    async def send(self, address: Address, reply: Reply) -> None:
        """Send on the bot's own initiative. Raises `Unreachable` on 403."""
        await self.sender.send(address.chat_id, reply)

    async def _on_update(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
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
            incoming = await self._with_files(update, incoming)
            replies = await self._app.handle_in_turn(incoming)
            try:
                if query is not None and incoming.message_id is not None:
                    await self.sender.answer_button(
                        incoming.chat_id,
                        incoming.message_id,
                        query.id,
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
        marked = await self._app.store.contacts.set_unreachable(
            Platform.TELEGRAM, chat_id, self._app.clock.now()
        )
        logger.info("telegram: chat %s unreachable, %d contact(s) marked", chat_id, marked)

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
