"""What the bot costs at rest: import time, `mitreden --help`, idle memory, beside plain PTB.

    python -m bench.idle              # 5 runs of each timing, ~30 s

Printed: the cumulative import time of `bot.cli.main` (`python -X importtime`, the figure every
`mitreden` command pays before it does anything), the wall time of `mitreden --help`, and the
resident memory (VmRSS) of an idle `mitreden run` — on the console channel
(`config.example.toml`, no credentials) and on Telegram long polling against the fake Bot API
(`testkit.fakebotapi`, in this process) — beside the plain python-telegram-bot bot of
`bench/ptb_baseline_bot.py` idling on the same fake server. Each process is read a few seconds
after it says it serves, with nobody writing to it. Timings are the median and the minimum
of `--runs`; the load average says how busy the machine was.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import pty
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from testkit.fakebotapi import FakeBotApi

REPO = Path(__file__).resolve().parent.parent
MITREDEN = Path(sys.executable).parent / "mitreden"
CONFIG = REPO / "config.example.toml"
TOKEN = "123456789:AAFakeTokenForBenchmarksOnly_abcdefg"
HEAVY = ("matplotlib", "weasyprint", "numpy", "PIL", "fontTools", "openpyxl")  # the report's
START_TIMEOUT = 60.0


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.idle", description=__doc__)
    parser.add_argument("--runs", type=int, default=5, help="timings per figure")
    parser.add_argument(
        "--settle", type=float, default=3.0, help="seconds to wait once a bot serves"
    )
    return parser.parse_args(argv)


def import_ms(module: str) -> float:
    """Cumulative import time of `module` in a fresh interpreter, from `-X importtime`."""
    command = [sys.executable, "-X", "importtime", "-c", f"import {module}"]
    result = _run_checked(command)
    for line in reversed(result.splitlines()):
        # "import time: self [us] | cumulative | imported package"
        parts = line.split("|")
        if len(parts) == 3 and parts[2].strip() == module:
            return int(parts[1]) / 1000
    raise SystemExit(f"no import time for {module} in:\n{result[-2000:]}")


def heavy_after_import(module: str) -> list[str]:
    """Which of the report's heavy libraries `import module` loads."""
    code = f"import sys, {module}; print(' '.join(m for m in {HEAVY!r} if m in sys.modules))"
    output = _run_checked([sys.executable, "-c", code], stream="stdout")
    return output.split()


def help_seconds() -> float:
    started = time.perf_counter()
    _run_checked([str(MITREDEN), "--help"], stream="stdout")
    return time.perf_counter() - started


