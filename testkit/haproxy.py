"""A throw-away HAProxy in front of several bot processes, for the tests and the benchmark.

The same configuration as README's "Running several processes" shows, on loopback and free
ports: Telegram's webhook pushes go to `url`, and HAProxy spreads them round-robin over the
bots' webhook ports; a bot whose `/readyz` (on its ops port) fails is taken out within a
second, a connection refused or closed without an answer (a bot stopping or killed) is tried
again on another bot. That retry is safe because a bot takes each update in once only (by
update id). HAProxy runs as an unprivileged process in the foreground (`-db`), with its
configuration and its log in `directory`; it comes from Debian's `haproxy` package
(`.ci/system-packages` installs it).
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

BIN_ENV = "MITREDEN_HAPROXY"
START_TIMEOUT = 20.0
# One log line per request (`option httplog`): frontend, backend/server, ..., status.
LOGGED = re.compile(r" telegram bots/(?P<server>\S+) .*? (?P<status>\d{3}) ")
STATE = re.compile(r"^Server bots/(?P<server>\S+) is (?P<state>UP|DOWN)", re.MULTILINE)


class HaproxyNotFound(RuntimeError):
    """No `haproxy` binary (Debian: apt-get install haproxy)."""


def find_haproxy() -> str:
    found = os.environ.get(BIN_ENV) or shutil.which("haproxy") or "/usr/sbin/haproxy"
    if not Path(found).is_file():
        raise HaproxyNotFound(
            f"haproxy not found (looked at ${BIN_ENV}, PATH and /usr/sbin/haproxy); "
            "Debian: apt-get install haproxy"
        )
    return found


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass(frozen=True)
class Backend:
    """One bot process as HAProxy sees it."""

    name: str
    webhook_port: int  # telegram.webhook_port
    ops_port: int  # the port of ops.listen, where /readyz answers


# `balance="chat"`: a chat's updates to one bot (a hash of the chat's id, read from the
# update's JSON, taken modulo the bots that are up), so that a chat's next update seldom
# waits for another process. "map-based" spreads the chats evenly (consistent hashing put
# 118 of 200 on one of two bots); when a bot goes, chats move, which costs a few waits and
# never order: correctness does not depend on the balancing.
BY_CHAT = """\
    option http-buffer-request
    http-request set-var(txn.chat) req.body,json_query('$.message.chat.id','int')
    http-request set-var(txn.chat) req.body,json_query('$.callback_query.message.chat.id','int') \
if !{ var(txn.chat) -m found }
    http-request set-var(txn.chat) req.body,json_query('$.edited_message.chat.id','int') \
if !{ var(txn.chat) -m found }
    balance hash var(txn.chat)
    hash-type map-based"""


def config(
    port: int, backends: list[Backend], *, check_ms: int = 500, balance: str = "roundrobin"
) -> str:
    """The configuration: README's, with loopback addresses and these ports; `balance` is
    "roundrobin" (every update to the next bot: a chat's updates meet as many processes as
    can be, which the tests want) or "chat" (`BY_CHAT`)."""
    servers = "\n".join(
        f"    server {b.name} 127.0.0.1:{b.webhook_port} check port {b.ops_port}" for b in backends
    )
    timing = f"inter {check_ms}ms fastinter {check_ms // 2}ms downinter {check_ms}ms"
    return f"""\
global
    log stdout format raw local0 info
    maxconn 4096

defaults
    mode http
    log global
    option httplog
    timeout connect 2s
    timeout client 30s
    timeout server 30s
    timeout queue 10s
    # A bot taking an update in twice stores it once (by update id): safe to retry.
    retries 3
    option redispatch 1
    retry-on conn-failure empty-response response-timeout

frontend telegram
    bind 127.0.0.1:{port}
    default_backend bots

backend bots
{BY_CHAT if balance == "chat" else "    balance roundrobin"}
    option httpchk GET /readyz
    http-check expect status 200
    default-server {timing} fall 2 rise 1
{servers}
"""


class ReverseProxy:
    """HAProxy on a free loopback port (`url`) in front of `backends`."""

    def __init__(
        self, directory: Path, backends: list[Backend], *, balance: str = "roundrobin"
    ) -> None:
        self.directory = directory
        self.backends = backends
        self.balance = balance
        self.port = free_port()
        self.config = directory / "haproxy.cfg"
        self.log = directory / "haproxy.log"
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def start(self) -> None:
        binary = find_haproxy()
        self.config.write_text(config(self.port, self.backends, balance=self.balance))
        with self.log.open("ab") as log:
            self._process = subprocess.Popen(
                [binary, "-db", "-f", str(self.config)],
                cwd=self.directory,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"haproxy exited: {self.log.read_text()[-2000:]}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"haproxy did not listen within {START_TIMEOUT:.0f}s")

    def up(self) -> set[str]:
        """The bots HAProxy sends to now: those whose latest health check passed (they
        count as up from the start until a check fails)."""
        state = {b.name: True for b in self.backends}
        if self.log.exists():
            for m in STATE.finditer(self.log.read_text(errors="replace")):
                state[m["server"]] = m["state"] == "UP"
        return {name for name, up in state.items() if up}

    def served(self) -> Counter[str]:
        """Requests answered 2xx so far, by the bot that answered them."""
        if not self.log.exists():
            return Counter()
        text = self.log.read_text(errors="replace")
        return Counter(m["server"] for m in LOGGED.finditer(text) if m["status"].startswith("2"))

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    def __enter__(self) -> ReverseProxy:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


# The webhook URL the bot gives Telegram; the fake Bot API routes pushes for it to the proxy
# (`FakeBotApi.route_webhook(PUBLIC, proxy.url)`).
PUBLIC = "https://bot.example.org"


def bot_process_env(
    database_url: str,
    *,
    token: str,
    base_url: str,
    base_file_url: str,
    webhook_port: int,
    ops_port: int,
    data_dir: Path,
    secret: str,
    **settings: str,
) -> dict[str, str]:
    """The environment of one bot process behind the proxy, as the tests and
    bench/ha_intake.py start it: this process's environment without MITREDEN_* and proxy
    variables, webhook mode on `webhook_port`, health and metrics on `ops_port`; `settings`
    adds further MITREDEN_* values (pace, flood guard, delivery)."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("MITREDEN_") and "proxy" not in key.lower()
    }
    env.update(
        MITREDEN_DATA_DIR=str(data_dir),
        MITREDEN_DATABASE_URL=database_url,
        MITREDEN_TELEGRAM_TOKEN=token,
        MITREDEN_TELEGRAM_BASE_URL=base_url,
        MITREDEN_TELEGRAM_BASE_FILE_URL=base_file_url,
        MITREDEN_TELEGRAM_MODE="webhook",
        MITREDEN_TELEGRAM_WEBHOOK_URL=f"{PUBLIC}/telegram",
        MITREDEN_TELEGRAM_WEBHOOK_LISTEN="127.0.0.1",
        MITREDEN_TELEGRAM_WEBHOOK_PORT=str(webhook_port),
        MITREDEN_TELEGRAM_WEBHOOK_SECRET=secret,
        MITREDEN_OPS_LISTEN=f"127.0.0.1:{ops_port}",
        **settings,
    )
    return env
