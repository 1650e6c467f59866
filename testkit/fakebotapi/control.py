"""HTTP control API under ``/_control`` so another process (a benchmark) can drive the fake.

``POST /_control/<action>`` with a JSON object of keyword arguments calls the same-named
Python method of :class:`FakeBotApi`; binary arguments travel as ``data_b64``.  Reads:
``GET /_control/messages?chat_id=N[&with_data=1]``, ``GET /_control/log?since=K``
(incremental, so pollers never copy the whole history) and ``GET /_control/stats``.
"""

from __future__ import annotations

import base64
import dataclasses
import json
from typing import TYPE_CHECKING, Any

from aiohttp import web

from .state import BotMessage, Chat, User

if TYPE_CHECKING:
    from .server import FakeBotApi

ACTIONS = frozenset(
    {
        "add_user",
        "add_group",
        "block_user",
        "unblock_user",
        "deactivate_user",
        "inject_text",
        "inject_message",
        "revoke_token",
        "edit_text",
        "inject_photo",
        "inject_document",
        "press_button",
        "age_callback_query",
        "fail_next",
        "route_webhook",
        "hang_next",
        "clear_faults",
        "set_limits",
        "reset_log",
    }
)


def _plain(value: Any) -> Any:
    if isinstance(value, User):
        return dataclasses.asdict(value)
    if isinstance(value, Chat):
        return {**value.json, "members": sorted(value.members)}
    return value


def message_json(m: BotMessage, with_data: bool = False) -> dict[str, Any]:
    """A flat view of a bot message for assertions from another process."""
    out: dict[str, Any] = {
        "chat_id": m.chat_id,
        "message_id": m.message_id,
        "method": m.method,
        "text": m.text,
        "caption": m.caption,
        "reply_markup": m.reply_markup,
        "buttons": m.buttons,
        "deleted": m.deleted,
        "edits": len(m.edits),
        "file_id": m.file.file_id if m.file else None,
        "date": m.json.get("date"),
    }
    if with_data and m.file is not None:
        out["data_b64"] = base64.b64encode(m.file.data).decode("ascii")
    return out


def add_control_routes(app: web.Application, api: FakeBotApi) -> None:
    """Register the control routes on ``app`` for ``api``."""

    def reply(result: Any, status: int = 200) -> web.Response:
        body = (
            {"ok": status == 200, "result": result}
            if status == 200
            else {"ok": False, "description": result}
        )
        return web.json_response(body, status=status, dumps=lambda o: json.dumps(o))

    async def action(request: web.Request) -> web.Response:
        name = request.match_info["action"]
        if name not in ACTIONS:
            return reply(f"unknown control action {name!r}", 404)
        kwargs: dict[str, Any] = await request.json() if request.body_exists else {}
        if "data_b64" in kwargs:
            kwargs["data"] = base64.b64decode(kwargs.pop("data_b64"))
        try:
            result = getattr(api, name)(**kwargs)
        except (KeyError, ValueError, TypeError) as exc:
            return reply(f"{type(exc).__name__}: {exc}", 400)
        return reply(_plain(result))

    async def messages(request: web.Request) -> web.Response:
        chat_id = int(request.query["chat_id"])
        with_data = request.query.get("with_data") == "1"
        deleted = request.query.get("include_deleted") == "1"
        return reply([message_json(m, with_data) for m in api.messages_to(chat_id, deleted)])

    async def log(request: web.Request) -> web.Response:
        since = int(request.query.get("since", "0"))
        records = api.sent_log[since:]
        return reply({"records": [r.json() for r in records], "next": since + len(records)})

    async def stats(request: web.Request) -> web.Response:
        return reply(api.stats())

    app.router.add_get("/_control/messages", messages)
    app.router.add_get("/_control/log", log)
    app.router.add_get("/_control/stats", stats)
    app.router.add_post("/_control/{action}", action)
