"""Several `mitreden run` processes on one throw-away PostgreSQL, behind a real HAProxy.

`fleet(n)` starts the fake Bot API in this test's event loop, HAProxy (`testkit.haproxy`) in
front of `n` bot processes, and the processes themselves, each `python -m bot run` as an
administrator would start it (webhook mode, its own webhook and ops ports, one database). The
fake pushes Telegram's updates to HAProxy, as Telegram pushes them to the city's reverse
proxy. Processes are killed, stopped and started again by the tests; the fake, the database
and the proxy outlive them and are the witnesses. Every wait is on a condition with a
deadline, never a fixed sleep.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from testkit.fakebotapi import DEFAULT_TOKEN, FakeBotApi
from testkit.haproxy import (
    PUBLIC,
    Backend,
    HaproxyNotFound,
    ReverseProxy,
    bot_process_env,
    find_haproxy,
    free_port,
)
from testkit.support import EXAMPLE_CONFIG, ROOT

# The Matrix part (test_matrix_failover) runs on the session's Synapse (tests/e2e/conftest.py)
# with the Matrix tests' people.
from tests.e2e.matrix.conftest import lab  # noqa: F401

SECRET = "ha-Secret_2026"
START_SECONDS = 60.0  # a process, from exec to /readyz 200 (2 shared cores, a busy run)
METRIC = re.compile(r"^(?P<name>[a-z_]+)(?:\{[^}]*\})? (?P<value>\S+)$", re.MULTILINE)


@dataclass
class BotProcess:
    """One `mitreden run`; started, signalled and started again by the test."""

    name: str
    webhook_port: int
    ops_port: int
    env: dict[str, str]
    log_path: Path
    process: subprocess.Popen[bytes] | None = None
    starts: int = 0

    def start(self) -> None:
        self.starts += 1
        with self.log_path.open("ab") as log:
            log.write(f"---- start {self.starts}\n".encode())
            self.process = subprocess.Popen(
                [sys.executable, "-m", "bot", "--config", str(EXAMPLE_CONFIG), "run"],
                cwd=ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def signal(self, signum: int) -> None:
        assert self.process is not None
        self.process.send_signal(signum)

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    async def exited(self, within: float = 30.0) -> int:
        """The exit code, once the process ended."""
        assert self.process is not None
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        while self.process.poll() is None:
            if loop.time() > deadline:
                raise AssertionError(f"{self.name} did not exit within {within}s")
            await asyncio.sleep(0.02)
        return self.process.returncode

    def output(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    @property
    def backend(self) -> Backend:
        return Backend(self.name, self.webhook_port, self.ops_port)


@dataclass
class Fleet:
    api: FakeBotApi
    proxy: ReverseProxy
    bots: list[BotProcess]
    database_url: str
    session: aiohttp.ClientSession
    tmp: Path
    observed_leaders: list[int] = field(default_factory=list)  # leaders seen at each look

    async def until(
        self, condition: Callable[[], Awaitable[Any]], what: str, within: float = 30.0
    ) -> Any:
        """Await `condition()` until it is truthy; fail after `within` s, or at once when a
        process that should run has died (with its log)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        while True:
            value = await condition()
            if value:
                return value
            if loop.time() > deadline:
                raise AssertionError(f"timed out after {within}s waiting for {what}")
            await asyncio.sleep(0.05)

    async def metrics(self, bot: BotProcess) -> dict[str, float] | None:
        """The process's /metrics as name → value (label sets summed); None if it does not
        answer."""
        try:
            async with self.session.get(
                f"http://127.0.0.1:{bot.ops_port}/metrics",
                timeout=aiohttp.ClientTimeout(total=2),
            ) as response:
                text = await response.text()
        except (aiohttp.ClientError, TimeoutError):
            return None
        values: dict[str, float] = {}
        for match in METRIC.finditer(text):
            values[match["name"]] = values.get(match["name"], 0.0) + float(match["value"])
        return values

    async def ready(self, bot: BotProcess) -> bool:
        try:
            async with self.session.get(
                f"http://127.0.0.1:{bot.ops_port}/readyz",
                timeout=aiohttp.ClientTimeout(total=2),
            ) as response:
                return response.status == 200
        except (aiohttp.ClientError, TimeoutError):
            return False

    async def leaders(self) -> list[BotProcess]:
        """The processes that say they lead now (`mitreden_leader`)."""
        found = []
        for bot in self.bots:
            if not bot.alive():
                continue
            figures = await self.metrics(bot)
            if figures is not None and figures.get("mitreden_leader") == 1.0:
                found.append(bot)
        self.observed_leaders.append(len(found))
        return found

    async def started(self, *bots: BotProcess) -> None:
        """Until each of `bots` answers /readyz with 200 (failing when one exits)."""

        async def all_ready() -> bool:
            for bot in bots:
                if not bot.alive():
                    raise AssertionError(f"{bot.name} exited while starting:\n{bot.output()}")
            return all([await self.ready(bot) for bot in bots])

        await self.until(all_ready, f"{[b.name for b in bots]} ready", START_SECONDS)

        async def proxied() -> bool:
            return {b.name for b in bots} <= self.proxy.up()

        await self.until(proxied, f"HAProxy sending to {[b.name for b in bots]}", 10)

    async def one_leader(self, within: float = 15.0) -> BotProcess:
        """The one leader, once there is exactly one."""

        async def single() -> BotProcess | None:
            found = await self.leaders()
            return found[0] if len(found) == 1 else None

        leader: BotProcess = await self.until(single, "exactly one leader", within)
        return leader


