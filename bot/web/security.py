"""What every response of the web view carries, and the checks before a request is served:
security headers, the session cookie, the forms' CSRF token, the client's address behind
the reverse proxy, and the limit on sign-in attempts."""

from __future__ import annotations

import hmac
import ipaddress
from collections import deque
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

from aiohttp import web

from handlers.clock import Clock

COOKIE = "mitreden_session"
# No script at all and no inline style (`'unsafe-inline'` is never needed): the stylesheet
# is a file, the charts are SVG with presentation attributes, and the pages are plain forms.
CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
    "base-uri 'none'; frame-ancestors 'none'"
)
HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    # Sign-in links carry their token in the path: no page may pass its address on.
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
}
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def security_headers(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every response, error pages and files included, gets the headers; pages are never
    cached (they show residents' items), the stylesheet is."""
    try:
        response = await handler(request)
    except web.HTTPException as error:
        response = error
        _add_headers(request, response)
        raise
    _add_headers(request, response)
    return response


def _add_headers(request: web.Request, response: web.StreamResponse) -> None:
    response.headers.update(HEADERS)
    if "/static/" not in request.path:
        response.headers["Cache-Control"] = "no-store"


def client_address(request: web.Request) -> str:
    """The browser's address: behind a reverse proxy on this machine, the address the proxy
    put last into `X-Forwarded-For` (its own peer), else the connection's."""
    peer = request.remote or ""
    forwarded = request.headers.get("X-Forwarded-For", "")
    if forwarded and _is_loopback(peer):
        return forwarded.split(",")[-1].strip()[:64]
    return peer[:64]


def is_https(request: web.Request, base_url: str) -> bool:
    """Whether the browser speaks HTTPS to us: the base URL says so, or, without one, the
    reverse proxy on this machine does (`X-Forwarded-Proto`)."""
    if base_url:
        return base_url.startswith("https://")
    if _is_loopback(request.remote or ""):
        return request.headers.get("X-Forwarded-Proto", "").lower() == "https"
    return request.secure


def _is_loopback(address: str) -> bool:
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False


def same_token(given: str, expected: str) -> bool:
    return bool(given) and hmac.compare_digest(given.encode(), expected.encode())


class AttemptLimit:
    """At most `per_minute` sign-in attempts per client address in any minute, counted on
    the bot's clock (so that tests move it instead of waiting)."""

    def __init__(self, per_minute: int, clock: Clock) -> None:
        self._per_minute = per_minute
        self._clock = clock
        self._seen: dict[str, deque[datetime]] = {}

    def allow(self, address: str) -> bool:
        now = self._clock.now()
        recent = self._seen.setdefault(address, deque())
        while recent and recent[0] <= now - timedelta(minutes=1):
            recent.popleft()
        if len(recent) >= self._per_minute:
            return False
        recent.append(now)
        if len(self._seen) > 10_000:  # forget quiet addresses rather than grow for ever
            for key in [
                k for k, v in self._seen.items() if not v or v[-1] <= now - timedelta(minutes=1)
            ]:
                del self._seen[key]
        return True
