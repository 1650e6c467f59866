"""A throw-away outbound HTTP proxy for the proxy tests: proxy.py (PyPI) in its own process.

It listens on a free loopback port and logs every request it carries (`carried()`). Host
names ending in `.test` resolve, in the proxy only, to 127.0.0.1 (`testkit.proxy_plugin`):
a client pointed at `http://bot-api.test:PORT` reaches the server on that loopback port
through the proxy or not at all, so a flow that works proves the proxy carried it.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
START_TIMEOUT = 30.0
IDLE_TIMEOUT = 120  # seconds a connection may stay idle: long polls and syncs wait 30 s
CARRIED = re.compile(r"carried (?P<method>[A-Z]+) (?P<host>[^:\s]+):(?P<port>\d+)(?P<path>\S*)")


@dataclass(frozen=True)
class Carried:
    """One request the proxy carried; `path` is empty for a CONNECT tunnel."""

    method: str
    host: str
    port: int
    path: str


class ProxyServer:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.log = directory / "proxy.log"
        self._port_file = directory / "proxy.port"
        self._process: subprocess.Popen[bytes] | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        output = (self.directory / "proxy.out").open("wb")
        self._process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "proxy",
                "--hostname",
                "127.0.0.1",
                "--port",
                "0",
                "--port-file",
                str(self._port_file),
                "--num-acceptors",
                "1",
                "--num-workers",
                "1",
                "--timeout",
                str(IDLE_TIMEOUT),
                "--log-level",
                "INFO",
                "--log-file",
                str(self.log),
                "--plugins",
                "testkit.proxy_plugin.LoopbackTestHosts",
            ],
            cwd=ROOT,
            env={
                **{k: v for k, v in os.environ.items() if "proxy" not in k.lower()},
                "PYTHONPATH": str(ROOT),
            },
            stdout=output,
            stderr=subprocess.STDOUT,
        )
        output.close()
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(
                    f"proxy.py exited: {(self.directory / 'proxy.out').read_text()}"
                )
            if self._listening():
                return
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"proxy.py did not listen within {START_TIMEOUT:.0f}s")

    def _listening(self) -> bool:
        try:
            self.port = int(self._port_file.read_text().strip())
        except (FileNotFoundError, ValueError):
            return False
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                return True
        except OSError:
            return False

    def carried(self) -> list[Carried]:
        """Every request carried so far, in order."""
        if not self.log.exists():
            return []
        return [
            Carried(m["method"], m["host"], int(m["port"]), m["path"])
            for m in CARRIED.finditer(self.log.read_text(encoding="utf-8", errors="replace"))
        ]

    def stop(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        self._process = None
