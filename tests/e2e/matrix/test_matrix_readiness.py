"""`/readyz` as the city's IT sees it while the homeserver is gone: the real bot on the real
Synapse, its ops server scraped over HTTP. Not ready while the sync fails; ready again once
the homeserver is back and a sync went through."""

from __future__ import annotations

import asyncio

import pytest

from bot.ops.server import OpsServer
from tests.e2e.matrix.conftest import Lab
from tests.e2e.test_ops import get

pytestmark = pytest.mark.e2e

WITHIN = 60.0  # a restarted Synapse takes 10-25 s on a loaded 2-core VM, plus the backoff


async def readyz_until(url: str, status: int) -> str:
    """Scrape /readyz until it answers `status`; its body then."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + WITHIN
    while True:
        answer = await get(f"{url}/readyz")
        if answer[0] == status:
            return answer[1]
        if loop.time() > deadline:
            raise AssertionError(f"/readyz still answers {answer} after {WITHIN}s")
        await asyncio.sleep(0.1)


async def test_readiness_follows_the_connection_to_the_homeserver(lab: Lab) -> None:
    bot = await lab.start_bot()
    app = bot.app
    ops = OpsServer("127.0.0.1:0", app.db, app.store, [bot.channel], app.metrics)
    await ops.start()
    try:
        assert await get(f"{ops.url}/readyz") == (200, "ready")

        lab.synapse.stop()  # the bot's long poll breaks, and so does every retry
        try:
            body = await readyz_until(ops.url, 503)
        finally:
            lab.synapse.start()
        assert '"matrix"' in body and "database" not in body

        assert await readyz_until(ops.url, 200) == "ready"
    finally:
        await ops.stop()
