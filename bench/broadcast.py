"""Broadcast benchmark: an announcement to every recipient under Telegram's flood limits.

    python -m bench.broadcast                      # 10,000 recipients, both sides (~12 min)
    python -m bench.broadcast --recipients 600 --only mitreden

Three processes on loopback: the fake Bot API with Telegram's limits enforced, the bot, and
this driver. Side "mitreden" is the production process (`bot.runtime.serve`: outbox,
`Delivery`, `ChatLimits`, the Telegram channel answering residents); side "ptb" sends the same
messages through python-telegram-bot's `AIORateLimiter`. While each broadcasts, residents write
to the bot, and their answers' latency is measured. The figures come from the fake's call log:
messages a second from the first broadcast message to the last, 429s, duplicates (a recipient
given the announcement more than once), losses (a recipient given none), and reply latency;
CPU and peak memory are the bot process's, read from /proc.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import os
import platform
import signal
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from bench.broadcast_driver import REPO, CallLog, FakeServer, Residents, reply_latencies
from bench.measure import bot_cpu_seconds, peak_rss_mb, percentile

TOKEN = "123456789:AAFakeTokenForBroadcastBenchOnly_xyz"
LIMIT = 30.0  # Telegram's overall messages a second
FIRST_RECIPIENT = 200_000_000
FIRST_RESIDENT = 300_000_000
TEXT = "Einladung zum Runden Tisch am 14. März, 17 Uhr, Rathaus. Anmeldung: /events ({n})"
TARGET_RATIO, TARGET_P99 = 0.95, 1.0
SIDES = {"mitreden": "mitreden outbox", "ptb": "PTB AIORateLimiter"}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.broadcast",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--recipients", type=int, default=10_000)
    parser.add_argument("--only", choices=("mitreden", "ptb", "both"), default="both")
    parser.add_argument("--residents", type=int, default=20, help="residents writing meanwhile")
    parser.add_argument(
        "--reply-every",
        type=float,
        default=2.0,
        help="mean seconds between residents' texts (all residents together)",
    )
    parser.add_argument("--ptb-retries", type=int, default=3, help="AIORateLimiter max_retries")
    parser.add_argument(
        "--ptb-concurrency",
        type=int,
        default=0,
        help="PTB sending tasks (0: one per recipient, as with gather)",
    )
    parser.add_argument("--workers", type=int, default=0, help="mitreden delivery workers")
    parser.add_argument(
        "--latency",
        type=float,
        default=0.0,
        help="seconds the fake holds every sendMessage, as a far server would",
    )
    parser.add_argument("--dump", type=Path, help="write each side's call log here (JSON lines)")
    parser.add_argument(
        "--stall",
        type=float,
        default=60.0,
        help="give up after this many seconds without a new recipient served",
    )
    return parser.parse_args(argv)


@dataclass
class Side:
    """One side's figures."""

    name: str
    log: CallLog
    first: float
    last: float
    sent: Counter[int]
    latencies: list[float]
    texts: int
    unanswered: int
    skipped: int
    bot_cpu: float
    fake_cpu: float
    rss_mb: float
    outcome: str

    @property
    def seconds(self) -> float:
        return max(self.last - self.first, 1e-9)

    @property
    def rate(self) -> float:
        return (sum(self.sent.values()) - 1) / self.seconds if self.sent else 0.0

    @property
    def all_rate(self) -> float:
        """Every message sent in the broadcast's window, the residents' answers included."""
        n = sum(
            1
            for c in self.log.calls
            if c.method == "sendMessage" and c.status == 200 and self.first <= c.t <= self.last
        )
        return (n - 1) / self.seconds if n else 0.0

    @property
    def rate_limited(self) -> int:
        return sum(1 for c in self.log.calls if c.status == 429)

    @property
    def duplicates(self) -> int:
        return sum(n - 1 for n in self.sent.values() if n > 1)

    @property
    def losses(self) -> int:
        return len(self.log.recipients) - len(self.sent)


