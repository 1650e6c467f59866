"""Process figures from /proc (no psutil) and latency percentiles."""

from __future__ import annotations

import argparse
import math
import os
import resource
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

TICK = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class Cpu:
    """CPU seconds (user + system, every thread) of the bot and of this process."""

    bot: float
    here: float


def bot_cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / TICK  # utime, stime


def own_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def cpu(pid: int) -> Cpu:
    return Cpu(bot_cpu_seconds(pid), own_cpu_seconds())


def peak_rss_mb(pid: int) -> float:
    """The process's high-water mark of resident memory (VmHWM), in MiB."""
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def percentile(sorted_values: list[float], share: float) -> float:
    """Nearest-rank percentile of already sorted values; NaN when there are none."""
    if not sorted_values:
        return float("nan")
    rank = max(1, min(len(sorted_values), math.ceil(share * len(sorted_values))))
    return sorted_values[rank - 1]


# One engine's run: (engine name, database URL, SQLite file or None, the parsed arguments).
EngineRun = Callable[[str, str, "Path | None", argparse.Namespace], Awaitable[None]]


async def on_each_engine(run_engine: EngineRun, args: argparse.Namespace, prefix: str) -> None:
    """`run_engine` on each of `args.engines` ("sqlite,postgres"): SQLite in a temporary
    directory, PostgreSQL on a throw-away server (skipped with a note when none is installed);
    then the total time and the load average, which inflates the tails."""
    started = time.perf_counter()
    for engine in args.engines.split(","):
        if engine == "sqlite":
            with tempfile.TemporaryDirectory(prefix=prefix) as tmp:
                path = Path(tmp) / "bench.db"
                await run_engine(engine, f"sqlite+aiosqlite:///{path}", path, args)
        elif engine == "postgres":
            from testkit.pgserver import PostgresNotFound, TemporaryPostgres

            try:
                server = TemporaryPostgres()
            except PostgresNotFound as error:
                print(f"\n== postgres: skipped, {error}")
                continue
            with server:
                await run_engine(engine, server.url, None, args)
        else:
            raise SystemExit(f"unknown engine {engine!r}; use sqlite and/or postgres")
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(
        f"\ntotal {time.perf_counter() - started:.0f} s on {os.cpu_count()} CPU(s); "
        f"load average at the end {load} (other processes' load inflates the tails)"
    )
