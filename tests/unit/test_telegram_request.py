"""`AiohttpRequest`, the bot's HTTP backend for python-telegram-bot, against a real aiohttp
server on loopback (and, for the proxy, a real proxy server): what reaches the server from
PTB's own `Bot` methods, and what PTB gets back when the exchange fails."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from aiohttp import web
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup
from telegram.error import Forbidden, NetworkError, TimedOut
from telegram.request import BaseRequest

from bot.channels.telegram.request import AiohttpRequest
from testkit.proxyserver import Carried, ProxyServer

TOKEN = "123456789:AAFakeTokenForTheRequestTests_abcdefg"
MESSAGE = {"message_id": 7, "date": 1_790_000_000, "chat": {"id": 42, "type": "private"}}
FILE = b"%PDF-1.4\n" + bytes(range(256)) * 64  # 16 KiB, every byte value
BLOCKED = "Forbidden: bot was blocked by the user"
PROXIED_HOST = "bot-api.test"  # only the proxy resolves it (testkit.proxy_plugin)


@dataclass
class Received:
    """One request as the server saw it."""

    method: str
    path: str
    headers: dict[str, str]
    peer_port: int
    form: dict[str, str] = field(default_factory=dict)
    files: dict[str, tuple[str, str, bytes]] = field(default_factory=dict)  # name, type, data


class Server:
    """A Bot API stand-in: records every request; `/hang` never answers until teardown."""

    def __init__(self) -> None:
        self.received: list[Received] = []
        self.release = asyncio.Event()
        self.port = 0
        app = web.Application()
        app.router.add_post("/bot{token}/blocked", self.blocked)
        app.router.add_post("/bot{token}/{method}", self.answer)
        app.router.add_get("/file/bot{token}/{path:.*}", self.download)
        app.router.add_post("/hang", self.hang)
        self.runner = web.AppRunner(app)

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        self.port = self.runner.addresses[0][1]

    async def stop(self) -> None:
        self.release.set()
        await self.runner.cleanup()

    async def record(self, request: web.Request) -> Received:
        assert request.transport is not None
        _, peer_port = request.transport.get_extra_info("peername")[:2]
        received = Received(request.method, request.path, dict(request.headers), peer_port)
        if request.method == "POST" and request.content_type == "application/json":
            received.form.update(await request.json())
        elif request.method == "POST":
            for name, value in (await request.post()).items():
                if isinstance(value, web.FileField):
                    received.files[name] = (value.filename, value.content_type, value.file.read())
                else:
                    received.form[name] = str(value)
        self.received.append(received)
        return received

    async def answer(self, request: web.Request) -> web.Response:
        await self.record(request)
        response = web.json_response({"ok": True, "result": MESSAGE})
        response.set_cookie("session", "tracked")  # the bot keeps no cookies
        return response

    async def blocked(self, request: web.Request) -> web.Response:
        await self.record(request)
        body = {"ok": False, "error_code": 403, "description": BLOCKED}
        return web.json_response(body, status=403)

    async def download(self, request: web.Request) -> web.Response:
        await self.record(request)
        return web.Response(body=FILE, content_type="application/octet-stream")

    async def hang(self, request: web.Request) -> web.Response:
        await self.record(request)
        await self.release.wait()
        return web.json_response({"ok": True, "result": True})


@pytest.fixture
async def server() -> AsyncIterator[Server]:
    running = Server()
    await running.start()
    try:
        yield running
    finally:
        await running.stop()


@pytest.fixture
async def request_() -> AsyncIterator[AiohttpRequest]:
    request = AiohttpRequest()
    await request.initialize()
    try:
        yield request
    finally:
        await request.shutdown()


def bot_on(request: BaseRequest, origin: str) -> Bot:
    return Bot(
        TOKEN,
        base_url=f"{origin}/bot",
        base_file_url=f"{origin}/file/bot",
        request=request,
        get_updates_request=request,
    )


async def test_a_call_arrives_as_json_on_one_kept_alive_connection(
    server: Server, request_: AiohttpRequest
) -> None:
    # By name: aiohttp would keep no cookie of an IP address's anyway.
    bot = bot_on(request_, f"http://localhost:{server.port}")
    markup = InlineKeyboardMarkup([[InlineKeyboardButton("Frage", callback_data="v1:kind:q")]])

    sent = await bot.send_message(42, "Zu welchem Handlungsfeld?", reply_markup=markup)
    await bot.send_message(42, "Danke!")

    assert sent.message_id == 7  # PTB read the answer
    first, second = server.received
    assert first.method == "POST" and first.path == f"/bot{TOKEN}/sendMessage"
    assert first.headers["Content-Type"] == "application/json"
    assert first.headers["User-Agent"] == BaseRequest.USER_AGENT
    assert first.form["chat_id"] == "42" and first.form["text"] == "Zu welchem Handlungsfeld?"
    assert json.loads(first.form["reply_markup"]) == {
        "inline_keyboard": [[{"text": "Frage", "callback_data": "v1:kind:q"}]]
    }
    assert second.peer_port == first.peer_port  # the same connection, kept alive
    assert "Cookie" not in second.headers  # the cookie the server set was not kept


async def test_a_document_is_uploaded_as_multipart(
    server: Server, request_: AiohttpRequest
) -> None:
    bot = bot_on(request_, server.origin)

    await bot.send_document(42, FILE, filename="antrag.pdf", caption="Ihr Antrag")

    (upload,) = server.received
    assert upload.path == f"/bot{TOKEN}/sendDocument"
    assert upload.headers["Content-Type"].startswith("multipart/form-data")
    assert upload.form["chat_id"] == "42" and upload.form["caption"] == "Ihr Antrag"
    assert upload.files["document"] == ("antrag.pdf", "application/pdf", FILE)


async def test_a_file_is_downloaded_with_get(server: Server, request_: AiohttpRequest) -> None:
    data = await request_.retrieve(f"{server.origin}/file/bot{TOKEN}/documents/file_1.pdf")

    assert data == FILE
    (download,) = server.received
    assert download.method == "GET" and download.path.endswith("/documents/file_1.pdf")


async def test_an_answer_slower_than_the_read_timeout_is_timed_out(server: Server) -> None:
    request = AiohttpRequest(read_timeout=0.05)  # the object's own timeout, none passed
    await request.initialize()
    try:
        assert request.read_timeout == 0.05
        with pytest.raises(TimedOut):
            await request.post(f"{server.origin}/hang")
        with pytest.raises(TimedOut):  # a timeout passed with the call wins
            await request.post(f"{server.origin}/hang", read_timeout=0.01)
    finally:
        await request.shutdown()
    assert [r.path for r in server.received] == ["/hang", "/hang"]


async def test_a_refused_connection_is_a_network_error_not_a_timeout(
    request_: AiohttpRequest,
) -> None:
    with socket.socket() as probe:  # a loopback port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]

    with pytest.raises(NetworkError) as caught:
        await request_.post(f"http://127.0.0.1:{port}/bot{TOKEN}/getMe")

    assert not isinstance(caught.value, TimedOut)
    assert "ClientConnectorError" in caught.value.message


async def test_an_http_error_status_is_left_to_ptb(
    server: Server, request_: AiohttpRequest
) -> None:
    url = f"{server.origin}/bot{TOKEN}/blocked"

    status, body = await request_.do_request(url, "POST")
    assert status == 403 and json.loads(body)["description"] == BLOCKED

    with pytest.raises(Forbidden, match="blocked by the user"):  # PTB's reading of it
        await request_.post(url)


@pytest.fixture
def proxy(tmp_path: Path) -> Iterator[ProxyServer]:
    running = ProxyServer(tmp_path)
    running.start()
    try:
        yield running
    finally:
        running.stop()


async def test_every_call_goes_through_the_proxy_when_one_is_set(
    server: Server, proxy: ProxyServer
) -> None:
    request = AiohttpRequest(proxy_url=proxy.url)
    await request.initialize()
    origin = f"http://{PROXIED_HOST}:{server.port}"  # reachable through the proxy only
    try:
        await bot_on(request, origin).send_message(42, "Hallo")
        assert await request.retrieve(f"{origin}/file/bot{TOKEN}/documents/file_1.pdf") == FILE
    finally:
        await request.shutdown()

    assert [r.path for r in server.received] == [
        f"/bot{TOKEN}/sendMessage",
        f"/file/bot{TOKEN}/documents/file_1.pdf",
    ]
    assert proxy.carried() == [
        Carried("POST", PROXIED_HOST, server.port, f"/bot{TOKEN}/sendMessage"),
        Carried("GET", PROXIED_HOST, server.port, f"/file/bot{TOKEN}/documents/file_1.pdf"),
    ]


async def test_the_proxy_urls_credentials_go_to_the_proxy(server: Server) -> None:
    """Many city proxies want a login: given in the URL, it reaches the proxy as Basic auth
    (the test server plays the proxy here, answering the absolute-form request itself)."""
    request = AiohttpRequest(proxy_url=f"http://ana:s3cret@127.0.0.1:{server.port}")
    await request.initialize()
    try:
        await bot_on(request, f"http://{PROXIED_HOST}").send_message(42, "Hallo")
    finally:
        await request.shutdown()

    (carried,) = server.received
    assert carried.headers["Proxy-Authorization"] == "Basic YW5hOnMzY3JldA=="  # ana:s3cret


def test_a_socks_proxy_is_refused_with_the_setting_named_and_no_password() -> None:
    with pytest.raises(ValueError, match=r"telegram\.proxy_url") as caught:
        AiohttpRequest(proxy_url="socks5://mitreden:s3cret@proxy.example:1080")

    assert "s3cret" not in str(caught.value) and "socks5://" in str(caught.value)


async def test_initialize_and_shutdown_twice_are_safe(server: Server) -> None:
    request = AiohttpRequest()
    await request.initialize()
    await request.initialize()  # PTB initializes both of a bot's requests, maybe one object
    await bot_on(request, server.origin).send_message(42, "eins")
    await request.shutdown()
    await request.shutdown()

    with pytest.raises(RuntimeError, match="not initialized"):
        await request.do_request(f"{server.origin}/bot{TOKEN}/sendMessage", "POST")

    await request.initialize()  # and it opens again after a shutdown
    await bot_on(request, server.origin).send_message(42, "zwei")
    await request.shutdown()
    assert [r.form["text"] for r in server.received] == ["eins", "zwei"]
