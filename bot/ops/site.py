"""An aiohttp application the bot serves besides residents' conversations (health and metrics,
the staff web view): bound on start, and when its address cannot be had (taken by another
process, or not this machine's), the error is logged and the bot serves residents without it
rather than not at all."""

from __future__ import annotations

import logging

from aiohttp import web

logger = logging.getLogger(__name__)


class OptionalSite:
    """`app` on `listen` ("host:port", "[::1]:port"; port 0: one the system picks).

    `name` prefixes the log lines, `what` says what is served ("health and metrics").
    """

    def __init__(self, app: web.Application, listen: str, *, name: str, what: str) -> None:
        host, _, port = listen.rpartition(":")
        self._host = host.strip("[]")
        self._port = int(port)
        self._name = name
        self._what = what
        self._runner = web.AppRunner(app, access_log=None)
        self.url = ""  # http://host:port once started (the port the system gave for 0)

    async def start(self) -> None:
        """Serve; an address that cannot be had is logged, and `url` stays empty."""
        await self._runner.setup()
        site = web.TCPSite(self._runner, self._host, self._port)
        try:
            await site.start()
        except OSError as error:
            logger.error(
                "%s: cannot listen on %s:%s (%s); %s off",
                self._name,
                self._host,
                self._port,
                error.strerror or type(error).__name__,
                self._what,
            )
            return
        host, port = self._runner.addresses[0][:2]
        self.url = f"http://{host}:{port}" if ":" not in host else f"http://[{host}]:{port}"
        logger.info("%s: %s on %s", self._name, self._what, self.url)

    async def stop(self) -> None:
        await self._runner.cleanup()
