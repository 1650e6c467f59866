"""Webhook delivery as Telegram does it: each update POSTed as JSON to the bot's URL.

Telegram only calls HTTPS URLs, and a bot usually listens on plain HTTP behind a reverse
proxy that ends TLS. `route(public, local)` plays that proxy: updates for the public origin
(`https://bot.example.org`) go to the local one (`http://127.0.0.1:8443`). The secret given
to setWebhook travels in `X-Telegram-Bot-Api-Secret-Token`. An update leaves the queue when
the bot answers 2xx; anything else is recorded for getWebhookInfo (`last_error_date`,
`last_error_message`) and the update is offered again after `retry_seconds`.

As the Bot API server's `WebhookActor` does, updates wait in one queue per chat: a chat's
next update goes out only once its previous one was answered 2xx, so one chat's updates
arrive in order and one at a time, while up to `max_connections` updates of different chats
(setWebhook's parameter, 40 by default) are in flight at once. A failing update delays only
its own chat.
"""

from __future__ import annotations

import asyncio
import json
from collections import deque
from typing import TYPE_CHECKING, Any

import aiohttp

if TYPE_CHECKING:
    from .server import FakeBotApi

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
DEFAULT_MAX_CONNECTIONS = 40


def queue_of(update: dict[str, Any]) -> object:
    """The queue an update waits in: its chat's (the Bot API server's `queue_id`)."""
    query = update.get("callback_query")
    if isinstance(query, dict) and isinstance(query.get("message"), dict):
        return query["message"]["chat"]["id"]
    for value in update.values():
        if isinstance(value, dict):
            if isinstance(value.get("chat"), dict):
                return value["chat"]["id"]
            if isinstance(value.get("from"), dict):
                return value["from"]["id"]
    return ("update", update.get("update_id"))


class WebhookPusher:
    def __init__(self, api: FakeBotApi, retry_seconds: float = 0.05) -> None:
        self._api = api
        self._retry_seconds = retry_seconds
        self._routes: dict[str, str] = {}
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._session: aiohttp.ClientSession | None = None
        self.secret = ""
        self.max_connections = DEFAULT_MAX_CONNECTIONS
        self.delivered = 0
        self.last_error_date: int | None = None
        self.last_error_message = ""
        self._queues: dict[object, deque[dict[str, Any]]] = {}
        self._ready: deque[object] = deque()  # queues with an update to send and none out
        self._taken_up_to = 0  # the highest update id put in a queue
        self._in_flight: set[asyncio.Task[None]] = set()

    def route(self, public_origin: str, local_origin: str) -> None:
        self._routes[public_origin.rstrip("/")] = local_origin.rstrip("/")

    def wake(self) -> None:
        self._wake.set()

    def reset(self) -> None:
        """The webhook was deleted: what is queued stays in `api.updates` for getUpdates,
        and is queued afresh when a webhook is set again."""
        self._queues.clear()
        self._ready.clear()
        self._taken_up_to = 0

    def start(self) -> None:
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=0, force_close=False)
        )
        self._task = asyncio.create_task(self._run(), name="fakebotapi-webhook")

    async def stop(self) -> None:
        tasks = [*([self._task] if self._task is not None else []), *self._in_flight]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
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
            if not self._api.webhook_url:
                continue
            self._take_new()
            while self._ready and len(self._in_flight) < self.max_connections:
                queue = self._ready.popleft()
                task = asyncio.create_task(self._push(queue, self._queues[queue][0]))
                self._in_flight.add(task)
                task.add_done_callback(self._in_flight.discard)

    def _take_new(self) -> None:
        """Put the updates enqueued since the last look into their chats' queues."""
        new = []
        for update in reversed(self._api.updates):
            if update["update_id"] <= self._taken_up_to:
                break
            new.append(update)
        for update in reversed(new):
            queue = queue_of(update)
            waiting = self._queues.setdefault(queue, deque())
            waiting.append(update)
            if len(waiting) == 1:
                self._ready.append(queue)
            self._taken_up_to = update["update_id"]

    async def _push(self, queue: object, update: dict[str, Any]) -> None:
        try:
            delivered = await self._deliver(update)
        finally:
            self.wake()  # a connection is free again
        waiting = self._queues.get(queue)
        if waiting is None or not waiting or waiting[0] is not update:
            return  # the webhook was deleted meanwhile
        if not delivered:
            asyncio.get_running_loop().call_later(self._retry_seconds, self._again, queue)
            return
        waiting.popleft()
        if update in self._api.updates:
            self._api.updates.remove(update)
        self.delivered += 1
        if waiting:
            self._ready.append(queue)
        else:
            del self._queues[queue]

    def _again(self, queue: object) -> None:
        if self._queues.get(queue):
            self._ready.append(queue)
            self.wake()

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
