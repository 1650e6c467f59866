"""`mitreden run` killed with SIGKILL in the middle of a broadcast, then started again.

The fake Bot API server runs as its own process and survives the crash; its log is the
witness: every queued message arrives, and at most one per delivery worker arrives twice
(the send that was in flight when the process died). Then SIGTERM stops the bot cleanly.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import select

from handlers.messages import Platform
from storage.db import Database
from storage.models import OutboxMessage
from storage.outbox import NewMessage, OutboxStore
from storage.schema import upgrade_to_head
from testkit.fakebotapi import DEFAULT_TOKEN
from testkit.support import DEFAULT_NOW, EXAMPLE_CONFIG, ROOT

pytestmark = pytest.mark.e2e

MESSAGES = 300
WORKERS = 4


class FakeServer:
    def __init__(self, process: subprocess.Popen[str], url: str) -> None:
        self.process = process
        self.url = url
        self.log: list[dict[str, Any]] = []

    def call(self, path: str, body: dict[str, Any] | None = None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(
            f"{self.url}/_control/{path}",
            data=data,
            headers={"Content-Type": "application/json"},
            method="POST" if body is not None else "GET",
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read())["result"]

    def poll_log(self) -> list[dict[str, Any]]:
        """Fetch the records added since the last poll."""
        page = self.call(f"log?since={len(self.log)}")
        self.log.extend(page["records"])
        return self.log

    def delivered(self) -> Counter[str]:
        return Counter(
            r["text"] for r in self.log if r["method"] == "sendMessage" and r["status"] == 200
        )


@pytest.fixture
def fake_server() -> Iterator[FakeServer]:
    process = subprocess.Popen(
        [sys.executable, "-m", "testkit.fakebotapi", "--port", "0", "--limits", "off"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert line.startswith("fakebotapi listening on "), line
        yield FakeServer(process, line.split()[-1])
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


class BotProcess:
    def __init__(self, env: dict[str, str], log_path: Path) -> None:
        self.env = env
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "bot", "--config", str(EXAMPLE_CONFIG), "run"],
                cwd=ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def signal(self, signum: int) -> None:
        assert self.process is not None
        self.process.send_signal(signum)

    def wait(self, timeout: float) -> int:
        assert self.process is not None
        return self.process.wait(timeout)

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")


async def prepare_database(url: str, chats: list[int]) -> None:
    db = Database(url)
    try:
        await upgrade_to_head(db)
        await OutboxStore(db).enqueue(
            [
                NewMessage(
                    f"crash-{n:03d}",
                    Platform.TELEGRAM,
                    str(chat),
                    {"text": f"crash-{n:03d}"},
                    DEFAULT_NOW,
                )
                for n, chat in enumerate(chats)
            ],
            DEFAULT_NOW,
        )
    finally:
        await db.dispose()


async def outbox_states(url: str) -> Counter[str]:
    db = Database(url)
    try:
        states = await db.run(lambda session: session.exec(select(OutboxMessage.state)).all())
    finally:
        await db.dispose()
    return Counter(states)


def wait_for(condition: Any, what: str, within: float, bot: BotProcess) -> Any:
    deadline = time.monotonic() + within
    while True:
        value = condition()
        if value:
            return value
        if not bot.alive():
            raise AssertionError(f"the bot exited while waiting for {what}:\n{bot.output()}")
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {within}s waiting for {what}:\n{bot.output()}")
        time.sleep(0.01)


def prepare(server: FakeServer, tmp_path: Path) -> tuple[list[int], str, dict[str, str]]:
    """Users in the fake, a database with one queued message each, the bot's environment."""
    chats = [server.call("add_user", {"first_name": f"R{n}"})["id"] for n in range(MESSAGES)]
    url = f"sqlite+aiosqlite:///{tmp_path}/crash.db"
    asyncio.run(prepare_database(url, chats))
    env = {k: v for k, v in os.environ.items() if not k.startswith("MITREDEN_")}
    env.update(
        MITREDEN_TELEGRAM_TOKEN=DEFAULT_TOKEN,
        MITREDEN_TELEGRAM_BASE_URL=f"{server.url}/bot",
        MITREDEN_TELEGRAM_BASE_FILE_URL=f"{server.url}/file/bot",
        MITREDEN_DATABASE_URL=url,
        MITREDEN_TELEGRAM_BROADCAST_PER_SECOND="100",
        MITREDEN_DELIVERY_CLAIM_LEASE_SECONDS="2",
        MITREDEN_DELIVERY_WORKERS=str(WORKERS),
    )
    return chats, url, env


