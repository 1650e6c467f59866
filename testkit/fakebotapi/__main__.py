"""Run the fake Bot API as a separate process for benchmarks.

Example: ``python -m testkit.fakebotapi --port 8081 --token 123:ABC --limits on``.
Prints one line ``fakebotapi listening on http://HOST:PORT`` once ready.
"""

from __future__ import annotations

import argparse
import asyncio
import signal

from .server import DEFAULT_TOKEN, FakeBotApi


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m testkit.fakebotapi", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8081, help="0 picks a free port")
    parser.add_argument("--token", default=DEFAULT_TOKEN)
    parser.add_argument(
        "--limits",
        choices=("on", "off"),
        default="off",
        help="Telegram flood limits (switchable later via /_control)",
    )
    return parser.parse_args(argv)


async def serve(args: argparse.Namespace) -> None:
    api = FakeBotApi(args.token, limits=args.limits == "on")
    await api.start(args.host, args.port)
    print(f"fakebotapi listening on {api.url}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        await api.stop()


def main(argv: list[str] | None = None) -> None:
    asyncio.run(serve(parse_args(argv)))


if __name__ == "__main__":
    main()
