"""A small HTTP/1.1 client for one origin: POSTs over kept-alive connections, nothing else.

Replies to residents are small JSON POSTs to one host, one after another on long-lived
connections. aiohttp spends 72–83 µs of CPU on each on this VM (request and response objects,
header multidicts, timers, tracing hooks); writing the request bytes and parsing the status
line, two headers and the body takes 28 µs (`python -m bench.telegram_calls`). This client does
only that: no redirects, cookies, proxies or compression (none is asked for: no Accept-Encoding
is sent). Bodies come with Content-Length or chunked. File uploads and downloads stay on
aiohttp.

Errors: `TimeoutError` when connecting or a response takes too long, `ConnectionError` when a
connection fails or closes before the whole response arrived. A request is never sent twice:
whether a connection the server closed had already received it cannot be known.
"""

from __future__ import annotations

import asyncio
import ssl
from collections import deque
from urllib.parse import urlsplit

HEADER_END = b"\r\n\r\n"
MAX_HEADER_BYTES = 64 * 1024


class _Response:
    """Parses one response as its bytes arrive."""

    __slots__ = ("body", "chunked", "close", "length", "status")

    def __init__(self) -> None:
        self.status = 0
        self.length = -1
        self.chunked = False
        self.close = False
        self.body = bytearray()

    def head(self, head: bytes) -> None:
        lines = head.split(b"\r\n")
        parts = lines[0].split(b" ", 2)
        if len(parts) < 2 or not parts[0].startswith(b"HTTP/1."):
            raise ConnectionError(f"not an HTTP/1.x response: {lines[0][:80]!r}")
        self.status = int(parts[1])
        self.close = parts[0] == b"HTTP/1.0"
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                self.length = int(value)
            elif name == b"transfer-encoding":
                self.chunked = b"chunked" in value.lower()
            elif name == b"connection":
                self.close = value.strip().lower() == b"close"


