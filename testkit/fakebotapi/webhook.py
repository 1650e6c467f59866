"""Webhook delivery as Telegram does it: each update POSTed as JSON to the bot's URL.

Telegram only calls HTTPS URLs, and a bot usually listens on plain HTTP behind a reverse
proxy that ends TLS. `route(public, local)` plays that proxy: updates for the public origin
(`https://bot.example.org`) go to the local one (`http://127.0.0.1:8443`). The secret given
to setWebhook travels in `X-Telegram-Bot-Api-Secret-Token`. An update leaves the queue when
the bot answers 2xx; anything else is recorded for getWebhookInfo (`last_error_date`,
`last_error_message`) and the update is offered again after `retry_seconds`. Updates go
out one at a time in order (a `max_connections` of 1, which Telegram allows).
"""

from __future__ import annotations

import asyncio
import json
from typing import TYPE_CHECKING

import aiohttp

if TYPE_CHECKING:
    from .server import FakeBotApi

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"


class WebhookPusher:
    def __init__(self, api: FakeBotApi, retry_seconds: float = 0.05) -> None:
        self._api = api
        self._retry_seconds = retry_seconds
        self._routes: dict[str, str] = {}
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._session: aiohttp.ClientSession | None = None
        self.secret = ""
        self.delivered = 0
        self.last_error_date: int | None = None
        self.last_error_message = ""

    def route(self, public_origin: str, local_origin: str) -> None:
        self._routes[public_origin.rstrip("/")] = local_origin.rstrip("/")

    def wake(self) -> None:
        self._wake.set()

    def start(self) -> None:
        self._session = aiohttp.ClientSession()
        self._task = asyncio.create_task(self._run(), name="fakebotapi-webhook")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        if self._session is not None:
            await self._session.close()

    def _target(self, url: str) -> str:
        for public, local in self._routes.items():
            if url == public or url.startswith(public + "/"):
                return local + url[len(public) :]
        return url

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._api.webhook_url and self._api.updates:
                update = self._api.updates[0]
                if await self._deliver(update):
                    if self._api.updates and self._api.updates[0] is update:
                        self._api.updates.popleft()
                    self.delivered += 1
                else:
                    await asyncio.sleep(self._retry_seconds)

    async def _deliver(self, update: dict[str, object]) -> bool:
        assert self._session is not None
        headers = {"Content-Type": "application/json"}
        if self.secret:
            headers[SECRET_HEADER] = self.secret
        try:
            async with self._session.post(
                self._target(self._api.webhook_url),
                data=json.dumps(update, ensure_ascii=False).encode(),
                headers=headers,
                timeout=aiohttp.ClientTimeout(total=10),
            ) as response:
                await response.read()
                if 200 <= response.status < 300:
                    return True
                problem = f"Wrong response from the webhook: {response.status} {response.reason}"
        except (aiohttp.ClientError, TimeoutError) as error:
            problem = f"Connection failed: {type(error).__name__}"
        self.last_error_date = int(self._api.wall())
        self.last_error_message = problem
        return False
