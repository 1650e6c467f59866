"""The webhook endpoint Telegram pushes updates to, in place of PTB's own.

PTB's webhook handler (`Updater.start_webhook`) parses each pushed update with
`Update.de_json`; on one it cannot read it logs the whole update (a resident's name and text)
at CRITICAL and answers 400, so Telegram delivers it again and again, and the updates behind it
wait. This endpoint hands each update's JSON object to `take`: on SQLite the channel reads it
(`read_update`: one that cannot be read is counted and logged by id only) and puts it on the
`Application`'s update queue; on PostgreSQL it is stored in the inbox that the processes
share (`bot.channels.telegram.inbox`). The answer is 200 once `take` returned, so on
PostgreSQL only once the update is committed; when it could not be stored the answer is 500,
and Telegram sends it again. A body that is no update is acknowledged (200), counted and
logged, and the next one comes. Everything else is as PTB does it: POST with a JSON body to
the URL path, the secret given to setWebhook checked in `X-Telegram-Bot-Api-Secret-Token`
(403 without it).
"""

from __future__ import annotations

import hmac
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from bot.channels.telegram.updates import UnreadableUpdates

logger = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
MAX_BODY = 1024 * 1024  # an update is a few kilobytes; Telegram sends files by id

# Takes one update's JSON object (it has an integer `update_id`): queued, or stored.
Take = Callable[[dict[str, Any]], Awaitable[None]]


class WebhookServer:
    def __init__(
        self,
        take: Take,
        unreadable: UnreadableUpdates,
        *,
        listen: str,
        port: int,
        path: str,
        secret: str,
    ) -> None:
        self._take = take
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
        if not isinstance(data, dict) or not isinstance(data.get("update_id"), int):
            update_id = data.get("update_id") if isinstance(data, dict) else None
            self._unreadable.skip(update_id, TypeError("not an update"))
            return web.Response()
        try:
            await self._take(data)
        except Exception as error:
            logger.warning(
                "telegram webhook: update %s not taken (%s); Telegram sends it again",
                data["update_id"],
                type(error).__name__,
            )
            raise web.HTTPInternalServerError() from None
        return web.Response()
