"""A lighter HTTP backend for python-telegram-bot: `BaseRequest` over one aiohttp session.

PTB's default `HTTPXRequest` spends most of a Bot API call's CPU in httpx and httpcore (whose
connection pool does work per pooled connection on every request). aiohttp, already installed
for matrix-nio, does the same job with a keep-alive pool for a fraction of it. Errors map as in
PTB: timeouts become `TimedOut`, every other transport failure `NetworkError`; HTTP statuses
are left to PTB.

Timeouts map to aiohttp's as follows: `connect_timeout` bounds connecting a socket,
`pool_timeout + connect_timeout` bounds getting a connection (waiting for the pool included),
`read_timeout` bounds each wait for response bytes. aiohttp has no per-write timeout, so
`write_timeout` (the media one for uploads) is added to a total bound on Bot API calls; file
downloads (GET) get no total bound, as a large file may take long while still flowing.
"""

from __future__ import annotations

import logging
from typing import Any

import aiohttp
from telegram._utils.defaultvalue import DefaultValue
from telegram._utils.types import ODVInput
from telegram.error import NetworkError, TimedOut
from telegram.request import BaseRequest, RequestData

from bot.telegram_api import JSON, JsonBody

logger = logging.getLogger(__name__)

FORM = "application/x-www-form-urlencoded"


class AiohttpRequest(BaseRequest):
    """`telegram.request.BaseRequest` on aiohttp; defaults as PTB's `HTTPXRequest`."""

    def __init__(
        self,
        connection_pool_size: int = 256,
        read_timeout: float | None = 5.0,
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
            raise RuntimeError("This AiohttpRequest is not initialized!")
        files = request_data is not None and request_data.contains_files
        read = _given(read_timeout, self._read)
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
            elif isinstance(request_data, JsonBody):
                body = request_data.json_payload
                headers = {"Content-Type": JSON}
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