async def start_bot(
    kind: str, args: argparse.Namespace, url: str, work: Path
) -> asyncio.subprocess.Process:
    common = [
        "--url",
        url,
        "--token",
        TOKEN,
        "--first-chat",
        str(FIRST_RECIPIENT),
        "--recipients",
        str(args.recipients),
        "--text",
        TEXT,
    ]
    if kind == "mitreden":
        command = [
            "-m",
            "bench.broadcast_bot",
            *common,
            "--db",
            str(work / "bench.db"),
            "--workers",
            str(args.workers),
        ]
    else:
        command = [
            "-m",
            "bench.broadcast_ptb",
            *common,
            "--max-retries",
            str(args.ptb_retries),
            "--concurrency",
            str(args.ptb_concurrency),
        ]
    with (work / f"{kind}.log").open("wb") as log:
        return await asyncio.create_subprocess_exec(
            sys.executable, *command, cwd=REPO, stdout=asyncio.subprocess.PIPE, stderr=log
        )


async def collect_lines(bot: asyncio.subprocess.Process, lines: list[str]) -> None:
    assert bot.stdout is not None
    async for raw in bot.stdout:
        lines.append(raw.decode().strip())


async def run_side(kind: str, args: argparse.Namespace, fake: FakeServer, work: Path) -> Side:
    recipients = range(FIRST_RECIPIENT, FIRST_RECIPIENT + args.recipients)
    residents = list(range(FIRST_RESIDENT, FIRST_RESIDENT + args.residents))
    await fake.fresh_log()
    if args.latency > 0:
        await fake.control("hang_next", n=10**9, seconds=args.latency, method="sendMessage")
    await fake.add_users([*recipients, *residents], "R")
    log = CallLog(recipients)
    bot = await start_bot(kind, args, fake.url, work)
    lines: list[str] = []
    reader = asyncio.create_task(collect_lines(bot, lines))
    while not log.polling:  # ready: the bot long-polls (mitreden has filled its outbox)
        if bot.returncode is not None or reader.done():
            raise SystemExit(f"{kind} bot died:\n{(work / f'{kind}.log').read_text()[-3000:]}")
        log.add(await fake.new_calls())
        await asyncio.sleep(0.2)
    cpu0, fake0 = bot_cpu_seconds(bot.pid), bot_cpu_seconds(fake.pid)
    stop = asyncio.Event()
    writing = Residents(fake, log, residents, args.reply_every, seed=7)
    typing = asyncio.create_task(writing.run(stop))
    log.last_progress = time.monotonic()
    while not log.complete and time.monotonic() - log.last_progress < args.stall:
        if bot.returncode is not None or (
            any(x.startswith("done") for x in lines) and time.monotonic() - log.last_progress > 5
        ):
            break
        await asyncio.sleep(1.0)
        log.add(await fake.new_calls())
        if int(time.monotonic()) % 30 == 0:
            print(f"{kind}: {len(log.served):,}/{len(recipients):,} served", file=sys.stderr)
    stop.set()
    await typing
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:  # answers still on their way
        log.add(await fake.new_calls())
        if reply_latencies(writing.sent, log.calls, (0, float("inf")))[2] == 0:
            break
        await asyncio.sleep(0.5)
    cpu1, fake1, rss = bot_cpu_seconds(bot.pid), bot_cpu_seconds(fake.pid), peak_rss_mb(bot.pid)
    if bot.returncode is None:
        bot.send_signal(signal.SIGTERM)
    await bot.wait()
    await reader
    log.add(await fake.new_calls())
    broadcast = [
        c
        for c in log.calls
        if c.method == "sendMessage" and c.status == 200 and c.chat_id in recipients
    ]
    first = broadcast[0].t if broadcast else 0.0
    last = broadcast[-1].t if broadcast else 0.0
    latencies, texts, unanswered = reply_latencies(writing.sent, log.calls, (first, last))
    if args.dump is not None:  # for looking into single calls afterwards
        dump = [json.dumps(dataclasses.asdict(c)) for c in log.calls]
        dump += [json.dumps({"injected": chat, "t": t}) for chat, t in writing.sent]
        args.dump.with_suffix(f".{kind}.jsonl").write_text("\n".join(dump) + "\n")
    outcome = next((x for x in reversed(lines) if x.startswith(("outbox", "done"))), "?")
    sent = Counter(c.chat_id for c in broadcast if c.chat_id is not None)
    return Side(
        SIDES[kind],
        log,
        first,
        last,
        sent,
        latencies,
        texts,
        unanswered,
        writing.skipped,
        cpu1 - cpu0,
        fake1 - fake0,
        rss,
        outcome,
    )