def test_sigkill_loses_nothing_and_repeats_at_most_one_message_per_worker(
    fake_server: FakeServer, tmp_path: Path
) -> None:
    chats, url, env = prepare(fake_server, tmp_path)
    bot = BotProcess(env, tmp_path / "bot.log")
    try:
        bot.start()
        wait_for(
            lambda: (
                sum(fake_server.poll_log() and fake_server.delivered().values()) >= MESSAGES // 3
            ),
            "a third of the broadcast",
            within=20,
            bot=bot,
        )
        bot.signal(signal.SIGKILL)
        assert bot.wait(5) == -signal.SIGKILL
        at_kill = sum(fake_server.delivered().values())
        assert at_kill < MESSAGES, "the broadcast finished before the crash; slow it down"

        bot.start()
        wait_for(
            lambda: fake_server.poll_log() and len(fake_server.delivered()) == MESSAGES,
            "every message after the restart",
            within=25,
            bot=bot,
        )
        wait_for(
            lambda: asyncio.run(outbox_states(url)) == Counter({"sent": MESSAGES}),
            "every outbox row marked sent",
            within=5,
            bot=bot,
        )
        time.sleep(0.3)
        fake_server.poll_log()
        delivered = fake_server.delivered()
        assert set(delivered) == {f"crash-{n:03d}" for n in range(MESSAGES)}  # no loss
        repeated = {text: n for text, n in delivered.items() if n > 1}
        assert sum(n - 1 for n in repeated.values()) <= WORKERS, repeated
        for n, chat in enumerate(chats):
            got = [
                r["text"]
                for r in fake_server.log
                if r["chat_id"] == chat and r["method"] == "sendMessage"
            ]
            assert f"crash-{n:03d}" in got

        bot.signal(signal.SIGTERM)
        assert bot.wait(10) == 0, bot.output()
        assert "stopped" in bot.output()
    finally:
        if bot.alive():
            with contextlib.suppress(ProcessLookupError):
                bot.signal(signal.SIGKILL)
            bot.wait(5)


async def outbox_rows(url: str) -> list[tuple[str, str, str | None]]:
    db = Database(url)
    try:
        query = select(
            OutboxMessage.idempotency_key, OutboxMessage.state, OutboxMessage.claimed_by
        )
        return await db.run(lambda session: [tuple(row) for row in session.exec(query).all()])
    finally:
        await db.dispose()


def test_sigterm_mid_broadcast_finishes_sends_in_flight_and_gives_back_the_rest(
    fake_server: FakeServer, tmp_path: Path
) -> None:
    _, url, env = prepare(fake_server, tmp_path)
    bot = BotProcess(env, tmp_path / "bot.log")
    try:
        bot.start()
        wait_for(
            lambda: (
                sum(fake_server.poll_log() and fake_server.delivered().values()) >= MESSAGES // 3
            ),
            "a third of the broadcast",
            within=20,
            bot=bot,
        )
        # Slow answers, as from the real Telegram, so that sends are in flight at SIGTERM.
        fake_server.call("hang_next", {"n": 2 * WORKERS, "seconds": 0.5, "method": "sendMessage"})
        time.sleep(0.1)
        bot.signal(signal.SIGTERM)
        assert bot.wait(10) == 0, bot.output()
    finally:
        if bot.alive():
            bot.signal(signal.SIGKILL)
            bot.wait(5)
    output = bot.output()
    assert "stopped" in output
    assert "unexpectedly" not in output, output
    fake_server.poll_log()
    delivered = fake_server.delivered()
    assert len(delivered) < MESSAGES
    assert max(delivered.values()) == 1
    stored = asyncio.run(outbox_rows(url))
    sent = {key for key, state, _ in stored if state == "sent"}
    assert sent == set(delivered)  # every send that went out is recorded
    rest = [(key, state, claimed) for key, state, claimed in stored if key not in sent]
    assert rest and all(state == "pending" and claimed is None for _, state, claimed in rest)
