"""A lighter HTTP backend for python-telegram-bot: `BaseRequest` on kept-alive connections.

PTB's default `HTTPXRequest` spends most of a Bot API call's CPU in httpx and httpcore (whose
connection pool does work per pooled connection on every request). Every POST without files
(all replies, getUpdates) goes through
`bot.channels.telegram.http_keepalive.KeepAliveClient`, a quarter of
aiohttp's CPU per call; uploads and file downloads go through one aiohttp session (already
installed for matrix-nio). Errors map as in PTB: timeouts become `TimedOut`, every other
transport failure `NetworkError`; HTTP statuses are left to PTB.

On the keep-alive client `connect_timeout` bounds connecting, `pool_timeout` waiting for a free
connection and `read_timeout` the wait for the whole response (getUpdates passes its long-poll
time on top); small bodies are written at once, so there is no write timeout. For uploads
and downloads the timeouts map to aiohttp's: `connect_timeout` bounds connecting a socket,
`pool_timeout + connect_timeout` bounds getting a connection (waiting for the pool included),
`read_timeout` bounds each wait for response bytes. aiohttp has no per-write timeout, so
`write_timeout` (the media one for uploads) is added to a total bound on Bot API calls; file
downloads (GET) get no total bound, as a large file may take long while still flowing.
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from telegram._utils.defaultvalue import DefaultValue
from telegram._utils.types import ODVInput
from telegram.error import NetworkError, TimedOut
from telegram.request import BaseRequest, RequestData

from bot.channels.telegram.api import JSON, JsonBody
from bot.channels.telegram.http_keepalive import KeepAliveClient

logger = logging.getLogger(__name__)

FORM = "application/x-www-form-urlencoded"
ROUTES_KEPT = 256  # Bot API method URLs whose split is remembered
# A send that times out is sent again (the sender's and the outbox's retries), and Telegram
# may well have delivered it: a slow moment of the Bot API must not double messages. PTB's
# default of 5 s did (sends held past it went out twice, 5 of 5); Telegram answers within a
# second when well, and a send waiting 30 s holds up only its own chat.
READ_TIMEOUT = 30.0


class BotApiRequest(BaseRequest):
    """`telegram.request.BaseRequest`: small POSTs kept alive, files on aiohttp; defaults as
    PTB's `HTTPXRequest`, but for a read timeout long enough not to repeat slow sends."""

    def __init__(
        self,
        connection_pool_size: int = 256,
        read_timeout: float | None = READ_TIMEOUT,
        write_timeout: float | None = 5.0,
        connect_timeout: float | None = 5.0,
        pool_timeout: float | None = 1.0,
        media_write_timeout: float | None = 20.0,
    ) -> None:
        self._pool_size = connection_pool_size
        self._read = read_timeout
        self._write = write_timeout
        self._connect = connect_timeout
        self._pool = pool_timeout
        self._media_write = media_write_timeout
        self._session: aiohttp.ClientSession | None = None
        self._clients: dict[str, KeepAliveClient] = {}  # origin → its connections
        self._routes: dict[str, tuple[KeepAliveClient, str]] = {}  # url → (client, target)

    @property
    def read_timeout(self) -> float | None:
        return self._read

    async def initialize(self) -> None:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self._pool_size, limit_per_host=0),
                cookie_jar=aiohttp.DummyCookieJar(),
                headers={"User-Agent": self.USER_AGENT},
                trust_env=False,
            )

    async def shutdown(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()
        self._session = None
        for client in self._clients.values():
            await client.close()
        self._clients.clear()
        self._routes.clear()

    async def _post_small(
        self, url: str, request_data: RequestData | None, read: float | None
    ) -> tuple[int, bytes]:
        """A POST without files, on the keep-alive client: every Bot API call but uploads."""
        if isinstance(request_data, JsonBody):
            body, content_type = request_data.json_payload, JSON
        elif request_data is None:
            body, content_type = b"", FORM
        else:
            body, content_type = request_data.url_encoded_parameters().encode(), FORM
        client, target = self._route(url)
        try:
            return await client.post(target, body, content_type, read_timeout=read)
        except TimeoutError as error:
            raise TimedOut(f"http: {error}") from error
        except OSError as error:  # refused, reset, closed early, TLS failures
            raise NetworkError(f"http: {type(error).__name__}: {error}") from error

    def _route(self, url: str) -> tuple[KeepAliveClient, str]:
        route = self._routes.get(url)
        if route is None:
            parts = urlsplit(url)
            origin = f"{parts.scheme}://{parts.netloc}"
            client = self._clients.get(origin)
            if client is None:
                client = KeepAliveClient(
                    origin,
                    pool_size=self._pool_size,
                    connect_timeout=self._connect,
                    pool_timeout=self._pool,
                    user_agent=self.USER_AGENT,
                )
                self._clients[origin] = client
            target = parts.path + (f"?{parts.query}" if parts.query else "")
            if len(self._routes) >= ROUTES_KEPT:
                self._routes.clear()
            route = self._routes[url] = (client, target)
        return route

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        write_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        connect_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        pool_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        session = self._session
        if session is None or session.closed:
            raise RuntimeError("This BotApiRequest is not initialized!")
        files = request_data is not None and request_data.contains_files
        read = _given(read_timeout, self._read)
        if method == "POST" and not files:
            return await self._post_small(url, request_data, read)
        write = _given(write_timeout, self._media_write if files else self._write)
        connect = _given(connect_timeout, self._connect)
        pool = _given(pool_timeout, self._pool)
        timeout = aiohttp.ClientTimeout(
            total=None if method == "GET" else _sum(connect, pool, write, read),
            connect=_sum(connect, pool),
            sock_connect=connect,
            sock_read=read,
        )
        body: Any = None
        headers: dict[str, str] | None = None
        if request_data is not None:
            if files:
                body = _multipart(request_data)
            else:
                body = request_data.url_encoded_parameters()
                headers = {"Content-Type": FORM}
        try:
            async with session.request(
                method, url, data=body, headers=headers, timeout=timeout
            ) as response:
                return response.status, await response.read()
        except TimeoutError as error:
            raise TimedOut(f"aiohttp: {type(error).__name__}") from error
        except aiohttp.ClientError as error:
            raise NetworkError(f"aiohttp.{type(error).__name__}: {error}") from error


def _given(value: ODVInput[float], default: float | None) -> float | None:
    return default if isinstance(value, DefaultValue) else value


def _sum(*timeouts: float | None) -> float | None:
    """A bound made of several phases; unbounded when any phase is."""
    return None if any(t is None for t in timeouts) else sum(t for t in timeouts if t)


def _multipart(request_data: RequestData) -> aiohttp.FormData:
    """Parameters as form fields and files as parts, as PTB describes them."""
    form = aiohttp.FormData()
    for name, value in request_data.json_parameters.items():
        form.add_field(name, value)
    for name, (file_name, content, mime_type) in request_data.multipart_data.items():
        form.add_field(name, content, filename=file_name, content_type=mime_type)
    return form
