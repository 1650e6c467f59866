"""Exits an operator can rely on (issue 16, item 5): `mitreden run` as a service manager runs
it, in a process of its own, with standard input not a terminal.

A Bot API that cannot be reached at start is tried again with growing pauses, one warning a
try, until it answers or the bot is stopped; a stop at any point ends the bot with exit code
0 and no traceback; nothing to serve ends it at once with code 2 and one line that says why.
The bot's first pause is its real one (1 s): the test waits for no more than that.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from bot.app import App, bootstrap
from bot.channels.telegram.channel import TelegramChannel
from bot.config import Settings
from bot.runtime import run
from testkit.fakebotapi import DEFAULT_TOKEN, FakeBotApi
from testkit.support import EXAMPLE_CONFIG, ROOT

pytestmark = pytest.mark.e2e

WITHIN = 60.0  # seconds for anything the bot must do; the waits end as soon as it has
NOT_REACHABLE = "telegram: Bot API at 127.0.0.1:{port} not reachable"


def closed_port() -> int:
    """A loopback port nothing listens on (yet)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


class Service:
    """`python -m bot --config config.example.toml run`, as systemd starts it:
    standard input /dev/null, the log on standard error."""

    def __init__(self, env: dict[str, str]) -> None:
        self._env = env
        self.process: asyncio.subprocess.Process | None = None
        self.log: list[str] = []

    async def start(self) -> None:
        self.process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot",
            "--config",
            str(EXAMPLE_CONFIG),
            "run",
            cwd=ROOT,
            env=self._env,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )

    async def line_with(self, text: str) -> str:
        """Read the log until a line holds `text`; that line."""
        assert self.process is not None and self.process.stderr is not None
        async with asyncio.timeout(WITHIN):
            while True:
                line = (await self.process.stderr.readline()).decode()
                if not line:
                    raise AssertionError(f"the bot ended before {text!r}:\n{''.join(self.log)}")
                self.log.append(line)
                if text in line:
                    return line

    async def stop(self) -> int:
        """SIGTERM, as `systemctl stop` sends it; the exit code, the rest of the log read."""
        assert self.process is not None and self.process.stderr is not None
        self.process.send_signal(signal.SIGTERM)
        return await self.wait()

    async def wait(self) -> int:
        assert self.process is not None and self.process.stderr is not None
        async with asyncio.timeout(WITHIN):
            self.log.append((await self.process.stderr.read()).decode())
            return await self.process.wait()

    def kill(self) -> None:
        if self.process is not None and self.process.returncode is None:
            self.process.kill()


def service_env(tmp_path: Path, **settings: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MITREDEN_")}
    env |= {
        "MITREDEN_DATA_DIR": str(tmp_path / "data"),
        "MITREDEN_OPS_LISTEN": "",
        **{f"MITREDEN_{key.upper()}": value for key, value in settings.items()},
    }
    return env


def telegram_env(tmp_path: Path, port: int) -> dict[str, str]:
    return service_env(
        tmp_path,
        telegram_token=DEFAULT_TOKEN,
        telegram_base_url=f"http://127.0.0.1:{port}/bot",
        telegram_base_file_url=f"http://127.0.0.1:{port}/file/bot",
    )


async def test_run_with_no_channel_and_no_terminal_stops_with_one_line_and_code_2(
    tmp_path: Path,
) -> None:
    """As under systemd with the token's file missing: not a bot that looks as if it ran."""
    bot = Service(service_env(tmp_path))
    await bot.start()
    try:
        code = await bot.wait()
    finally:
        bot.kill()

    log = "".join(bot.log)
    assert code == 2, log
    assert log.splitlines()[-1] == (
        "mitreden: configuration error: no channel to run: neither a Telegram token "
        "(MITREDEN_TELEGRAM_TOKEN or telegram.token_file) nor a Matrix homeserver "
        "(matrix.homeserver) is configured, and the console channel needs a terminal"
    )
    assert "Traceback" not in log
    assert not (tmp_path / "data").exists()  # it stopped before it touched anything


async def test_a_bot_api_unreachable_at_start_is_tried_again_until_it_answers(
    tmp_path: Path,
) -> None:
    port = closed_port()
    bot = Service(telegram_env(tmp_path, port))
    api = FakeBotApi()
    await bot.start()
    try:
        warning = await bot.line_with(NOT_REACHABLE.format(port=port))
        await api.start("127.0.0.1", port)  # the Bot API comes up while the bot waits
        await bot.line_with("telegram: serving as @")
        anna = api.add_user("Anna")
        api.inject_text(anna.id, "/start")
        async with asyncio.timeout(WITHIN):
            while not api.messages_to(anna.id):  # it serves residents
                assert bot.process is not None and bot.process.returncode is None
                await asyncio.sleep(0.05)
        code = await bot.stop()
    finally:
        bot.kill()
        await api.stop()

    log = "".join(bot.log)
    assert code == 0, log
    assert " WARNING " in warning and warning.rstrip().endswith("trying again in 1 s")
    assert "Traceback" not in log  # one line a try, and a clean stop
    assert log.rstrip().endswith("INFO bot.runtime: stopped")


async def test_a_stop_while_the_bot_api_is_unreachable_ends_the_bot_cleanly(
    tmp_path: Path,
) -> None:
    port = closed_port()
    bot = Service(telegram_env(tmp_path, port))
    await bot.start()
    try:
        await bot.line_with(NOT_REACHABLE.format(port=port))
        code = await bot.stop()  # during the pause before the next try
    finally:
        bot.kill()

    log = "".join(bot.log)
    assert code == 0, log
    assert "Traceback" not in log
    assert log.rstrip().endswith("INFO bot.runtime: stopped")


async def test_a_bot_api_answering_5xx_at_start_is_tried_again_with_one_warning_a_try(
    settings: Settings, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The same in this process, with pauses of hundredths of a second: Telegram's 502."""
    api = FakeBotApi()
    await api.start()
    api.fail_next(2, status=502, method="getMe")
    telegram = replace(
        settings.telegram,
        token=DEFAULT_TOKEN,
        base_url=api.base_url,
        base_file_url=api.base_file_url,
    )
    database = replace(settings.database, url=f"sqlite+aiosqlite:///{tmp_path}/bot.db")

    def channel(app: App) -> TelegramChannel:
        return TelegramChannel(telegram, app, backoff_start=0.01, backoff_cap=0.02)

    wired = await bootstrap(
        replace(settings, telegram=telegram, database=database), channels=[channel]
    )
    stop = asyncio.Event()
    running = asyncio.create_task(run(wired, stop, deliver=False, schedule=False))
    try:
        async with asyncio.timeout(WITHIN):
            while not wired.channels[0].is_ready():
                assert not running.done()
                await asyncio.sleep(0.01)
    finally:
        stop.set()
        await running
        await wired.close()
        await api.stop()

    assert (api.count("getMe", 502), api.count("getMe", 200)) == (2, 1)
    tries = [r for r in caplog.records if "not reachable" in r.getMessage()]
    assert [(r.levelno, r.exc_info) for r in tries] == [(logging.WARNING, None)] * 2
    assert "NetworkError: Bad Gateway" in tries[0].getMessage()
