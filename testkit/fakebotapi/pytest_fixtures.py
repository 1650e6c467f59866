"""Pytest fixtures for the fake Bot API; import them into a test module or a conftest.

``fake_clock`` drives flood limits and callback ages; long polling still uses real time.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from telegram import Bot

from .limits import FakeClock
from .server import FakeBotApi


@pytest.fixture
def fake_clock() -> FakeClock:
    return FakeClock()


@pytest_asyncio.fixture
async def fake_api(fake_clock: FakeClock) -> AsyncIterator[FakeBotApi]:
    """A started server on 127.0.0.1 and a free port, limits off."""
    api = FakeBotApi(clock=fake_clock)
    await api.start()
    try:
        yield api
    finally:
        await api.stop()


@pytest_asyncio.fixture
async def fake_bot(fake_api: FakeBotApi) -> AsyncIterator[Bot]:
    """An initialised PTB ``Bot`` talking to ``fake_api``."""
    bot = Bot(fake_api.token, base_url=fake_api.base_url, base_file_url=fake_api.base_file_url)
    async with bot:
        yield bot