def table(args: argparse.Namespace, sides: list[Side]) -> str:
    def row(label: str, *values: str) -> str:
        return f"{label:<34}" + "".join(f"{v:>22}" for v in values)

    def each(fmt: str, attr: str) -> list[str]:
        return [fmt.format(getattr(s, attr)) for s in sides]

    def ms(share: float | None) -> list[str]:
        out = []
        for s in sides:
            value = (
                s.latencies[-1]
                if share is None and s.latencies
                else percentile(s.latencies, share or 0.0)
            )
            out.append(f"{1000 * value:,.0f} ms" if s.latencies else "-")
        return out

    lines = [
        f"broadcast to {args.recipients:,} recipients, fake Bot API with Telegram's limits; "
        f"{args.residents} residents writing every {args.reply_every:g} s on average; "
        f"Python {platform.python_version()}, {os.cpu_count()} CPUs",
        row("", *(s.name for s in sides)),
        row("broadcast messages/s", *each("{:.2f}", "rate")),
        row("  ratio to 30/s", *[f"{s.rate / LIMIT:.1%}" for s in sides]),
        row("all messages/s (with answers)", *each("{:.2f}", "all_rate")),
        row("  ratio to 30/s", *[f"{s.all_rate / LIMIT:.1%}" for s in sides]),
        row("broadcast duration", *[f"{s.seconds:,.1f} s" for s in sides]),
        row("429s received", *each("{:,}", "rate_limited")),
        row("duplicates", *each("{:,}", "duplicates")),
        row("losses", *each("{:,}", "losses")),
        row(
            "residents' texts (answered)",
            *[f"{s.texts} ({s.texts - s.unanswered})" for s in sides],
        ),
        row("  not written (all waiting)", *each("{:,}", "skipped")),
        row("reply latency p50", *ms(0.50)),
        row("reply latency p95", *ms(0.95)),
        row("reply latency p99", *ms(0.99)),
        row("reply latency max", *ms(None)),
        row(
            "bot CPU (share of a core)",
            *[f"{s.bot_cpu:.1f} s ({s.bot_cpu / s.seconds:.1%})" for s in sides],
        ),
        row("fake server CPU (share)", *[f"{s.fake_cpu / s.seconds:.1%}" for s in sides]),
        row("bot peak RSS", *[f"{s.rss_mb:.0f} MiB" for s in sides]),
    ]
    lines += [f"{s.name}: {s.outcome}" for s in sides]
    for s in sides:
        p99 = percentile(s.latencies, 0.99)
        met = (
            s.all_rate / LIMIT >= TARGET_RATIO
            and s.rate_limited == 0
            and not s.duplicates
            and not s.losses
            and not s.unanswered
            and p99 < TARGET_P99
        )
        lines.append(
            f"{s.name}: target (≥95% of 30/s, 0 429s, 0 duplicates, 0 losses, "
            f"reply p99 < 1 s) {'met' if met else 'NOT met'}"
        )
    return "\n".join(lines)


async def run(args: argparse.Namespace) -> int:
    kinds = ["mitreden", "ptb"] if args.only == "both" else [args.only]
    fake = FakeServer(TOKEN)
    await fake.start()
    sides: list[Side] = []
    with tempfile.TemporaryDirectory(prefix="mitreden-broadcast-") as tmp:
        try:
            for kind in kinds:
                sides.append(await run_side(kind, args, fake, Path(tmp)))
        finally:
            await fake.stop()
    print(table(args, sides))
    return 0


def main(argv: list[str] | None = None) -> int:
    return asyncio.run(run(parse_args(argv)))


if __name__ == "__main__":
    raise SystemExit(main())
