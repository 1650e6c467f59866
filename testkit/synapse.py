"""A throw-away Synapse homeserver for the Matrix end-to-end tests.

Synapse lives in its own virtualenv (`.venv-synapse`, made by `make synapse`), so that its
pinned dependencies never meet the bot's. The server listens on a free loopback port with an
SQLite database in a temporary directory; users are registered through the shared-secret
admin API. Nothing outside the temporary directory is touched.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
import socket
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PYTHON_ENV = "MITREDEN_SYNAPSE_PYTHON"
DEFAULT_PYTHON = ROOT / ".venv-synapse" / "bin" / "python"
SERVER_NAME = "localhost"
START_TIMEOUT = 60.0


class SynapseNotFound(RuntimeError):
    """No Synapse installation (`make synapse` creates .venv-synapse)."""


def find_python() -> Path:
    python = Path(os.environ.get(PYTHON_ENV) or DEFAULT_PYTHON)
    if not python.exists():
        raise SynapseNotFound(
            f"{python} not found: run `make synapse` (or set {PYTHON_ENV} to a Python with "
            "matrix-synapse installed)"
        )
    return python


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Registered:
    user_id: str
    password: str
    access_token: str


class Synapse:
    """One Synapse process; `restart()` keeps its port, database and keys."""

    def __init__(self, directory: Path, python: Path | None = None) -> None:
        self.directory = directory
        self.python = python or find_python()
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.secret = secrets.token_hex(16)
        self.config = directory / "homeserver.yaml"
        self.log = directory / "synapse.log"
        self._process: subprocess.Popen[bytes] | None = None
        self.start_seconds: list[float] = []
        self._write_config()

    def _write_config(self) -> None:
        d = self.directory
        generous = {"per_second": 1000, "burst_count": 1000}
        config: dict[str, Any] = {
            "server_name": SERVER_NAME,
            "pid_file": str(d / "homeserver.pid"),
            "listeners": [
                {
                    "port": self.port,
                    "bind_addresses": ["127.0.0.1"],
                    "type": "http",
                    "tls": False,
                    "x_forwarded": False,
                    "resources": [{"names": ["client"], "compress": False}],
                }
            ],
            "database": {"name": "sqlite3", "args": {"database": str(d / "homeserver.db")}},
            "media_store_path": str(d / "media"),
            "signing_key_path": str(d / "signing.key"),
            "registration_shared_secret": self.secret,
            "report_stats": False,
            "enable_registration": False,
            "trusted_key_servers": [],
            "suppress_key_server_warning": True,
            "presence": {"enabled": False},
            # Residents keep Synapse's default message limit, the bot is exempted through
            # the admin API as the README says; everything else must not slow the tests.
            "rc_login": {"address": generous, "account": generous, "failed_attempts": generous},
            "rc_joins": {"local": generous, "remote": generous},
            "rc_invites": {"per_room": generous, "per_user": generous, "per_issuer": generous},
            "rc_registration": generous,
            "rc_key_requests": generous,
        }
        # JSON is YAML; no YAML library needed on the bot's side.
        self.config.write_text(json.dumps(config, indent=2), encoding="utf-8")
        seed = base64.b64encode(os.urandom(32)).decode().rstrip("=")
        (d / "signing.key").write_text(f"ed25519 a_test {seed}\n", encoding="utf-8")

    def start(self) -> None:
        started = time.monotonic()
        log = self.log.open("ab")
        self._process = subprocess.Popen(
            [str(self.python), "-m", "synapse.app.homeserver", "--config-path", str(self.config)],
            cwd=self.directory,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        log.close()
        while True:
            if self._process.poll() is not None:
                raise RuntimeError(f"synapse exited at start; see {self.log}:\n{self.tail()}")
            try:
                self.request("GET", "/_matrix/client/versions")
                break
            except (urllib.error.URLError, ConnectionError):
                if time.monotonic() - started > START_TIMEOUT:
                    raise RuntimeError(f"synapse did not answer in time:\n{self.tail()}") from None
                time.sleep(0.1)
        self.start_seconds.append(time.monotonic() - started)

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)

    def restart(self) -> None:
        self.stop()
        self.start()

    def tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except FileNotFoundError:
            return ""

    def request(
        self, method: str, path: str, body: Any = None, token: str | None = None
    ) -> dict[str, Any]:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.url + path, data=data, method=method)
        request.add_header("Content-Type", "application/json")
        if token:
            request.add_header("Authorization", f"Bearer {token}")
        with urllib.request.urlopen(request, timeout=30) as response:
            answer: dict[str, Any] = json.loads(response.read() or b"{}")
            return answer

    def register(self, name: str, *, admin: bool = False) -> Registered:
        """A user registered with the shared secret (HMAC-SHA1 over nonce, name, password)."""
        nonce = self.request("GET", "/_synapse/admin/v1/register")["nonce"]
        password = secrets.token_hex(12)
        mac = hmac.new(self.secret.encode(), digestmod=hashlib.sha1)
        for part in (nonce, name, password):
            mac.update(part.encode())
            mac.update(b"\x00")
        mac.update(b"admin" if admin else b"notadmin")
        answer = self.request(
            "POST",
            "/_synapse/admin/v1/register",
            {
                "nonce": nonce,
                "username": name,
                "password": password,
                "admin": admin,
                "mac": mac.hexdigest(),
            },
        )
        return Registered(answer["user_id"], password, answer["access_token"])

    def exempt_from_rate_limits(self, admin_token: str, user_id: str) -> None:
        """What the README tells administrators to do for the bot."""
        self.request(
            "POST",
            f"/_synapse/admin/v1/users/{user_id}/override_ratelimit",
            {"messages_per_second": 0, "burst_count": 0},
            token=admin_token,
        )
