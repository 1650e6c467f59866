"""The staff web view of the real bot: Telegram on the fake Bot API (tests/e2e/conftest.py,
`start_bot`), the web view served by `bot.runtime.run` on a free loopback port behind a
path prefix, as `mitreden run` serves it behind the city's reverse proxy.

`Browser` is an HTTP client with its own cookie jar: `sign_in` asks the bot for a link with
`/web` in the private chat, opens it and presses the button, as a person does.
"""

from __future__ import annotations

import re
import socket
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import aiohttp
import pytest

from bot.config import Settings
from handlers.settings import WebSettings
from testkit.fakebotapi import BotMessage, User
from tests.e2e.conftest import RunningBot, StartBot

PREFIX = "/mitreden"
ADMIN_ID = 900_000_001
LINK = re.compile(r"https?://\S+/signin/[A-Za-z0-9_-]+")
CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """config.example.toml with the web view on a free port behind the prefix /mitreden,
    and one administrator (Telegram user `ADMIN_ID`)."""
    port = free_port()
    web = WebSettings(listen=f"127.0.0.1:{port}", base_url=f"http://127.0.0.1:{port}{PREFIX}")
    bot = replace(settings.bot, administrators=(f"telegram:{ADMIN_ID}",))
    return replace(settings, web=web, bot=bot)


@pytest.fixture
async def bot(start_bot: StartBot) -> RunningBot:
    """The bot with its outbox delivered and the web view served (`ops=...`: the servers
    `mitreden run` serves)."""
    return await start_bot(deliver=True, ops="127.0.0.1:0")


async def submit(
    bot: RunningBot,
    user_id: int,
    text: str,
    *,
    field: str = "Bildung und Sprache",
    anonymity: str = "Anonym bleiben",
    kind: str = "Vorschlag",
) -> str:
    """A resident files an item through the chat; returns its reference."""
    bot.api.inject_text(user_id, text)
    prompt = await bot.message_with(user_id, "Was für eine Rückmeldung ist das?")
    for step, label in enumerate((kind, field, anonymity, "Abschicken"), 1):
        bot.press(user_id, prompt, label)
        await bot.edited(prompt, step)
    found = re.search(r"F-\d{4}-\d{4}", prompt.text or "")
    assert found, prompt.text
    return found.group(0)


class Browser:
    """One browser: its own cookies, talking to the web view over HTTP."""

    def __init__(self, bot: RunningBot) -> None:
        self.bot = bot
        self.origin = f"http://{bot.settings.web.listen}"
        self.base = self.origin + PREFIX
        self.session = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
        self.csrf = ""

    async def close(self) -> None:
        await self.session.close()

    async def ask_link(self, user: User) -> str:
        """Send /web in the private chat; the link the bot answers with."""
        before = len(self.bot.api.messages_to(user.id))
        self.bot.api.inject_text(user.id, "/web")
        messages: list[BotMessage] = await self.bot.messages(user.id, before + 1)
        text = messages[before].text or ""
        found = LINK.search(text)
        assert found, text
        return found.group(0)

    async def open_link(self, link: str) -> tuple[int, str]:
        """Open the link and press its button."""
        status, page = await self.get(link)
        assert status == 200, page
        token = link.rsplit("/", 1)[1]
        return await self.post(f"{self.base}/signin", {"token": token}, csrf=False)

    async def sign_in(self, user: User) -> str:
        """Sign in through the chat; returns the overview page."""
        status, page = await self.open_link(await self.ask_link(user))
        assert status == 200, page
        return page

    async def get(self, url: str, **options: Any) -> tuple[int, str]:
        async with self.session.get(self._url(url), **options) as response:
            page = await response.text()
            self._keep_csrf(page)
            return response.status, page

    async def response(self, url: str) -> aiohttp.ClientResponse:
        """The whole response (headers, bytes), read."""
        response = await self.session.get(self._url(url))
        await response.read()
        return response

    async def post(self, url: str, data: dict[str, str], *, csrf: bool = True) -> tuple[int, str]:
        form = {**data, **({"csrf": self.csrf} if csrf else {})}
        async with self.session.post(self._url(url), data=form) as response:
            page = await response.text()
            self._keep_csrf(page)
            return response.status, page

    def _url(self, url: str) -> str:
        return url if url.startswith("http") else self.base + url

    def _keep_csrf(self, page: str) -> None:
        found = CSRF.search(page)
        if found:
            self.csrf = found.group(1)


@pytest.fixture
async def browser(bot: RunningBot) -> AsyncIterator[Browser]:
    opened = Browser(bot)
    try:
        yield opened
    finally:
        await opened.close()


@pytest.fixture
async def second_browser(bot: RunningBot) -> AsyncIterator[Browser]:
    opened = Browser(bot)
    try:
        yield opened
    finally:
        await opened.close()
