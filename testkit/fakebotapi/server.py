"""The fake Bot API server: HTTP routing, fault injection, flood limits and the call log.

Use in-process (``await FakeBotApi().start()``) or as a process (``python -m
testkit.fakebotapi``) driven through the ``/_control`` routes (see :mod:`.control`).
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from . import errors as E
from .control import add_control_routes
from .errors import ApiError
from .inject import Injector
from .limits import Clock, FloodLimits
from .methods_misc import ASYNC_METHODS, METHODS
from .params import Params, read_params
from .state import JSON, CallRecord
from .webhook import WebhookPusher

DEFAULT_TOKEN = "123456789:AAFakeTokenForTestsOnly_abcdefghijkl"


@dataclass(slots=True)
class Fault:
    """A scheduled misbehaviour for the next ``remaining`` matching calls."""

    kind: str  # "error" or "hang"
    remaining: int
    method: str | None  # lower-cased method name, or None for any method
    status: int = 500
    seconds: float = 0.0


_FAULT_TEXT = {
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}


def _dump(payload: Any, status: int = 200) -> web.Response:
    body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return web.Response(body=body, status=status, content_type="application/json")


def _as_int(value: Any) -> int | str | None:
    if value is None or isinstance(value, int):
        return value
    try:
        return int(value)
    except (TypeError, ValueError):
        return str(value)


def _mid(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


class FakeBotApi(Injector):
    """A faithful stand-in for api.telegram.org for one bot token.

    ``clock`` (monotonic seconds) drives flood limits and callback-query ages; ``wall``
    (Unix seconds) drives message dates.  Both are injectable so tests never sleep.
    """

    def __init__(
        self,
        token: str = DEFAULT_TOKEN,
        clock: Clock = time.monotonic,
        wall: Clock = time.time,
        limits: bool = False,
        control: bool = True,
    ) -> None:
        super().__init__(token, clock, wall)
        self.limits = FloodLimits(clock, enabled=limits)
        self.webhook_url = ""
        self.webhook = WebhookPusher(self)
        self.commands: dict[tuple[str, str], list[dict[str, str]]] = {}
        self.faults: list[Fault] = []
        self.app = web.Application(client_max_size=64 * 1024 * 1024)
        self.app.router.add_route("*", "/bot{token}/{method}", self._handle_bot)
        self.app.router.add_get("/file/bot{token}/{path:.+}", self._handle_file)
        if control:
            add_control_routes(self.app, self)
        self._runner: web.AppRunner | None = None
        self.host = "127.0.0.1"
        self.port = 0

    # ---- lifecycle -------------------------------------------------------------
    async def start(self, host: str = "127.0.0.1", port: int = 0) -> FakeBotApi:
        """Listen on ``host:port`` (0 = a free port, see :attr:`port`)."""
        self._runner = web.AppRunner(self.app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, host, port).start()
        self.host, self.port = host, int(self._runner.addresses[0][1])
        self.webhook.start()
        return self

    async def stop(self) -> None:
        await self.webhook.stop()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def base_url(self) -> str:
        """Pass to ``telegram.Bot(base_url=...)``; PTB appends the token."""
        return f"{self.url}/bot"

    @property
    def base_file_url(self) -> str:
        """Pass to ``telegram.Bot(base_file_url=...)``."""
        return f"{self.url}/file/bot"

    def enqueue(self, kind: str, obj: JSON) -> int | None:
        update_id = super().enqueue(kind, obj)
        if update_id is not None:
            self.webhook.wake()
        return update_id

    # ---- test controls -----------------------------------------------------------
    def route_webhook(self, public_origin: str, local_origin: str) -> None:
        """Deliver webhook updates for `public_origin` to `local_origin` (the TLS proxy)."""
        self.webhook.route(public_origin, local_origin)

    def revoke_token(self, new_token: str) -> None:
        """The owner revoked the token at @BotFather: calls with the old one answer 401."""
        self.token = new_token

    def set_limits(self, enabled: bool) -> None:
        """Switch flood control at run time; history restarts so tests are deterministic."""
        self.limits.enabled = enabled
        self.limits.reset()

    def fail_next(self, n: int = 1, status: int = 500, method: str | None = None) -> None:
        """The next ``n`` calls (of ``method``) answer ``status`` (500 or 502 ...)."""
        self.faults.append(Fault("error", n, method.lower() if method else None, status))

    def hang_next(self, n: int = 1, seconds: float = 30.0, method: str | None = None) -> None:
        """The next ``n`` calls stall ``seconds`` and are then processed normally.

        A client that times out meanwhile does not know whether the call took effect,
        exactly like a real network timeout (the basis for duplicate detection).
        """
        self.faults.append(Fault("hang", n, method.lower() if method else None, seconds=seconds))

    def clear_faults(self) -> None:
        self.faults.clear()

    def reset_log(self) -> None:
        """Forget the call log and counters (e.g. between benchmark phases)."""
        self.sent_log.clear()
        self.stats_counter.clear()

    def calls(
        self, method: str | None = None, status: int | None = None, chat_id: int | None = None
    ) -> list[CallRecord]:
        """Filtered view of :attr:`sent_log` for assertions."""
        return [
            r
            for r in self.sent_log
            if (method is None or r.method == method)
            and (status is None or r.status == status)
            and (chat_id is None or r.chat_id == chat_id)
        ]

    def count(self, method: str | None = None, status: int | None = None) -> int:
        """O(#methods) counter lookup, cheap enough to poll during a benchmark."""
        return sum(
            n
            for (m, s), n in self.stats_counter.items()
            if (method is None or m == method) and (status is None or s == status)
        )

    def stats(self) -> dict[str, Any]:
        by_method: dict[str, dict[str, int]] = {}
        for (m, s), n in self.stats_counter.items():
            by_method.setdefault(m, {})[str(s)] = n
        return {
            "calls": by_method,
            "pending_updates": len(self.updates),
            "log_length": len(self.sent_log),
            "limits": self.limits.enabled,
        }

    # ---- HTTP --------------------------------------------------------------------
    def _take_fault(self, method: str) -> Fault | None:
        for fault in self.faults:
            if fault.method is None or fault.method == method:
                fault.remaining -= 1
                if fault.remaining <= 0:
                    self.faults.remove(fault)
                return fault
        return None

    def _record(
        self,
        t: float,
        method: str,
        params: Params | None,
        status: int,
        result: Any = None,
        err: ApiError | None = None,
    ) -> None:
        raw = params.raw if params is not None else {}
        mid = result.get("message_id") if isinstance(result, dict) else None
        text = raw.get("text", raw.get("caption"))
        self.sent_log.append(
            CallRecord(
                t,
                method,
                _as_int(raw.get("chat_id")),
                mid if mid is not None else _mid(raw.get("message_id")),
                text if isinstance(text, str) or text is None else str(text),
                status,
                err.code if err else None,
                err.description if err else None,
            )
        )
        self.stats_counter[(method, status)] += 1

    def _refuse(self, t: float, method: str, params: Params | None, err: ApiError) -> web.Response:
        self._record(t, method, params, err.code, err=err)
        return _dump(err.payload(), err.code)

    async def _handle_bot(self, request: web.Request) -> web.Response:
        t = self.clock()
        name = request.match_info["method"]
        if request.match_info["token"] != self.token:
            return self._refuse(t, name, None, E.UNAUTHORIZED)
        entry = METHODS.get(name.lower())
        if entry is None:
            return self._refuse(t, name, None, E.NOT_FOUND)
        method, handler = entry
        try:
            params = await read_params(request)  # before faults: Telegram got the body
        except ApiError as err:
            return self._refuse(t, method, None, err)
        fault = self._take_fault(name.lower()) if self.faults else None
        if fault is not None:
            if fault.kind == "hang":
                await asyncio.sleep(fault.seconds)
            else:
                failure = ApiError(fault.status, _FAULT_TEXT.get(fault.status, "Server Error"))
                return self._refuse(t, method, params, failure)
        try:
            if name.lower() in ASYNC_METHODS:
                result = await handler(self, params)
            else:
                result = handler(self, params)
        except ApiError as err:
            return self._refuse(t, method, params, err)
        self._record(t, method, params, 200, result)
        return _dump({"ok": True, "result": result})

    async def _handle_file(self, request: web.Request) -> web.StreamResponse:
        if request.match_info["token"] != self.token:
            return _dump(E.UNAUTHORIZED.payload(), 401)
        stored = self.files_by_path.get(request.match_info["path"])
        if stored is None:
            return _dump(E.NOT_FOUND.payload(), 404)
        return web.Response(
            body=stored.data, content_type=stored.mime_type or "application/octet-stream"
        )