def _run_checked(command: list[str], stream: str = "stderr") -> str:
    result = subprocess.run(command, cwd=REPO, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{result.stderr[-2000:]}")
    return result.stderr if stream == "stderr" else result.stdout


def rss_mib(pid: int) -> float:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise SystemExit(f"no VmRSS for process {pid}")


async def idle_rss(
    command: list[str], ready: bytes, env: dict[str, str], work: Path, settle: float
) -> float:
    """Start `command`, wait for `ready` in its output, let it settle, read VmRSS, stop it."""
    # A terminal, held open: `mitreden run` talks on the console only to one, and waits there.
    keyboard, terminal = pty.openpty()
    process = await asyncio.create_subprocess_exec(
        *command,
        cwd=work,
        env=env,
        stdin=terminal,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    os.close(terminal)
    assert process.stdout is not None
    output = process.stdout
    seen: list[bytes] = []
    try:
        async with asyncio.timeout(START_TIMEOUT):
            while ready not in (line := await output.readline()):
                if not line:
                    raise SystemExit(f"{command[0]} ended:\n{b''.join(seen[-30:]).decode()}")
                seen.append(line)
        # Keep reading, so that a full pipe never blocks its logging while it idles.
        drain = asyncio.create_task(output.read())
        await asyncio.sleep(settle)
        rss = rss_mib(process.pid)
        await _stop(process, keyboard)
        await drain
        return rss
    finally:
        if process.returncode is None:
            await _stop(process, keyboard)
        os.close(keyboard)


async def _stop(process: asyncio.subprocess.Process, keyboard: int) -> None:
    """End of input (Ctrl+D on the terminal) and SIGTERM: the console channel's reader
    thread, blocked in readline(), only ends with its input."""
    os.write(keyboard, b"\x04")
    process.send_signal(signal.SIGTERM)
    await process.wait()


async def measure_idle(args: argparse.Namespace, work: Path) -> dict[str, float]:
    api = FakeBotApi(TOKEN)
    await api.start("127.0.0.1", 0)
    env = {k: v for k, v in os.environ.items() if not k.startswith("MITREDEN_")}
    mitreden = [str(MITREDEN), "--config", str(CONFIG), "run"]
    try:
        console = await idle_rss(
            mitreden,
            b"console channel",
            {**env, "MITREDEN_DATABASE_URL": f"sqlite+aiosqlite:///{work / 'console.db'}"},
            work,
            args.settle,
        )
        telegram = await idle_rss(
            mitreden,
            b"telegram: serving",
            {
                **env,
                "MITREDEN_DATABASE_URL": f"sqlite+aiosqlite:///{work / 'telegram.db'}",
                "MITREDEN_TELEGRAM_TOKEN": TOKEN,
                "MITREDEN_TELEGRAM_BASE_URL": f"{api.url}/bot",
                "MITREDEN_TELEGRAM_BASE_FILE_URL": f"{api.url}/file/bot",
            },
            work,
            args.settle,
        )
        baseline = [sys.executable, "-m", "bench.ptb_baseline_bot", "--url", api.url]
        baseline += ["--token", TOKEN, "--db", str(work / "ptb.db")]
        ptb = await idle_rss(
            baseline,
            b"ready",
            {**env, "PYTHONPATH": str(REPO)},
            work,
            args.settle,
        )
    finally:
        await api.stop()
    return {"console": console, "telegram": telegram, "ptb": ptb}


def timed(measure: Callable[[], float], runs: int) -> tuple[float, float]:
    """Median and minimum of `runs` measurements (the minimum is the least disturbed)."""
    values = [measure() for _ in range(runs)]
    return statistics.median(values), min(values)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="mitreden-idle-") as tmp:
        # Compiled bytecode, as an installed bot has it, kept out of the source tree (and
        # written even where PYTHONDONTWRITEBYTECODE is set): every process below inherits it.
        os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
        os.environ["PYTHONPYCACHEPREFIX"] = str(Path(tmp) / "pycache")
        import_ms("bot.cli.main")  # once unmeasured: bytecode written, page cache warm
        help_seconds()
        load = os.getloadavg()[0]
        imports = timed(lambda: import_ms("bot.cli.main"), args.runs)
        ptb_imports = timed(lambda: import_ms("telegram.ext"), args.runs)
        help_ms = timed(lambda: 1000 * help_seconds(), args.runs)
        heavy = {m: heavy_after_import(m) for m in ("bot.cli.main", "bot.runtime")}
        rss = asyncio.run(measure_idle(args, Path(tmp)))
    print(
        f"mitreden at rest — Python {platform.python_version()}, {os.cpu_count()} CPUs, "
        f"load average {load:.1f} at the start; times: median (min) of {args.runs}"
    )
    print(f"import bot.cli.main                 {imports[0]:6.0f} ms ({imports[1]:.0f})")
    print(f"mitreden --help, wall               {help_ms[0]:6.0f} ms ({help_ms[1]:.0f})")
    print(f"import telegram.ext (plain PTB)     {ptb_imports[0]:6.0f} ms ({ptb_imports[1]:.0f})")
    for module, loaded in heavy.items():
        print(f"report stack after import {module}: {', '.join(loaded) or 'none'}")
    for key, label in (("console", "console"), ("telegram", "Telegram, fake Bot API")):
        print(
            f"idle RSS, mitreden run ({label}){' ' * (24 - len(label))}{rss[key]:6.0f} MiB  "
            f"{rss[key] / rss['ptb']:.2f}× plain PTB"
        )
    print(f"idle RSS, plain PTB (Telegram, fake Bot API)   {rss['ptb']:6.0f} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
