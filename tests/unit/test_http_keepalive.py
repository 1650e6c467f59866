"""The keep-alive client against real servers on loopback: aiohttp's, and a raw one that
answers the way some proxies and servers do (chunks, close-delimited bodies, early closes)."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import pytest
import trustme
from aiohttp import web

from bot.channels.telegram.http_keepalive import KeepAliveClient

Answer = Callable[[bytes], Awaitable[bytes | None]]  # request bytes → response bytes, or close


@pytest.fixture
async def aiohttp_origin() -> AsyncIterator[tuple[str, list[str]]]:
    """An aiohttp server echoing each body; it records the peer port of every request."""
    peers: list[str] = []

    async def echo(request: web.Request) -> web.Response:
        peers.append(str(request.transport.get_extra_info("peername")[1]))  # type: ignore[union-attr]
        body = await request.read()
        status = int(request.query.get("status", "200"))
        return web.Response(status=status, body=b"got:" + body, content_type="application/json")

    app = web.Application()
    app.router.add_post("/{tail:.*}", echo)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield f"http://127.0.0.1:{port}", peers
    finally:
        await runner.cleanup()


async def raw_server(answer: Answer) -> tuple[asyncio.Server, str]:
    """A server that reads one request at a time and writes `answer`'s bytes; it hangs up when
    `answer` gives None or its bytes say `Connection: close`."""

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = next(
                    int(line.split(b":")[1])
                    for line in head.split(b"\r\n")
                    if line.lower().startswith(b"content-length")
                )
                body = await reader.readexactly(length)
                response = await answer(body)
                if response is None:
                    break
                writer.write(response)
                await writer.drain()
                if b"connection: close" in response.lower():
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    return server, f"http://127.0.0.1:{port}"


@asynccontextmanager
async def client_of(
    answer: Answer, pool_size: int = 256, pool_timeout: float = 1.0
) -> AsyncIterator[tuple[KeepAliveClient, str]]:
    """A client of a raw server answering with `answer`; both closed afterwards."""
    server, origin = await raw_server(answer)
    client = KeepAliveClient(origin, pool_size=pool_size, pool_timeout=pool_timeout)
    try:
        yield client, origin
    finally:
        await client.close()
        server.close()
        await server.wait_closed()


async def test_requests_reuse_one_connection_and_bodies_arrive_whole(
    aiohttp_origin: tuple[str, list[str]],
) -> None:
    origin, peers = aiohttp_origin
    client = KeepAliveClient(origin)
    try:
        answers = [
            await client.post(
                "/bot1/sendMessage", b'{"n":%d}' % n, "application/json", read_timeout=5
            )
            for n in range(5)
        ]
        big = await client.post("/x", b"a" * 300_000, "text/plain", read_timeout=5)
        failed = await client.post("/x?status=403", b"{}", "application/json", read_timeout=5)
    finally:
        await client.close()

    assert answers == [(200, b'got:{"n":%d}' % n) for n in range(5)]
    assert big == (200, b"got:" + b"a" * 300_000)
    assert failed == (403, b"got:{}")
    assert len(set(peers)) == 1  # one kept-alive connection carried all seven


async def test_concurrent_requests_open_at_most_pool_size_connections(
    aiohttp_origin: tuple[str, list[str]],
) -> None:
    origin, peers = aiohttp_origin
    client = KeepAliveClient(origin, pool_size=3)
    try:
        answers = await asyncio.gather(
            *(client.post("/", b"%d" % n, "text/plain", read_timeout=5) for n in range(30))
        )
    finally:
        await client.close()

    assert sorted(body for _, body in answers) == sorted(b"got:%d" % n for n in range(30))
    assert len(set(peers)) <= 3


async def test_chunked_and_close_delimited_bodies() -> None:
    replies = iter(
        [
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
            b'4\r\n{"ok\r\n6;ext=1\r\n":true\r\n1\r\n}\r\n0\r\nX-Trailer: 1\r\n\r\n',
            b'HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n{"ok":false}',
        ]
    )

    async def answer(_body: bytes) -> bytes | None:
        return next(replies, None)

    async with client_of(answer) as (client, _):
        chunked = await client.post("/", b"{}", "application/json", read_timeout=5)
        # The second response has no length: its body is what arrives before the close.
        closing = await client.post("/", b"{}", "application/json", read_timeout=5)

    assert chunked == (200, b'{"ok":true}')
    assert closing == (200, b'{"ok":false}')


async def test_connection_closed_before_the_answer_is_a_connection_error() -> None:
    async def hang_up(_body: bytes) -> bytes | None:
        return None

    async with client_of(hang_up) as (client, _):
        with pytest.raises(ConnectionError):
            await client.post("/", b"{}", "application/json", read_timeout=5)


async def test_a_connection_the_server_closed_while_idle_is_not_reused() -> None:
    served = 0

    async def once_then_close(_body: bytes) -> bytes | None:
        nonlocal served
        served += 1
        return b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"

    async with client_of(once_then_close) as (client, _):
        first = await client.post("/", b"1", "text/plain", read_timeout=5)
        second = await client.post("/", b"2", "text/plain", read_timeout=5)

    assert first == second == (200, b"ok")
    assert served == 2


async def test_slow_answer_times_out_and_refused_connection_fails() -> None:
    async def slow(_body: bytes) -> bytes | None:
        await asyncio.sleep(1)
        return b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"

    async with client_of(slow) as (client, origin):
        with pytest.raises(TimeoutError):
            await client.post("/", b"{}", "application/json", read_timeout=0.05)

    refused = KeepAliveClient(origin)  # nothing listens there any more
    with pytest.raises(OSError):
        await refused.post("/", b"{}", "application/json", read_timeout=1)


async def test_malformed_answer_is_a_connection_error() -> None:
    async def garbage(_body: bytes) -> bytes | None:
        return b"SSH-2.0-OpenSSH\r\n\r\n"

    async with client_of(garbage) as (client, _):
        with pytest.raises(ConnectionError):
            await client.post("/", b"{}", "application/json", read_timeout=5)


async def test_https_with_the_certificate_checked() -> None:
    authority = trustme.CA()
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert("localhost").configure_cert(server_context)

    async def answer(request: web.Request) -> web.Response:
        return web.Response(body=b"secure:" + await request.read())

    app = web.Application()
    app.router.add_post("/{tail:.*}", answer)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "localhost", 0, ssl_context=server_context)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    trusting = ssl.create_default_context()
    authority.configure_trust(trusting)
    client = KeepAliveClient(f"https://localhost:{port}", ssl_context=trusting)
    stranger = KeepAliveClient(f"https://localhost:{port}")  # the system's authorities only
    try:
        answered = await client.post("/bot1/getMe", b"{}", "application/json", read_timeout=5)
        with pytest.raises(ssl.SSLCertVerificationError):
            await stranger.post("/bot1/getMe", b"{}", "application/json", read_timeout=5)
    finally:
        await client.close()
        await stranger.close()
        await runner.cleanup()

    assert answered == (200, b"secure:{}")


def test_origin_must_be_http() -> None:
    with pytest.raises(ValueError):
        KeepAliveClient("ftp://example.org")


async def test_a_request_that_gives_up_waiting_for_the_pool_leaves_it_usable() -> None:
    release = asyncio.Event()

    async def when_released(_body: bytes) -> bytes | None:
        await release.wait()
        return b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"

    async with client_of(when_released, pool_size=1) as (client, _):
        holding = asyncio.ensure_future(client.post("/", b"1", "text/plain", read_timeout=5))
        await asyncio.sleep(0.05)
        waiting = asyncio.ensure_future(client.post("/", b"2", "text/plain", read_timeout=5))
        await asyncio.sleep(0.05)
        waiting.cancel()  # e.g. the update it belonged to was abandoned
        release.set()
        assert await holding == (200, b"ok")
        assert await client.post("/", b"3", "text/plain", read_timeout=5) == (200, b"ok")
    assert waiting.cancelled()


async def test_pool_timeout_when_every_connection_stays_busy() -> None:
    async def never(_body: bytes) -> bytes | None:
        await asyncio.sleep(10)
        return None

    async with client_of(never, pool_size=1, pool_timeout=0.05) as (client, _):
        busy = asyncio.ensure_future(client.post("/", b"1", "text/plain", read_timeout=5))
        await asyncio.sleep(0.02)
        with pytest.raises(TimeoutError, match="pool"):
            await client.post("/", b"2", "text/plain", read_timeout=5)
        busy.cancel()
