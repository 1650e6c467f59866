"""Bot API methods that are not about sending content, plus the method registry."""

from __future__ import annotations

import asyncio
import itertools
import json
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from . import errors as E
from . import methods as M
from . import webhook
from .errors import ApiError, bad
from .params import Params
from .state import DEFAULT_ALLOWED, JSON, MAX_DOWNLOAD

if TYPE_CHECKING:
    from .server import FakeBotApi

Handler = Callable[["FakeBotApi", Params], Any]
_COMMAND_RE = re.compile(r"^[a-z0-9_]{1,32}$")
SECRET_TOKEN = re.compile(r"[A-Za-z0-9_-]{1,256}")  # what setWebhook accepts as secret_token
CALLBACK_TTL = 15.0


def get_me(api: FakeBotApi, p: Params) -> JSON:
    return {
        **api.bot_user,
        "can_join_groups": True,
        "can_read_all_group_messages": False,
        "supports_inline_queries": False,
        "can_connect_to_business": False,
        "has_main_web_app": False,
    }


def _confirm(api: FakeBotApi, offset: int | None) -> None:
    """Drop confirmed updates: ids below ``offset``; negative offsets keep the tail."""
    updates = api.updates
    if offset is None:
        return
    if offset < 0:
        while len(updates) > -offset:
            updates.popleft()
        return
    while updates and updates[0]["update_id"] < offset:
        updates.popleft()


async def get_updates(api: FakeBotApi, p: Params) -> list[JSON]:
    if api.webhook_url:
        raise ApiError(409, E.WEBHOOK_CONFLICT)
    offset = p.integer("offset")
    limit = min(max(p.integer("limit") or 100, 1), 100)
    timeout = max(p.integer("timeout") or 0, 0)
    allowed = p.obj("allowed_updates")
    if isinstance(allowed, list):
        api.allowed_updates = frozenset(allowed) if allowed else DEFAULT_ALLOWED
    _confirm(api, offset)
    previous = api._poll_waiter
    if previous is not None and not previous.done():
        previous.set_exception(ApiError(409, E.POLL_CONFLICT))
    if not api.updates and timeout > 0:
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        api._poll_waiter = waiter
        try:
            await asyncio.wait_for(waiter, timeout)
        except TimeoutError:
            pass
        finally:
            if api._poll_waiter is waiter:
                api._poll_waiter = None
    return list(itertools.islice(api.updates, limit))


def set_webhook(api: FakeBotApi, p: Params) -> bool:
    url = p.string("url") or ""
    if url and not url.startswith("https://"):
        raise bad("bad webhook: An HTTPS URL must be provided for webhook")
    secret = p.string("secret_token") or ""
    if secret and not SECRET_TOKEN.fullmatch(secret):
        raise bad("bad webhook: secret token contains unallowed characters")
    if p.flag("drop_pending_updates"):
        api.updates.clear()
    allowed = p.obj("allowed_updates")
    if isinstance(allowed, list):
        api.allowed_updates = frozenset(allowed) if allowed else DEFAULT_ALLOWED
    connections = p.integer("max_connections") or webhook.DEFAULT_MAX_CONNECTIONS
    if not 1 <= connections <= 100:
        raise bad("bad webhook: max_connections must be between 1 and 100")
    api.webhook_url = url
    api.webhook.secret = secret
    api.webhook.max_connections = connections
    api.webhook.wake()
    return True


def delete_webhook(api: FakeBotApi, p: Params) -> bool:
    if p.flag("drop_pending_updates"):
        api.updates.clear()
    api.webhook_url = ""
    api.webhook.secret = ""
    api.webhook.reset()
    return True


def get_webhook_info(api: FakeBotApi, p: Params) -> JSON:
    info: JSON = {
        "url": api.webhook_url,
        "has_custom_certificate": False,
        "pending_update_count": len(api.updates),
    }
    if api.webhook.last_error_date is not None:
        info["last_error_date"] = api.webhook.last_error_date
        info["last_error_message"] = api.webhook.last_error_message
    if api.webhook_url:
        info["max_connections"] = api.webhook.max_connections
        if api.allowed_updates != DEFAULT_ALLOWED:
            info["allowed_updates"] = sorted(api.allowed_updates)
    return info


def _commands_key(p: Params) -> tuple[str, str]:
    scope = p.obj("scope") or {"type": "default"}
    return json.dumps(scope, sort_keys=True), p.string("language_code") or ""


