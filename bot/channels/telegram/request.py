"""python-telegram-bot's `BaseRequest` on aiohttp's public API: how every Bot API call of
the bot, getUpdates included, travels.

Why not PTB's own `HTTPXRequest`: httpx and httpcore spend several times aiohttp's CPU on
each call, and the bot makes about two Bot API calls per update. Measured side by side in one
run (`python -m bench.telegram_calls`, 50 calls in flight, CPU µs per call, on a 2-CPU VM
with other work on it): an `editMessageText` through PTB's `Bot` method costs 468 on this
class against 3,532 on `HTTPXRequest` (7.5×); the HTTP exchange alone 132 on aiohttp
against 2,549 on httpx (19×; part of it here: httpcore tries `import sniffio` four times a
request, and sniffio is not installed). Through the whole resident flow
(`python -m bench.telegram_intake`, saturated, same machine and load) the bot spent 2.1 ms
of CPU per update on this class and 13.7 ms on `HTTPXRequest`, plain PTB 3.8 ms. aiohttp
is installed anyway: matrix-nio is built on it, and so is the bot's webhook server.

One `aiohttp.ClientSession` per request object: a connection pool of `connection_pool_size`
connections kept alive between calls, no cookies, PTB's User-Agent, no proxy or netrc from
the environment (`bot.config` resolves `HTTPS_PROXY`/`ALL_PROXY` into `telegram.proxy_url`
once, so this class is told explicitly) and every request through `proxy_url` when one is
set: an `http://` or `https://` proxy, the kinds aiohttp speaks itself.

Timeouts mean what they mean for `HTTPXRequest`, mapped to aiohttp's `ClientTimeout`:
`connect_timeout` bounds connecting a socket (`sock_connect`), `pool_timeout +
connect_timeout` getting a connection, waiting for a free one in the pool included
(`connect`), `read_timeout` each wait for response bytes (`sock_read`). aiohttp has no
per-write timeout, so `write_timeout` (`media_write_timeout` for uploads) counts towards a
total bound on every POST, the sum of all four; file downloads (GET) get no total bound, as
a large file may take long while still flowing. Errors map as in PTB's own requests: a
timeout becomes `TimedOut`, every other transport failure `NetworkError`; HTTP statuses are
PTB's to judge (`do_request` returns them with the body).

A call without files goes as a JSON body (`RequestData.json_payload`, which the Bot API takes
as it takes a form): encoding it costs 22 µs for an `editMessageText` with eight buttons
against 53 µs for the form PTB's `url_encoded_parameters` builds.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import aiohttp
from telegram.error import NetworkError, TimedOut
from telegram.request import BaseRequest, RequestData

JSON = "application/json"
PROXY_SCHEMES = ("http", "https")  # aiohttp's own; SOCKS would need another library


class AiohttpRequest(BaseRequest):
    """`telegram.request.BaseRequest` on one aiohttp session; parameters and defaults as
    PTB's `HTTPXRequest` (see its documentation for each), plus `proxy_url`.

    Raises:
        ValueError: `proxy_url` is not an http:// or https:// URL with a host.
    """

    def __init__(
        self,
        connection_pool_size: int = 256,
        read_timeout: float | None = 5.0,
        write_timeout: float | None = 5.0,
        connect_timeout: float | None = 5.0,
        pool_timeout: float | None = 1.0,
        media_write_timeout: float | None = 20.0,
        proxy_url: str = "",
    ) -> None:
        self._pool_size = connection_pool_size
        self._read = read_timeout
        self._write = write_timeout
        self._connect = connect_timeout
        self._pool = pool_timeout
        self._media_write = media_write_timeout
        self._proxy = checked_proxy(proxy_url) or None
        self._session: aiohttp.ClientSession | None = None

    @property
    def read_timeout(self) -> float | None:
        """The read timeout used when a call passes none (getUpdates adds its long poll)."""
        return self._read

    async def initialize(self) -> None:
        """Open the session; again after `shutdown`, and a no-op when it is open."""
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self._pool_size),
                cookie_jar=aiohttp.DummyCookieJar(),
                headers={"User-Agent": self.USER_AGENT},
                trust_env=False,
            )

    async def shutdown(self) -> None:
        """Close the session and its connections; a no-op when it is closed."""
        session, self._session = self._session, None
        if session is not None and not session.closed:
            await session.close()

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        # Each timeout: seconds, None (no bound) or `BaseRequest.DEFAULT_NONE` (not given:
        # this object's own). PTB's name for that type, `ODVInput`, is private.
        read_timeout: object = BaseRequest.DEFAULT_NONE,
        write_timeout: object = BaseRequest.DEFAULT_NONE,
        connect_timeout: object = BaseRequest.DEFAULT_NONE,
        pool_timeout: object = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        """One HTTP exchange: the status and the body, or `TimedOut`/`NetworkError`."""
        session = self._session
        if session is None or session.closed:
            raise RuntimeError("This AiohttpRequest is not initialized!")
        files = request_data is not None and request_data.contains_files
        read = _given(read_timeout, self._read)
        write = _given(write_timeout, self._media_write if files else self._write)
        connect = _given(connect_timeout, self._connect)
        pool = _given(pool_timeout, self._pool)
        timeout = aiohttp.ClientTimeout(
            total=None if method == "GET" else _sum(pool, connect, write, read),
            connect=_sum(pool, connect),
            sock_connect=connect,
            sock_read=read,
        )
        body: bytes | aiohttp.FormData | None = None
        headers: dict[str, str] | None = None
        if request_data is not None:
            if files:
                body = _multipart(request_data)
            else:
                body = request_data.json_payload
                headers = {"Content-Type": JSON}
        try:
            async with session.request(
                method, url, data=body, headers=headers, timeout=timeout, proxy=self._proxy
            ) as response:
                return response.status, await response.read()
        except TimeoutError as error:  # aiohttp's own timeouts are TimeoutErrors too
            raise TimedOut(f"aiohttp: {type(error).__name__}") from error
        except (aiohttp.ClientError, OSError) as error:  # refused, reset, closed early, TLS
            raise NetworkError(f"aiohttp.{type(error).__name__}: {error}") from error


def checked_proxy(proxy_url: str) -> str:
    """`proxy_url` when aiohttp can use it ("" for none).

    Raises:
        ValueError: naming `telegram.proxy_url` and the scheme, never the URL (it may hold
            the proxy's password).
    """
    if not proxy_url:
        return ""
    parts = urlsplit(proxy_url)
    if "://" not in proxy_url or parts.scheme.lower() not in PROXY_SCHEMES or not parts.hostname:
        given = f"{parts.scheme}://…" if "://" in proxy_url else "a URL without a scheme"
        raise ValueError(
            "telegram.proxy_url (or HTTPS_PROXY/ALL_PROXY when it is empty): an http:// or "
            f"https:// proxy URL with a host is needed, not {given} (SOCKS proxies are not "
            "supported for Telegram)"
        )
    return proxy_url


def _given(value: object, default: float | None) -> float | None:
    """A timeout argument as seconds or None; `default` when it was not given."""
    if value is BaseRequest.DEFAULT_NONE:
        return default
    if value is None or isinstance(value, int | float):
        return value
    raise TypeError(f"a timeout is seconds or None, not {type(value).__name__}")


def _sum(*timeouts: float | None) -> float | None:
    """A bound made of several phases; unbounded when any phase is."""
    total = 0.0
    for timeout in timeouts:
        if timeout is None:
            return None
        total += timeout
    return total


def _multipart(request_data: RequestData) -> aiohttp.FormData:
    """Parameters as form fields and files as parts, as PTB describes them."""
    form = aiohttp.FormData()
    for name, value in request_data.json_parameters.items():
        form.add_field(name, value)
    for name, (file_name, content, mime_type) in request_data.multipart_data.items():
        form.add_field(name, content, filename=file_name, content_type=mime_type)
    return form
