"""The broadcast benchmark's hands and eyes: the fake Bot API as a process, and its call log.

The fake runs in its own process (`python -m testkit.fakebotapi --limits on`), so its CPU is
neither the bot's nor the driver's and can be watched for being the bottleneck. The driver
only talks to it over `/_control`: users are created there, residents' texts injected there,
and every figure is computed from its call log, the one place that sees what Telegram would
see. Injection times are taken with `time.monotonic()` just before the request; the fake stamps
its log with the same system-wide monotonic clock, so reply latency needs no clock mapping.
"""

from __future__ import annotations

import asyncio
import random
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

REPO = Path(__file__).resolve().parent.parent
CONTROL_CONCURRENCY = 64
RESIDENT_TEXT = "Wann gibt es die Unterlagen zum Runden Tisch? Ich lese sie gern vorher."


@dataclass(frozen=True, slots=True)
class Send:
    """One logged Bot API call, reduced to what the figures need."""

    t: float
    method: str
    chat_id: int | None
    status: int


class FakeServer:
    """The fake Bot API process and a client for its control routes."""

    def __init__(self, token: str) -> None:
        self.token = token
        self.url = ""
        self.process: asyncio.subprocess.Process | None = None
        self._http: aiohttp.ClientSession | None = None
        self._since = 0

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    async def start(self) -> None:
        self.process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "testkit.fakebotapi",
            "--port",
            "0",
            "--token",
            self.token,
            "--limits",
            "on",
            cwd=REPO,
            stdout=asyncio.subprocess.PIPE,
        )
        assert self.process.stdout is not None
        line = (await asyncio.wait_for(self.process.stdout.readline(), 30)).decode()
        if "listening on " not in line:
            raise SystemExit(f"the fake Bot API did not start: {line!r}")
        self.url = line.split("listening on ", 1)[1].strip()
        self._http = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=CONTROL_CONCURRENCY)
        )

    async def stop(self) -> None:
        if self._http is not None:
            await self._http.close()
        if self.process is not None and self.process.returncode is None:
            self.process.terminate()
            await self.process.wait()

    async def control(self, action: str, **kwargs: Any) -> Any:
        assert self._http is not None
        async with self._http.post(f"{self.url}/_control/{action}", json=kwargs) as response:
            body = await response.json()
        if not body.get("ok"):
            raise RuntimeError(f"/_control/{action}: {body.get('description')}")
        return body["result"]

    async def add_users(self, user_ids: list[int], name: str) -> None:
        gate = asyncio.Semaphore(CONTROL_CONCURRENCY)

        async def add(user_id: int) -> None:
            async with gate:
                await self.control("add_user", first_name=f"{name}{user_id}", user_id=user_id)

        await asyncio.gather(*(add(u) for u in user_ids))

    async def fresh_log(self) -> None:
        """Forget the previous side: its calls, counters and flood-limit history."""
        await self.control("reset_log")
        await self.control("clear_faults")
        await self.control("set_limits", enabled=True)
        self._since = 0

    async def new_calls(self) -> list[Send]:
        """The calls logged since the previous look."""
        assert self._http is not None
        async with self._http.get(
            f"{self.url}/_control/log", params={"since": str(self._since)}
        ) as response:
            result = (await response.json())["result"]
        self._since = result["next"]
        return [
            Send(
                r["t"],
                r["method"],
                r["chat_id"] if isinstance(r["chat_id"], int) else None,
                r["status"],
            )
            for r in result["records"]
        ]


@dataclass
class CallLog:
    """Everything the fake logged for one side, read incrementally while it runs."""

    recipients: range
    calls: list[Send] = field(default_factory=list)
    served: set[int] = field(default_factory=set)
    answered_at: dict[int, float] = field(default_factory=dict)  # chat -> last message
    last_progress: float = field(default_factory=time.monotonic)

    def add(self, calls: list[Send]) -> None:
        self.calls += calls
        before = len(self.served)
        for c in calls:
            if c.method == "sendMessage" and c.status == 200 and c.chat_id is not None:
                if c.chat_id in self.recipients:
                    self.served.add(c.chat_id)
                else:
                    self.answered_at[c.chat_id] = c.t
        if len(self.served) > before:
            self.last_progress = time.monotonic()

    @property
    def polling(self) -> bool:
        """PTB's updater deletes the webhook right before its first getUpdates, which the fake
        logs only when that long poll returns."""
        return any(c.method in ("deleteWebhook", "getUpdates") for c in self.calls)

    @property
    def complete(self) -> bool:
        return len(self.served) == len(self.recipients)


class Residents:
    """Residents writing to the bot while it broadcasts: texts arrive as a Poisson stream.

    Each goes to a resident who is not waiting for an answer and whose last answer is at least
    `SETTLE` seconds old, as people wait for the bot before writing again. So every message
    the bot sends a resident between two of their texts answers the earlier one, however many
    messages an answer has; an arrival finding nobody free is counted in `skipped`.
    """

    SETTLE = 3.0

    def __init__(
        self, fake: FakeServer, log: CallLog, user_ids: list[int], every: float, seed: int
    ) -> None:
        self.fake = fake
        self.log = log
        self.user_ids = user_ids
        self.every = every
        self.rng = random.Random(seed)
        self.sent: list[tuple[int, float]] = []  # (chat, injected at)
        self.last: dict[int, float] = {}
        self.skipped = 0
        self.errors: list[str] = []

    def _free(self, user_id: int, now: float) -> bool:
        wrote = self.last.get(user_id)
        answered = self.log.answered_at.get(user_id, -1.0)
        return wrote is None or (answered >= wrote and now - answered >= self.SETTLE)

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await asyncio.wait_for(stop.wait(), self.rng.expovariate(1 / self.every))
                return
            except TimeoutError:
                pass
            now = time.monotonic()
            free = [u for u in self.user_ids if self._free(u, now)]
            if not free:
                self.skipped += 1
                continue
            user_id = self.rng.choice(free)
            self.last[user_id] = now
            try:
                await self.fake.control("inject_text", user_id=user_id, text=RESIDENT_TEXT)
                self.sent.append((user_id, now))
            except (RuntimeError, aiohttp.ClientError) as error:
                self.errors.append(str(error))


def reply_latencies(
    injected: list[tuple[int, float]], calls: list[Send], window: tuple[float, float]
) -> tuple[list[float], int, int]:
    """Latency from each text injected within `window` to the last message of its answer.

    The answer to a text is every successful sendMessage to that chat before the resident's
    next text. Returns (sorted latencies, texts, unanswered).
    """
    answers: dict[int, list[float]] = {}
    for call in calls:
        if call.method == "sendMessage" and call.status == 200 and call.chat_id is not None:
            answers.setdefault(call.chat_id, []).append(call.t)
    following: dict[int, float] = {}
    latencies: list[float] = []
    counted = unanswered = 0
    for chat, at in sorted(injected, key=lambda item: -item[1]):
        until = following.get(chat, float("inf"))
        following[chat] = at
        if not window[0] <= at <= window[1]:
            continue
        counted += 1
        mine = [t for t in answers.get(chat, []) if at <= t < until]
        if mine:
            latencies.append(mine[-1] - at)
        else:
            unanswered += 1
    return sorted(latencies), counted, unanswered