def set_my_commands(api: FakeBotApi, p: Params) -> bool:
    commands = p.obj("commands")
    if not isinstance(commands, list) or len(commands) > 100:
        raise bad("can't parse commands JSON object")
    clean: list[JSON] = []
    for cmd in commands:
        name = str(cmd.get("command", "")) if isinstance(cmd, dict) else ""
        desc = str(cmd.get("description", "")) if isinstance(cmd, dict) else ""
        if not _COMMAND_RE.match(name):
            raise bad("BOT_COMMAND_INVALID")
        if not 1 <= len(desc) <= 256:
            raise bad("BOT_COMMAND_DESCRIPTION_INVALID")
        clean.append({"command": name, "description": desc})
    key = _commands_key(p)
    if clean:
        api.commands[key] = clean
    else:
        api.commands.pop(key, None)
    return True


def get_my_commands(api: FakeBotApi, p: Params) -> list[JSON]:
    return api.commands.get(_commands_key(p), [])


def delete_my_commands(api: FakeBotApi, p: Params) -> bool:
    api.commands.pop(_commands_key(p), None)
    return True


def delete_message(api: FakeBotApi, p: Params) -> bool:
    chat = M.resolve_chat(api, p)
    mid = p.integer("message_id")
    if mid is None:
        raise bad("message identifier is not specified")
    if api._messages.pop((chat.id, mid), None) is None:
        raise bad(E.DELETE_NOT_FOUND)
    bm = api.bot_message(chat.id, mid)
    if bm is not None:
        bm.deleted = True
    return True


def answer_callback_query(api: FakeBotApi, p: Params) -> bool:
    query = api.queries.get(p.string("callback_query_id") or "")
    if query is None or query.answered or api.clock() - query.created > CALLBACK_TTL:
        raise bad(E.QUERY_TOO_OLD)
    text = p.string("text")
    if text is not None and len(text) > 200:
        raise bad("MESSAGE_TOO_LONG")
    query.answered = True
    query.answer = {
        "text": text,
        "show_alert": p.flag("show_alert"),
        "url": p.string("url"),
        "cache_time": p.integer("cache_time"),
    }
    return True


def send_chat_action(api: FakeBotApi, p: Params) -> bool:
    chat = M.resolve_chat(api, p)
    M.check_reachable(chat)
    if p.string("action") not in M.CHAT_ACTIONS:
        raise bad("wrong parameter action in request")
    return True


def get_file(api: FakeBotApi, p: Params) -> JSON:
    stored = api.files.get(p.string("file_id") or "")
    if stored is None:
        raise bad(E.GETFILE_BAD_ID)
    if stored.size > MAX_DOWNLOAD:
        raise bad(E.FILE_TOO_BIG)
    return {
        "file_id": stored.file_id,
        "file_unique_id": stored.file_unique_id,
        "file_size": stored.size,
        "file_path": stored.file_path,
    }


def get_chat(api: FakeBotApi, p: Params) -> JSON:
    chat = M.resolve_chat(api, p)
    return {
        **chat.json,
        "accent_color_id": 0,
        "max_reaction_count": 11,
        "accepted_gift_types": {
            "unlimited_gifts": False,
            "limited_gifts": False,
            "unique_gifts": False,
            "premium_subscription": False,
            "gifts_from_channels": False,
        },
    }


METHODS: dict[str, tuple[str, Handler]] = {
    name.lower(): (name, fn)
    for name, fn in {
        "getMe": get_me,
        "getUpdates": get_updates,
        "setWebhook": set_webhook,
        "deleteWebhook": delete_webhook,
        "getWebhookInfo": get_webhook_info,
        "setMyCommands": set_my_commands,
        "getMyCommands": get_my_commands,
        "deleteMyCommands": delete_my_commands,
        "sendMessage": M.send_message,
        "editMessageText": M.edit_message_text,
        "editMessageCaption": M.edit_message_caption,
        "editMessageReplyMarkup": M.edit_message_reply_markup,
        "deleteMessage": delete_message,
        "answerCallbackQuery": answer_callback_query,
        "sendDocument": M.send_document,
        "sendPhoto": M.send_photo,
        "sendChatAction": send_chat_action,
        "getFile": get_file,
        "getChat": get_chat,
    }.items()
}
ASYNC_METHODS: frozenset[str] = frozenset({"getupdates"})
