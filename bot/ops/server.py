"""Health and metrics for the city's IT, on `ops.listen` (`mitreden run` only).

- `/healthz`: 200 "ok" while the process serves requests (a liveness probe; restart when not).
- `/readyz`: 200 when the database answers a trivial query and every channel is connected
  (one that runs in the leading process only, the Matrix sync, counts there only); else 503
  with `{"not_ready": [...]}` naming what is not (a readiness probe, an alert, the reverse
  proxy's health check in front of several processes).
- `/metrics`: `bot.ops.metrics.Metrics` in Prometheus' text format.

It binds to loopback by default: the metrics name no person, but say how busy the bot is.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Protocol

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST

from bot.ops.metrics import Metrics
from bot.ops.site import OptionalSite
from storage.db import Database
from storage.store import Store

logger = logging.getLogger(__name__)


class Readiness(Protocol):
    """A channel as readiness sees it."""

    @property
    def platform(self) -> str: ...

    def is_ready(self) -> bool: ...


class OpsServer(OptionalSite):
    """The aiohttp server behind the three endpoints; `start` binds, `stop` closes."""

    def __init__(
        self,
        listen: str,
        db: Database,
        store: Store,
        channels: Sequence[Readiness],
        metrics: Metrics,
        *,
        standby: Callable[[Readiness], bool] = lambda channel: False,
    ) -> None:
        """`standby`: whether a channel is connected in another process now and not here
        (the Matrix sync runs in the leader only): it does not make this one unready."""
        self._db = db
        self._standby = standby
        self._store = store
        self._channels = channels
        self._metrics = metrics
        app = web.Application()
        app.router.add_get("/healthz", self._healthz)
        app.router.add_get("/readyz", self._readyz)
        app.router.add_get("/metrics", self._metrics_page)
        super().__init__(app, listen, name="ops", what="health and metrics")

    async def _healthz(self, _request: web.Request) -> web.Response:
        return web.Response(text="ok")

    async def _readyz(self, _request: web.Request) -> web.Response:
        not_ready = [
            str(c.platform) for c in self._channels if not c.is_ready() and not self._standby(c)
        ]
        try:
            await self._db.ping()
        except Exception as error:
            logger.warning("ops: database not ready (%s)", type(error).__name__)
            not_ready.insert(0, "database")
        if not_ready:
            return web.json_response({"not_ready": not_ready}, status=503)
        return web.Response(text="ready")

    async def _metrics_page(self, _request: web.Request) -> web.Response:
        try:
            await self._metrics.refresh(self._store)
        except Exception:
            # The counters still tell something; the gauges keep their last values.
            logger.exception("ops: the database's figures could not be read for /metrics")
        response = web.Response(body=self._metrics.render())
        response.headers["Content-Type"] = CONTENT_TYPE_LATEST
        return response
