"""What one Telegram update and one Bot API call cost the bot, piece by piece.

    python -m bench.telegram_calls [--calls 4000]

The figures behind the intake path's design, each in CPU µs per call of this process
(`time.process_time`), with 50 calls in flight against a local HTTP server in a child
process that answers every call with a `Message` as Telegram does:

- `Update.de_json`: PTB turning getUpdates' JSON into an `Update` (a pressed button, a text);
  the `Application` needs it for every update;
- an `editMessageText` through PTB's `Bot` method against the same call through `BotApi`
  (`bot/channels/telegram/api.py`), both on `BotApiRequest`: PTB's parameter objects and the
  `Message` built from the answer, against one JSON body and the answer read as JSON;
- the HTTP exchange alone: an aiohttp session against `KeepAliveClient`
  (`bot/channels/telegram/http_keepalive.py`), the same small JSON POST.
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

import aiohttp
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, Update

from bot.channels.telegram.api import BotApi
from bot.channels.telegram.http_keepalive import KeepAliveClient
from bot.channels.telegram.request import BotApiRequest

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
    request = BotApiRequest(connection_pool_size=256)
    bot = Bot(TOKEN, base_url=f"{origin}/bot", request=request, get_updates_request=request)
    await request.initialize()
    api = BotApi.of(bot)
    markup = InlineKeyboardMarkup(
        [[InlineKeyboardButton("Vorschlag", callback_data="v1:kind:s")] * 2]
    )
    text = str(MESSAGE["text"])
    values = {
        "chat_id": 42,
        "message_id": 7,
        "text": text,
        "reply_markup": {"inline_keyboard": KEYBOARD},
    }
    figures += [
        (
            "editMessageText through PTB's Bot method",
            await cpu_per_request(
                args.calls,
                lambda: bot.edit_message_text(text, chat_id=42, message_id=7, reply_markup=markup),
            ),
        ),
        (
            "editMessageText through BotApi (JSON in and out)",
            await cpu_per_request(args.calls, lambda: api.call("editMessageText", values)),
        ),
    ]
    await request.shutdown()
    body = json.dumps(values).encode()
    path = f"/bot{TOKEN}/editMessageText"
    async with aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar()) as session:

        async def with_aiohttp() -> bytes:
            headers = {"Content-Type": "application/json"}
            async with session.post(origin + path, data=body, headers=headers) as response:
                return await response.read()

        figures.append(("HTTP alone: aiohttp", await cpu_per_request(args.calls, with_aiohttp)))
    client = KeepAliveClient(origin)
    exchange = await cpu_per_request(
        args.calls, lambda: client.post(path, body, "application/json", read_timeout=5)
    )
    figures.append(("HTTP alone: KeepAliveClient", exchange))
    await client.close()
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
        print(f"   {name:<50} {micros:8.1f}")


if __name__ == "__main__":
    main()
