"""The webhook endpoint Telegram pushes updates to, in place of PTB's own.

PTB's webhook handler (`Updater.start_webhook`) parses each pushed update with
`Update.de_json`; on one it cannot read it logs the whole update (a resident's name and text)
at CRITICAL and answers 400, so Telegram delivers it again and again, and the updates behind it
wait. This endpoint reads each update through `read_update`: one that cannot be read is
acknowledged (200), counted and logged by id only, and the next one comes. Everything else is
as PTB does it: POST with a JSON body to the URL path, the secret given to setWebhook checked
in `X-Telegram-Bot-Api-Secret-Token` (403 without it), and readable updates put on the
`Application`'s update queue.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging

from aiohttp import web
from telegram import Bot

from bot.channels.telegram.updates import UnreadableUpdates, read_update

logger = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
MAX_BODY = 1024 * 1024  # an update is a few kilobytes; Telegram sends files by id


class WebhookServer:
    def __init__(
        self,
        bot: Bot,
        queue: asyncio.Queue[object],
        unreadable: UnreadableUpdates,
        *,
        listen: str,
        port: int,
        path: str,
        secret: str,
    ) -> None:
        self._bot = bot
        self._queue = queue
        self._unreadable = unreadable
        self._listen = listen
        self._port = port
        self._secret = secret.encode()
        app = web.Application(client_max_size=MAX_BODY)
        app.router.add_post(path, self._receive)
        app.router.add_post(path + "/", self._receive)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)

    async def start(self) -> None:
        await self._runner.setup()
        await web.TCPSite(self._runner, self._listen, self._port).start()

    async def stop(self) -> None:
        await self._runner.cleanup()

    async def _receive(self, request: web.Request) -> web.Response:
        if request.content_type != "application/json":
            raise web.HTTPForbidden()
        given = request.headers.get(SECRET_HEADER, "").encode()
        if self._secret and not hmac.compare_digest(given, self._secret):
            logger.info("telegram webhook: a request without the right secret refused")
            raise web.HTTPForbidden()
        try:
            data = json.loads(await request.read())
        except ValueError as error:
            self._unreadable.skip(None, error)
            return web.Response()
        update = read_update(data, self._bot, self._unreadable)
        if update is not None:
            await self._queue.put(update)
        return web.Response()
