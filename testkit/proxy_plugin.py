"""A proxy.py plugin for the proxy tests (loaded by `testkit.proxyserver`, in the proxy's
own process): host names ending in `.test` are this machine, and every request the proxy
carries is logged as one `carried ...` line."""

from __future__ import annotations

import logging

from proxy.http.parser import HttpParser
from proxy.http.proxy import HttpProxyBasePlugin

logger = logging.getLogger(__name__)

LOOPBACK_SUFFIX = ".test"  # a name reserved for tests (RFC 2606): no resolver knows it


class LoopbackTestHosts(HttpProxyBasePlugin):
    def resolve_dns(self, host: str, port: int) -> tuple[str | None, None]:
        """`*.test` is 127.0.0.1 here and nowhere else, so a client reaches such a host
        through this proxy or not at all."""
        return ("127.0.0.1" if host.endswith(LOOPBACK_SUFFIX) else None), None

    def handle_client_request(self, request: HttpParser) -> HttpParser | None:
        """Called for each request, every one on a kept-alive connection included; a
        CONNECT tunnel shows once, with no path."""
        method = (request.method or b"").decode()
        host = (request.host or b"").decode()
        path = (request.path or b"").decode() if request.method != b"CONNECT" else ""
        logger.info("carried %s %s:%s%s", method, host, request.port, path)
        return request
