"""Bot API calls on a conversation's hot path, as JSON in and JSON out.

python-telegram-bot's `Bot` methods turn every argument into a `RequestParameter`, encode it
and, on the way back, build a `Message` object tree from the answer: an `editMessageText` costs
173–177 µs of CPU that way and 40–43 µs through `BotApi` on this VM, on the same HTTP client
(`python -m bench.telegram_calls`). A reply needs none of that: the bot reads one or two fields
of the answer. `BotApi` writes the JSON body itself and posts it through the same
`telegram.request.BaseRequest` the `Bot` uses, so PTB still maps every HTTP status to its
exceptions (`RetryAfter`, `Forbidden`, `BadRequest`, ...) and `TelegramSender`'s error policy
applies unchanged. Calls with files stay on the `Bot`.
"""

from __future__ import annotations

import json
from typing import Any

from telegram import Bot
from telegram.request import BaseRequest, RequestData

JSON = "application/json"


class JsonBody(RequestData):  # type: ignore[misc]  # final in PTB's typing only
    """Request data encoded once as a JSON object; readable as form fields too, so any
    `BaseRequest` (PTB's own `HTTPXRequest` included) can send it.

    PTB marks `RequestData` final to keep its own constructor free to change; this subclass
    calls it without arguments and overrides only the public encodings a `BaseRequest` reads.
    """

    __slots__ = ("_payload", "_values")

    def __init__(self, values: dict[str, Any]) -> None:
        super().__init__()
        self._values = values
        self._payload = json.dumps(values, ensure_ascii=False, separators=(",", ":")).encode()

    @property
    def parameters(self) -> dict[str, Any]:
        return dict(self._values)

    @property
    def json_parameters(self) -> dict[str, str]:
        return {
            name: value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
            for name, value in self._values.items()
        }

    @property
    def json_payload(self) -> bytes:
        return self._payload


class BotApi:
    """`call("editMessageText", {...})` → the `result` of Telegram's answer, as parsed JSON."""

    def __init__(self, request: BaseRequest, base_url: str) -> None:
        self._request = request
        self._base_url = base_url

    @classmethod
    def of(cls, bot: Bot) -> BotApi:
        """Calls through the `BaseRequest` this bot was built with (not the getUpdates one)."""
        return cls(bot.request, bot.base_url)

    async def call(self, method: str, values: dict[str, Any]) -> Any:
        """Raises PTB's `TelegramError`s exactly as the `Bot` method would."""
        return await self._request.post(
            f"{self._base_url}/{method}", request_data=JsonBody(values)
        )
