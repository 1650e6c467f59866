"""Telegram intake on one PostgreSQL with 1, 2 and 3 bot processes behind HAProxy.

    python -m bench.ha_intake --residents 200 --duration 15

Each round starts a fresh database on one throw-away PostgreSQL (testkit/pgserver.py), HAProxy
in front of N `mitreden run` processes in webhook mode (testkit/haproxy.py, README's
configuration), and the fake Bot API with the simulated residents in this process
(bench/intake_driver.py: every resident runs the whole feedback flow with buttons, one update
in flight each). The fake pushes updates to HAProxy as Telegram pushes them to the city's
proxy: a chat's next update once the previous one was answered, up to 40 chats at once. Each
bot stores what it receives in the shared inbox and handles each chat's line in order
(bot/channels/telegram/inbox.py).

Printed per round: updates a second over the measured window, latency from injecting an
update to the bot's answer, CPU per update of the bots together and of PostgreSQL (its
postmaster and every backend, from /proc), HAProxy's and this process's share; then the
ratios 2/1 and 3/1 of the throughput (target: 2 processes at least 1.7× one). On a machine
with few cores the bots, PostgreSQL, HAProxy and the fake share them: the figures say how
much of the machine each used, so that a ratio below the target can be read as "out of
cores" or "held up by coordination".
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import signal
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import asyncpg

from bench.intake_driver import BenchApi, Tally, add_residents, saturate
from bench.measure import TICK, bot_cpu_seconds, own_cpu_seconds, percentile
from storage.locks import asyncpg_dsn
from testkit.haproxy import PUBLIC, Backend, ReverseProxy, bot_process_env, free_port
from testkit.pgserver import TemporaryPostgres

REPO = Path(__file__).resolve().parent.parent
TOKEN = "123456789:AAFakeTokenForBenchmarksOnly_abcdefg"
SECRET = "bench-Secret"
TARGET_RATIO = 1.7  # 2 processes at least this × 1 process (issue 21)
START_SECONDS = 90.0


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.ha_intake",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--residents", type=int, default=200, help="concurrent residents")
    parser.add_argument("--duration", type=float, default=15.0, help="seconds measured a round")
    parser.add_argument("--warmup", type=float, default=3.0, help="seconds before measuring")
    parser.add_argument(
        "--processes", default="1,2,3", help="the rounds: bot processes behind the proxy"
    )
    parser.add_argument(
        "--balance",
        choices=("chat", "roundrobin"),
        default="chat",
        help="HAProxy sends a chat's updates to one bot (README's configuration), or each "
        "update to the next bot (a chat's consecutive updates then always meet two processes)",
    )
    return parser.parse_args(argv)


def children_cpu_seconds(parent: int) -> dict[int, float]:
    """CPU seconds of `parent` and each of its live children, by pid (PostgreSQL's backends
    are the postmaster's children)."""
    found: dict[int, float] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                fields = stat.read().rpartition(")")[2].split()
        except OSError:
            continue
        pid = int(entry)
        if pid == parent or int(fields[1]) == parent:
            found[pid] = (int(fields[11]) + int(fields[12])) / TICK
    return found


@dataclass
class Sample:
    bots: float
    postgres: dict[int, float]
    proxy: float
    here: float


@dataclass
class Round:
    processes: int
    updates: int
    seconds: float
    latencies_ms: list[float]
    errors: int
    cpu_bots: float
    cpu_postgres: float
    cpu_proxy: float
    cpu_here: float

    @property
    def rate(self) -> float:
        return self.updates / self.seconds

    def per_update_ms(self, seconds: float) -> float:
        return 1000 * seconds / max(self.updates, 1)

    def core_share(self, seconds: float) -> float:
        return 100 * seconds / self.seconds


def bot_env(
    database_url: str, api: BenchApi, webhook: int, ops: int, data: Path
) -> dict[str, str]:
    # Simulated residents answer at machine speed: no pace, no flood guard in the way (the
    # guard still runs on every update), as bench/intake_bot.py.
    return bot_process_env(
        database_url,
        token=TOKEN,
        base_url=api.base_url,
        base_file_url=api.base_file_url,
        webhook_port=webhook,
        ops_port=ops,
        data_dir=data,
        secret=SECRET,
        MITREDEN_TELEGRAM_PRIVATE_CHAT_PER_SECOND="100000",
        MITREDEN_TELEGRAM_BROADCAST_PER_SECOND="100000",
        MITREDEN_BOT_FLOOD_MESSAGES_PER_MINUTE="1000000",
    )


async def create_database(server: TemporaryPostgres, name: str) -> str:
    admin = await asyncpg.connect(asyncpg_dsn(server.url))
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    return server.url.rsplit("/", 1)[0] + f"/{name}"


def tail(log: Path) -> str:
    return log.read_text(errors="replace")[-3000:]


def spawn(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """`mitreden run`, as an administrator starts it, its output into `log`."""
    with log.open("wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "bot", "--config", "config.example.toml", "run"],
            cwd=REPO,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


async def ready(port: int, process: subprocess.Popen[bytes], log: Path) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + START_SECONDS
    while True:
        if process.poll() is not None:
            raise SystemExit(f"a bot exited while starting:\n{tail(log)}")
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(b"GET /readyz HTTP/1.0\r\n\r\n")
            await writer.drain()
            answer = await reader.read()
            writer.close()
            if answer.startswith(b"HTTP/1.1 200") or answer.startswith(b"HTTP/1.0 200"):
                return
        except OSError:
            pass
        if loop.time() > deadline:
            raise SystemExit(f"a bot did not get ready:\n{tail(log)}")
        await asyncio.sleep(0.1)


def sample(bots: list[subprocess.Popen[bytes]], postmaster: int, proxy: int) -> Sample:
    return Sample(
        bots=sum(bot_cpu_seconds(b.pid) for b in bots),
        postgres=children_cpu_seconds(postmaster),
        proxy=bot_cpu_seconds(proxy),
        here=own_cpu_seconds(),
    )


async def one_round(
    args: argparse.Namespace, server: TemporaryPostgres, processes: int, work: Path
) -> Round:
    database_url = await create_database(server, f"bench_{processes}")
    api = BenchApi(TOKEN)
    await api.start("127.0.0.1", 0)
    residents = add_residents(api, args.residents)
    ports = [(free_port(), free_port()) for _ in range(processes)]
    backends = [Backend(f"bot{n}", w, o) for n, (w, o) in enumerate(ports, 1)]
    proxy = ReverseProxy(work, backends, balance=args.balance)
    proxy.start()
    api.route_webhook(PUBLIC, proxy.url)
    bots: list[subprocess.Popen[bytes]] = []
    logs = [work / f"bot{processes}-{n}.log" for n in range(1, processes + 1)]
    try:
        for (webhook, ops), log in zip(ports, logs, strict=True):
            bots.append(spawn(bot_env(database_url, api, webhook, ops, work / log.stem), log))
            if len(bots) == 1:  # the first migrates the new database; the others after it
                await ready(ops, bots[0], log)
        for (_, ops), bot, log in zip(ports, bots, logs, strict=True):
            await ready(ops, bot, log)
        for _ in range(int(START_SECONDS / 0.05)):  # until the leader registered the webhook
            if api.webhook_url:
                break
            await asyncio.sleep(0.05)
        else:
            raise SystemExit("no process registered the webhook")
        postmaster = int((server.datadir / "postmaster.pid").read_text().split()[0])
        assert proxy.pid is not None
        load = asyncio.ensure_future(
            saturate(api, residents, args.warmup + args.duration + args.warmup)
        )
        await asyncio.sleep(args.warmup)
        start, before = api.clock(), sample(bots, postmaster, proxy.pid)
        await asyncio.sleep(args.duration)
        end, after = api.clock(), sample(bots, postmaster, proxy.pid)
        tally: Tally = await load
    finally:
        for bot in bots:
            bot.send_signal(signal.SIGTERM)
        for bot in bots:
            try:
                bot.wait(30)
            except subprocess.TimeoutExpired:
                bot.kill()
                bot.wait()
        proxy.stop()
        await api.stop()
    window = tally.window(start, end)
    postgres = sum(
        seconds - before.postgres.get(pid, 0.0) for pid, seconds in after.postgres.items()
    )
    errors = len(tally.errors) + api.unexpected
    if errors:
        print(f"  errors: {sorted(set(tally.errors))[:5]}; unexpected replies {api.unexpected}")
        print(f"  bot log tail:\n{tail(logs[0])}")
    return Round(
        processes,
        len(window),
        end - start,
        sorted(1000 * v for v in window),
        errors,
        after.bots - before.bots,
        postgres,
        after.proxy - before.proxy,
        after.here - before.here,
    )


def report(rounds: list[Round]) -> str:
    lines = []
    for r in rounds:
        lat = r.latencies_ms
        lines += [
            f"{r.processes} process(es): {r.rate:,.0f} updates/s over {r.seconds:.1f} s "
            f"({r.updates:,} updates, {r.errors} errors)",
            "  latency ms: p50 {:.1f}  p95 {:.1f}  p99 {:.1f}".format(
                *(percentile(lat, q) for q in (0.50, 0.95, 0.99))
            ),
            f"  CPU per update: bots {r.per_update_ms(r.cpu_bots):.2f} ms "
            f"({r.core_share(r.cpu_bots):.0f}% of a core), PostgreSQL "
            f"{r.per_update_ms(r.cpu_postgres):.2f} ms ({r.core_share(r.cpu_postgres):.0f}%), "
            f"HAProxy {r.per_update_ms(r.cpu_proxy):.2f} ms "
            f"({r.core_share(r.cpu_proxy):.0f}%), fake + residents "
            f"{r.per_update_ms(r.cpu_here):.2f} ms ({r.core_share(r.cpu_here):.0f}%)",
        ]
        used = r.cpu_bots + r.cpu_postgres + r.cpu_proxy + r.cpu_here
        lines.append(
            f"  the machine: {100 * used / r.seconds:.0f}% of {os.cpu_count()} cores' "
            f"{100 * (os.cpu_count() or 1)}% in use by these"
        )
    by = {r.processes: r for r in rounds}
    if 1 in by:
        one = by[1]
        bot_ms = one.per_update_ms(one.cpu_bots)
        total_ms = one.per_update_ms(
            one.cpu_bots + one.cpu_postgres + one.cpu_proxy + one.cpu_here
        )
        cores = os.cpu_count() or 1
        for n in sorted(by):
            if n == 1:
                continue
            ratio = by[n].rate / max(one.rate, 1e-9)
            verdict = ""
            if n == 2:
                met = "met" if ratio >= TARGET_RATIO else "NOT met"
                verdict = f" (target ≥ {TARGET_RATIO}×: {met})"
            # What n processes could do at one process's CPU per update: each bot a core
            # of its own, unless the machine's cores run out first (everything shares them).
            ceiling = min(n * 1000 / bot_ms, cores * 1000 / total_ms) / max(one.rate, 1e-9)
            lines.append(
                f"throughput {n}/1 processes: {ratio:.2f}×{verdict}; this machine's ceiling "
                f"{ceiling:.2f}× ({cores} cores shared by the bots ({bot_ms:.2f} ms/update), "
                f"PostgreSQL, HAProxy and the fake: {total_ms:.2f} ms/update in all)"
            )
    return "\n".join(lines)


async def run(args: argparse.Namespace) -> int:
    counts = [int(n) for n in args.processes.split(",")]
    print(
        f"HA Telegram intake — PostgreSQL (same machine), HAProxy balancing by "
        f"{args.balance}, {args.residents} residents, "
        f"Python {platform.python_version()}, {os.cpu_count()} CPUs, load average "
        f"{os.getloadavg()[0]:.2f}"
    )
    rounds = []
    with TemporaryPostgres() as server, tempfile.TemporaryDirectory(prefix="mitreden-ha-") as tmp:
        for processes in counts:
            work = Path(tmp) / f"round-{processes}"
            work.mkdir()
            rounds.append(await one_round(args, server, processes, work))
            print(report(rounds[-1:]), flush=True)
    print("\n" + report(rounds))
    return 1 if any(r.errors for r in rounds) else 0


def main(argv: list[str] | None = None) -> int:
    return asyncio.run(run(parse_args(argv)))


if __name__ == "__main__":
    raise SystemExit(main())
