"""What one Telegram update and one Bot API call cost the bot, piece by piece.

    python -m bench.telegram_calls [--calls 4000]

The figures behind the intake path's design, each in CPU µs per call of this process
(`time.process_time`), with 50 calls in flight against a local HTTP server in a child
process that answers every call with a `Message` as Telegram does:

- `Update.de_json`: PTB turning getUpdates' JSON into an `Update` (a pressed button, a text);
  the `Application` needs it for every update;
- an `editMessageText` through PTB's `Bot` method, as the bot sends every call
  (`bot/channels/telegram/send.py`): PTB's parameter objects, the HTTP exchange and the
  `Message` built from the answer; on the bot's `AiohttpRequest` (`bot_request()`) and on
  PTB's default `HTTPXRequest`, side by side;
- the HTTP exchange alone, the same small POST, on aiohttp and on httpx (the clients under
  those two requests).

The ratios at the end are httpx's CPU over aiohttp's.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from functools import partial

import aiohttp
import httpx
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.request import BaseRequest, HTTPXRequest

from bot.channels.telegram.channel import bot_request

TOKEN = "123456789:AAFakeTokenForBenchmarksOnly_abcdefg"
IN_FLIGHT = 50
CHAT = {"id": 42, "type": "private", "first_name": "Ana"}
PERSON = {"id": 42, "is_bot": False, "first_name": "Ana", "language_code": "de"}
KEYBOARD = [
    [{"text": "Vorschlag", "callback_data": "v1:kind:s"}] * 2,
    [{"text": "Frage", "callback_data": "v1:kind:q"}],
]
MESSAGE = {
    "message_id": 7,
    "date": 1_790_000_000,
    "chat": CHAT,
    "from": {"id": 1, "is_bot": True, "first_name": "mitreden", "username": "mitreden_bot"},
    "text": "Zu welchem Handlungsfeld gehört sie?",
    "reply_markup": {"inline_keyboard": KEYBOARD},
}
PRESSED = {
    "update_id": 5,
    "callback_query": {
        "id": "77",
        "chat_instance": "-1",
        "data": "v1:kind:s",
        "from": PERSON,
        "message": MESSAGE,
    },
}
WRITTEN = {
    "update_id": 6,
    "message": {
        "message_id": 8,
        "date": 1_790_000_000,
        "chat": CHAT,
        "from": PERSON,
        "text": "Mehr Deutschkurse am Abend",
    },
}
SERVER = """
import json, sys
from aiohttp import web
body = json.dumps({"ok": True, "result": json.loads(sys.argv[1])}).encode()
async def answer(request):
    await request.read()
    return web.Response(body=body, content_type="application/json")
app = web.Application()
app.router.add_post("/{tail:.*}", answer)
web.run_app(app, host="127.0.0.1", port=int(sys.argv[2]), print=lambda *_: print("up", flush=True))
"""


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.telegram_calls", description=__doc__)
    parser.add_argument("--calls", type=int, default=4000, help="timed calls per variant")
    parser.add_argument("--port", type=int, default=8765, help="the local server's port")
    return parser.parse_args(argv)


def cpu_per_call(calls: int, work: Callable[[], object]) -> float:
    for _ in range(calls // 10):
        work()
    started = time.process_time()
    for _ in range(calls):
        work()
    return (time.process_time() - started) / calls * 1e6


async def cpu_per_request(calls: int, request: Callable[[], Awaitable[object]]) -> float:
    """CPU µs per call with `IN_FLIGHT` calls running at once, after a warm-up."""
    slots = asyncio.Semaphore(IN_FLIGHT)

    async def one() -> None:
        async with slots:
            await request()

    await asyncio.gather(*(one() for _ in range(calls // 10)))
    started = time.process_time()
    await asyncio.gather(*(one() for _ in range(calls)))
    return (time.process_time() - started) / calls * 1e6


async def measure(args: argparse.Namespace) -> list[tuple[str, float]]:
    origin = f"http://127.0.0.1:{args.port}"
    figures = [
        ("Update.de_json, a pressed button", cpu_per_call(args.calls, lambda: parse(PRESSED))),
        ("Update.de_json, a text", cpu_per_call(args.calls, lambda: parse(WRITTEN))),
    ]
    markup = InlineKeyboardMarkup(
        [[InlineKeyboardButton("Vorschlag", callback_data="v1:kind:s")] * 2]
    )
    text = str(MESSAGE["text"])
    requests: list[tuple[str, BaseRequest]] = [
        ("AiohttpRequest", bot_request()),  # as the bot sends
        ("HTTPXRequest", HTTPXRequest()),  # PTB's default
    ]
    for name, request in requests:
        bot = Bot(TOKEN, base_url=f"{origin}/bot", request=request, get_updates_request=request)
        await request.initialize()
        figures.append(
            (
                f"editMessageText through PTB's Bot on {name}",
                await cpu_per_request(
                    args.calls,
                    partial(
                        bot.edit_message_text, text, chat_id=42, message_id=7, reply_markup=markup
                    ),
                ),
            )
        )
        await request.shutdown()
    values = {
        "chat_id": 42,
        "message_id": 7,
        "text": text,
        "reply_markup": {"inline_keyboard": KEYBOARD},
    }
    url = f"{origin}/bot{TOKEN}/editMessageText"
    body = json.dumps(values).encode()
    headers = {"Content-Type": "application/json"}
    async with aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=IN_FLIGHT), cookie_jar=aiohttp.DummyCookieJar()
    ) as session:

        async def with_aiohttp() -> bytes:
            async with session.post(url, data=body, headers=headers) as response:
                return await response.read()

        figures.append(("HTTP alone: aiohttp", await cpu_per_request(args.calls, with_aiohttp)))
    async with httpx.AsyncClient(limits=httpx.Limits(max_connections=IN_FLIGHT)) as client:

        async def with_httpx() -> bytes:
            response = await client.post(url, content=body, headers=headers)
            return response.content

        figures.append(("HTTP alone: httpx", await cpu_per_request(args.calls, with_httpx)))
    return figures


def parse(update: dict[str, object]) -> Update | None:
    return Update.de_json(update, None)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    server = subprocess.Popen(
        [sys.executable, "-c", SERVER, json.dumps(MESSAGE), str(args.port)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None and server.stdout.readline().strip() == "up"
        figures = asyncio.run(measure(args))
    finally:
        server.terminate()
        server.wait()
    print(
        f"mitreden Telegram call costs — {args.calls} calls each, {IN_FLIGHT} in flight, "
        f"Python {sys.version.split()[0]}, {os.cpu_count()} CPUs (CPU µs per call)"
    )
    for name, micros in figures:
        print(f"   {name:<55} {micros:8.1f}")
    cost = dict(figures)
    bot_ratio = (
        cost["editMessageText through PTB's Bot on HTTPXRequest"]
        / cost["editMessageText through PTB's Bot on AiohttpRequest"]
    )
    http_ratio = cost["HTTP alone: httpx"] / cost["HTTP alone: aiohttp"]
    for name, ratio in (
        ("ratio httpx / aiohttp, through PTB's Bot", bot_ratio),
        ("ratio httpx / aiohttp, HTTP alone", http_ratio),
    ):
        print(f"   {name:<55} {ratio:8.2f}×")
    print(f"load average at the end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