class _Connection(asyncio.Protocol):
    """One connection; at most one request in flight on it."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self._buffer = bytearray()
        self._response: _Response | None = None
        self._waiter: asyncio.Future[_Response] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        response = self._response
        if response is not None and _ends_with_close(response):
            response.body += self._buffer
            self._buffer.clear()
            self._finish(response)
            return
        self._fail(ConnectionError(f"connection closed before the response ended: {exc}"))

    def send(self, request: bytes) -> asyncio.Future[_Response]:
        assert self.transport is not None
        self._response = _Response()
        self._waiter = asyncio.get_running_loop().create_future()
        self.transport.write(request)
        return self._waiter

    def data_received(self, data: bytes) -> None:
        if self._response is None:  # bytes nobody asked for: the connection cannot be trusted
            self.abort()
            return
        self._buffer += data
        try:
            self._parse(self._response)
        except (ValueError, ConnectionError) as error:
            self._fail(ConnectionError(f"malformed response: {error}"))
            self.abort()

    def _parse(self, response: _Response) -> None:
        if not response.status:
            end = self._buffer.find(HEADER_END)
            if end < 0:
                if len(self._buffer) > MAX_HEADER_BYTES:
                    raise ConnectionError("response header too large")
                return
            response.head(bytes(self._buffer[:end]))
            del self._buffer[: end + 4]
            if response.status in (204, 304):
                response.length = 0
        if response.chunked:
            self._parse_chunks(response)
        elif response.length >= 0 and len(self._buffer) >= response.length:
            response.body = self._buffer[: response.length]
            del self._buffer[: response.length]
            self._finish(response)

    def _parse_chunks(self, response: _Response) -> None:
        while True:
            line_end = self._buffer.find(b"\r\n")
            if line_end < 0:
                return
            size = int(bytes(self._buffer[:line_end]).split(b";", 1)[0], 16)
            if size == 0:  # the last chunk, then optional trailers and an empty line
                end = self._buffer.find(HEADER_END, line_end)
                if end < 0:
                    return
                del self._buffer[: end + 4]
                self._finish(response)
                return
            if len(self._buffer) < line_end + 2 + size + 2:
                return
            start = line_end + 2
            response.body += self._buffer[start : start + size]
            del self._buffer[: start + size + 2]

    def _finish(self, response: _Response) -> None:
        self._response = None
        if self._buffer:  # more than the response: nothing further on it can be trusted
            self.closed = True
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(response)
        self._waiter = None

    def _fail(self, error: Exception) -> None:
        self._response = None
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_exception(error)
        self._waiter = None

    def abort(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.abort()


class KeepAliveClient:
    """POST to one origin (`http://host:port` or `https://host`) over at most `pool_size`
    kept-alive connections; further requests wait for a free one up to `pool_timeout`."""

    def __init__(
        self,
        origin: str,
        *,
        pool_size: int = 256,
        connect_timeout: float | None = 5.0,
        pool_timeout: float | None = 1.0,
        user_agent: str = "mitreden",
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        parts = urlsplit(origin)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an http(s) origin: {origin!r}")
        self._host = parts.hostname
        self._port = parts.port or (443 if parts.scheme == "https" else 80)
        self._ssl = None
        if parts.scheme == "https":  # certificates checked against the system's authorities
            self._ssl = ssl_context or ssl.create_default_context()
        host_header = parts.netloc.rsplit("@", 1)[-1]
        self._head = f"Host: {host_header}\r\nUser-Agent: {user_agent}\r\n".encode()
        self._pool_size = pool_size
        self._connect_timeout = connect_timeout
        self._pool_timeout = pool_timeout
        self._idle: list[_Connection] = []
        self._open = 0
        self._waiting: deque[asyncio.Future[_Connection | None]] = deque()
        self._closed = False

    async def post(
        self, target: str, body: bytes, content_type: str, *, read_timeout: float | None
    ) -> tuple[int, bytes]:
        """POST `body` to `target` (path and query); returns the status and the body."""
        connection = await self._acquire()
        request = b"".join(
            (
                f"POST {target} HTTP/1.1\r\n".encode(),
                self._head,
                f"Content-Type: {content_type}\r\nContent-Length: {len(body)}\r\n\r\n".encode(),
                body,
            )
        )
        reusable = False
        try:
            waiter = connection.send(request)
            timer = None
            if read_timeout is not None:
                timer = asyncio.get_running_loop().call_later(
                    read_timeout, _time_out, waiter, read_timeout
                )
            try:
                response = await waiter
            finally:
                if timer is not None:
                    timer.cancel()
            reusable = not response.close
            return response.status, bytes(response.body)
        finally:
            self._release(connection, reusable)

    async def close(self) -> None:
        self._closed = True
        for connection in self._idle:
            connection.abort()
        self._idle.clear()
        while self._waiting:
            waiter = self._waiting.popleft()
            if not waiter.done():
                waiter.set_exception(ConnectionError("client closed"))

    async def _acquire(self) -> _Connection:
        if self._closed:
            raise ConnectionError("client closed")
        while self._idle:
            connection = self._idle.pop()
            transport = connection.transport
            if not connection.closed and transport is not None and not transport.is_closing():
                return connection
            self._open -= 1
        if self._open < self._pool_size:
            return await self._connect()
        waiter: asyncio.Future[_Connection | None] = asyncio.get_running_loop().create_future()
        self._waiting.append(waiter)
        try:
            handed = await asyncio.wait_for(waiter, self._pool_timeout)
        except BaseException as error:
            if waiter in self._waiting:
                self._waiting.remove(waiter)
            elif waiter.done() and not waiter.cancelled() and waiter.exception() is None:
                self._pass_on(waiter.result())  # handed over just as this request gave up
            if isinstance(error, TimeoutError):
                raise TimeoutError("no free connection within the pool timeout") from None
            raise
        return handed if handed is not None else await self._connect()

    def _pass_on(self, connection: _Connection | None) -> None:
        """Give what a waiter no longer wants to the next one, or back to the pool."""
        if connection is not None:
            self._release(connection, reusable=True)
        else:  # the right to open one; when nobody waits, it lapses
            self._hand_on(None)

    async def _connect(self) -> _Connection:
        self._open += 1
        loop = asyncio.get_running_loop()
        try:
            _, connection = await asyncio.wait_for(
                loop.create_connection(_Connection, self._host, self._port, ssl=self._ssl),
                self._connect_timeout,
            )
        except BaseException:
            self._open -= 1
            self._hand_on(None)
            raise
        return connection

    def _release(self, connection: _Connection, reusable: bool) -> None:
        if not reusable or connection.closed or self._closed:
            connection.abort()
            self._open -= 1
            self._hand_on(None)  # a waiter may open a connection of its own now
            return
        if not self._hand_on(connection):
            self._idle.append(connection)

    def _hand_on(self, connection: _Connection | None) -> bool:
        """Give a connection (or, with None, the right to open one) to the longest waiter."""
        while self._waiting:
            waiter = self._waiting.popleft()
            if not waiter.done():
                waiter.set_result(connection)
                return True
        return False


def _ends_with_close(response: _Response) -> bool:
    """A response whose head has arrived and whose body has neither a length nor chunks."""
    return bool(response.status) and response.length < 0 and not response.chunked


def _time_out(waiter: asyncio.Future[_Response], seconds: float) -> None:
    if not waiter.done():
        waiter.set_exception(TimeoutError(f"no response within {seconds} s"))
