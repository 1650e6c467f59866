"""Simulated residents, driven inside the fake server's process.

The driver calls the fake's injection methods directly (the same ones the `/_control` HTTP
routes call), and learns of each reply from a hook on the fake's call log. Injection time and
reply time are therefore read from one clock, the fake's `time.monotonic()`, and the fake's
core is not spent on control requests. A reply is the first `sendMessage` or `edit...` call
for the resident's chat after the update was injected, timed when its request arrived.
"""

from __future__ import annotations

import asyncio
import random
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from testkit.fakebotapi.server import FakeBotApi
from testkit.fakebotapi.state import CallRecord

REPLY_METHODS = frozenset({"sendMessage", "editMessageText", "editMessageReplyMarkup"})
# The flow: a text, then the buttons of each question; payloads are "v<version>:<step>:<v>".
STEPS = ("kind", "field", "anon", "confirm")
TEXT = "Mehr Sprachkurse am Abend, bitte. Viele arbeiten tagsüber."
REPLY_TIMEOUT = 15.0


class BenchApi(FakeBotApi):
    """The fake Bot API, telling waiting residents when the bot answered their chat."""

    def __init__(self, token: str) -> None:
        super().__init__(token, limits=False)
        self.waiters: dict[int, asyncio.Future[CallRecord]] = {}
        self.unexpected = 0

    def _record(self, *args: Any, **kwargs: Any) -> None:
        super()._record(*args, **kwargs)
        record = self.sent_log[-1]
        if record.method not in REPLY_METHODS or not isinstance(record.chat_id, int):
            return
        waiter = self.waiters.pop(record.chat_id, None)
        if waiter is None or waiter.done():
            self.unexpected += 1
        else:
            waiter.set_result(record)


class FlowError(Exception):
    """The bot answered something the flow does not expect."""


@dataclass
class Resident:
    user_id: int
    rng: random.Random
    step: int = 0  # 0: send the text; 1..4: press a button of STEPS[step - 1]
    message_id: int = 0
    buttons: list[str] = field(default_factory=list)
    flows: int = 0


@dataclass
class Sample:
    done: float  # server clock when the reply arrived
    latency: float


@dataclass
class Tally:
    """What one phase measured, on the fake server's clock."""

    samples: list[Sample] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    missed: int = 0  # rate mode: arrivals that found no idle resident

    def window(self, start: float, end: float) -> list[float]:
        return [s.latency for s in self.samples if start <= s.done < end]


async def step(api: BenchApi, resident: Resident) -> Sample:
    """Send the resident's next update and wait for the bot's answer to it."""
    uid = resident.user_id
    waiter: asyncio.Future[CallRecord] = asyncio.get_running_loop().create_future()
    api.waiters[uid] = waiter
    start = api.clock()
    if resident.step == 0:
        api.inject_text(uid, TEXT)
    else:
        api.press_button(uid, resident.message_id, choose(resident))
    try:
        record = await asyncio.wait_for(waiter, REPLY_TIMEOUT)
    except TimeoutError:
        api.waiters.pop(uid, None)
        at, resident.step = resident.step, 0  # start over with a fresh text
        raise FlowError(f"no reply within {REPLY_TIMEOUT:.0f}s at step {at}") from None
    check(api, resident, record)
    return Sample(record.t, record.t - start)


def choose(resident: Resident) -> str:
    if STEPS[resident.step - 1] == "confirm":
        return next(b for b in resident.buttons if b.endswith(":send"))
    return resident.rng.choice(resident.buttons)


def check(api: BenchApi, resident: Resident, record: CallRecord) -> None:
    """Follow the reply to the next step, or raise FlowError (and start the flow over)."""
    expected = "sendMessage" if resident.step == 0 else "editMessageText"
    message = api.bot_message(resident.user_id, record.message_id or 0)
    problem = ""
    if record.status != 200 or record.method != expected or message is None:
        problem = f"{record.method} {record.status} {record.description or ''}"
    elif resident.step < len(STEPS):
        wanted = f":{STEPS[resident.step]}:"
        if not message.callback_data or wanted not in message.callback_data[0]:
            problem = f"expected {wanted} buttons, got {message.callback_data[:1]}"
    elif message.callback_data or "F-" not in (message.text or ""):
        problem = f"expected a reference, got {(message.text or '')[:60]!r}"
    if problem:
        at, resident.step = resident.step, 0
        raise FlowError(f"step {at}: {problem}")
    assert message is not None
    resident.message_id, resident.buttons = message.message_id, message.callback_data
    resident.step = (resident.step + 1) % (len(STEPS) + 1)
    resident.flows += resident.step == 0


async def _one(api: BenchApi, resident: Resident, tally: Tally) -> None:
    try:
        tally.samples.append(await step(api, resident))
    except FlowError as error:
        tally.errors.append(str(error))


async def saturate(api: BenchApi, residents: list[Resident], seconds: float) -> Tally:
    """Every resident runs the flow again and again, one update in flight each."""
    tally = Tally()
    end = api.clock() + seconds

    async def run(resident: Resident) -> None:
        while api.clock() < end:
            await _one(api, resident, tally)

    await asyncio.gather(*(run(r) for r in residents))
    return tally


async def at_rate(
    api: BenchApi, residents: list[Resident], rate: float, seconds: float, seed: int = 1
) -> Tally:
    """Open loop: updates arrive at `rate` a second (Poisson), each from an idle resident."""
    tally = Tally()
    idle = deque(residents)
    rng = random.Random(seed)
    pending: set[asyncio.Task[None]] = set()

    async def run(resident: Resident) -> None:
        await _one(api, resident, tally)
        idle.append(resident)

    now = api.clock()
    end, due = now + seconds, now
    while True:
        due += rng.expovariate(rate)
        if due >= end:
            break
        delay = due - api.clock()
        if delay > 0:
            await asyncio.sleep(delay)
        if not idle:
            tally.missed += 1
            continue
        task = asyncio.create_task(run(idle.popleft()))
        pending.add(task)
        task.add_done_callback(pending.discard)
    await asyncio.gather(*pending)
    return tally


def add_residents(api: BenchApi, count: int, seed: int = 7) -> list[Resident]:
    residents = []
    for n in range(count):
        user = api.add_user(f"Resident {n}", user_id=500_000_000 + n, language_code="de")
        residents.append(Resident(user.id, random.Random(seed * 1_000_003 + n)))
    return residents