def bot_env(
    database_url: str, api: FakeBotApi, webhook_port: int, ops_port: int, data_dir: Path
) -> dict[str, str]:
    # Simulated residents answer at machine speed: Telegram's per-chat pace (one a second)
    # would only make the test slow.
    return bot_process_env(
        database_url,
        token=DEFAULT_TOKEN,
        base_url=api.base_url,
        base_file_url=api.base_file_url,
        webhook_port=webhook_port,
        ops_port=ops_port,
        data_dir=data_dir,
        secret=SECRET,
        MITREDEN_TELEGRAM_PRIVATE_CHAT_PER_SECOND="1000",
        MITREDEN_TELEGRAM_BROADCAST_PER_SECOND="60",
        MITREDEN_BOT_FLOOD_MESSAGES_PER_MINUTE="1000",
        MITREDEN_DELIVERY_WORKERS="4",
        MITREDEN_DELIVERY_CLAIM_LEASE_SECONDS="3",
        MITREDEN_DELIVERY_POLL_INTERVAL_SECONDS="0.2",
        MITREDEN_DELIVERY_PLAN_INTERVAL_SECONDS="2",
    )


FleetFactory = Callable[..., Awaitable[Fleet]]


@pytest.fixture
async def fleet(fresh_postgres_database: str, tmp_path: Path) -> AsyncIterator[FleetFactory]:
    """Start `n` bot processes behind HAProxy on a fresh PostgreSQL database;
    `extra_env` is added to every process's environment."""
    try:
        find_haproxy()
    except HaproxyNotFound as error:
        if os.environ.get("CI"):
            pytest.fail(f"CI must run the HA tests: {error}")
        pytest.skip(str(error))
    made: list[Fleet] = []
    api = FakeBotApi(DEFAULT_TOKEN)
    await api.start("127.0.0.1", 0)
    session = aiohttp.ClientSession()

    async def start(n: int = 3, extra_env: dict[str, str] | None = None) -> Fleet:
        bots = []
        for index in range(1, n + 1):
            webhook, ops = free_port(), free_port()
            env = bot_env(fresh_postgres_database, api, webhook, ops, tmp_path / f"bot{index}")
            env.update(extra_env or {})
            bots.append(BotProcess(f"bot{index}", webhook, ops, env, tmp_path / f"bot{index}.log"))
        proxy = ReverseProxy(tmp_path, [bot.backend for bot in bots])
        proxy.start()
        api.route_webhook(PUBLIC, proxy.url)
        built = Fleet(api, proxy, bots, fresh_postgres_database, session, tmp_path)
        made.append(built)
        for bot in bots:
            bot.start()
        await built.started(*bots)
        return built

    try:
        yield start
    finally:
        for built in made:
            for bot in built.bots:
                if bot.alive():
                    bot.signal(signal.SIGTERM)
            for bot in built.bots:
                if bot.process is not None:
                    with contextlib.suppress(AssertionError):
                        await bot.exited(20)
                    if bot.alive():
                        bot.signal(signal.SIGKILL)
            built.proxy.stop()
        await session.close()
        await api.stop()
