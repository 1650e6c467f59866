"""A throw-away PostgreSQL server for the test suite.

Storage tests must run against a real PostgreSQL, not only SQLite, and CI machines
have no running server.  So the tests start their own cluster: ``initdb`` into a
temporary directory, ``postgres`` on a free port on 127.0.0.1 only, and delete it all
afterwards.  Nothing outside the temporary directory is touched, so an already
running system cluster (e.g. Debian's ``main`` on port 5432) does not matter.

PostgreSQL refuses to run as root; CI runs as root, so in that case the server
binaries are run as the ``postgres`` system user (created by the Debian package).
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

#: Use this server (an SQLAlchemy async URL) instead of starting one.
URL_ENV = "MITREDEN_TEST_DATABASE_URL"
#: Directory holding initdb/pg_ctl/postgres; overrides the search.
BIN_ENV = "MITREDEN_PG_BIN"
SUPERUSER = "postgres"
DATABASE = "mitreden_test"

# Durability is worthless for a cluster that is deleted after the run.
_SETTINGS = {
    "listen_addresses": "'127.0.0.1'",
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "max_connections": "200",
    "shared_buffers": "32MB",
}


class PostgresNotFound(RuntimeError):
    """No PostgreSQL server binaries (initdb, pg_ctl) were found."""


def _bin_version(path: str) -> tuple[int, ...]:
    """Sort key so that /usr/lib/postgresql/16 beats 9.6 (not a string compare)."""
    name = Path(path).parent.name
    return tuple(int(p) for p in name.split(".") if p.isdigit())


def find_bindir() -> Path:
    """Locate the directory with the server binaries, most explicit source first."""
    candidates: list[str] = []
    if os.environ.get(BIN_ENV):
        candidates.append(os.environ[BIN_ENV])
    candidates += sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=_bin_version, reverse=True)
    if shutil.which("pg_config"):
        # pg_config may belong to a client-only install; verified below like the others.
        res = subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True)
        if res.returncode == 0:
            candidates.append(res.stdout.strip())
    if which := shutil.which("postgres"):
        candidates.append(str(Path(which).resolve().parent))
    for cand in candidates:
        if all((Path(cand) / exe).is_file() for exe in ("initdb", "postgres", "createdb")):
            return Path(cand)
    raise PostgresNotFound(
        "PostgreSQL server binaries (initdb, postgres, createdb) not found; looked in "
        f"${BIN_ENV}, /usr/lib/postgresql/*/bin, `pg_config --bindir` and PATH. "
        "Install them (Debian: apt-get install postgresql) or set "
        f"{URL_ENV} to an existing server."
    )


def _free_port() -> int:
    """Ask the kernel for an unused port (tiny race until postgres binds it; retried)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class TemporaryPostgres:
    """A private cluster in a temp dir; ``start()`` it, use ``url``, then ``stop()``."""

    def __init__(self, bindir: Path | None = None, database: str = DATABASE) -> None:
        self.bindir = bindir or find_bindir()
        self.database = database
        self.port = 0
        self.tmpdir: Path | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        # As root, drop to the postgres user: the server will not start otherwise.
        self._run_as: str | None = SUPERUSER if os.geteuid() == 0 else None

    @property
    def url(self) -> str:
        """SQLAlchemy async URL of the test database."""
        return f"postgresql+asyncpg://{SUPERUSER}@127.0.0.1:{self.port}/{self.database}"

    @property
    def datadir(self) -> Path:
        assert self.tmpdir is not None, "server not started"
        return self.tmpdir / "data"

    def _cmd(self, *args: str) -> tuple[list[str], dict[str, Any]]:
        """Command line and Popen options for a server binary (as postgres if we are root)."""
        opts: dict[str, Any] = {"cwd": self.tmpdir, "stdin": subprocess.DEVNULL}
        if self._run_as:  # cwd above: root's own cwd may be unreadable for postgres
            opts.update(user=self._run_as, group=self._run_as, extra_groups=[])
        return [str(self.bindir / args[0]), *args[1:]], opts

    def _run(self, *args: str) -> None:
        """Run a server binary to completion; raise with its output if it fails."""
        cmd, opts = self._cmd(*args)
        res = subprocess.run(cmd, capture_output=True, text=True, timeout=120, **opts)
        if res.returncode != 0:
            raise RuntimeError(
                f"{' '.join(cmd)} failed ({res.returncode}):\n{res.stdout}"
                f"{res.stderr}{self._log_tail()}"
            )

    def _log_tail(self) -> str:
        log = self.tmpdir / "postgres.log" if self.tmpdir else None
        if log and log.exists():
            return "\n--- postgres.log ---\n" + log.read_text(errors="replace")[-3000:]
        return ""

    def start(self) -> TemporaryPostgres:
        """initdb, start postgres, createdb; cleans up after itself if anything fails."""
        self.tmpdir = Path(tempfile.mkdtemp(prefix="mitreden-pg-"))
        try:
            if self._run_as:
                _ensure_system_user(self._run_as)
                pw = pwd.getpwnam(self._run_as)
                os.chown(self.tmpdir, pw.pw_uid, pw.pw_gid)
            # C.UTF-8 gives Unicode-aware lower()/upper() (German umlauts); plain C is
            # the fallback for systems without that locale.
            for locale in ("C.UTF-8", "C"):
                try:
                    self._run(
                        "initdb",
                        "-D",
                        str(self.datadir),
                        "-U",
                        SUPERUSER,
                        "--auth=trust",
                        "--encoding=UTF8",
                        f"--locale={locale}",
                        "--no-sync",
                    )
                    break
                except RuntimeError:
                    if locale == "C":
                        raise
            for attempt in range(5):
                try:
                    self._start_postmaster()
                    break
                except RuntimeError:
                    if attempt == 4:  # port taken between probe and bind: try another
                        raise
            self._run(
                "createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", SUPERUSER, self.database
            )
        except BaseException:
            self.stop()
            raise
        return self

    def _start_postmaster(self) -> None:
        """Run ``postgres`` as our child and wait until it accepts connections.

        Not ``pg_ctl start``: that daemonizes, re-parenting the server to PID 1, and
        where PID 1 does not reap (minimal containers, this sandbox) every run leaves a
        zombie.  As our child it can be waited for, and Ctrl-C reaches it as well.
        """
        assert self.tmpdir is not None
        self.port = _free_port()
        # Unix socket paths are limited to ~107 bytes; under a long $TMPDIR use TCP only.
        sockdir = str(self.tmpdir) if len(str(self.tmpdir)) < 80 else ""
        settings = dict(_SETTINGS, port=str(self.port), unix_socket_directories=f"'{sockdir}'")
        with open(self.datadir / "postgresql.auto.conf", "a") as conf:  # later lines win
            conf.writelines(f"{k} = {v}\n" for k, v in settings.items())
        cmd, opts = self._cmd("postgres", "-D", str(self.datadir))
        with open(self.tmpdir / "postgres.log", "ab") as log:
            self._proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, **opts)
        pidfile = self.datadir / "postmaster.pid"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                self._proc = None
                raise RuntimeError(f"postgres exited during startup{self._log_tail()}")
            with contextlib.suppress(OSError):  # line 8 of the pid file is the status
                lines = pidfile.read_text().splitlines()
                if len(lines) >= 8 and lines[7].strip() == "ready":
                    return
            time.sleep(0.02)
        raise RuntimeError(f"postgres did not become ready within 60s{self._log_tail()}")

    def stop(self) -> None:
        """Stop the server (fast shutdown, harder if it hangs) and delete its directory."""
        proc, self._proc = self._proc, None
        if proc is not None:
            # SIGINT = fast shutdown, SIGQUIT = immediate; root may signal postgres.
            for sig in (signal.SIGINT, signal.SIGQUIT, signal.SIGKILL):
                with contextlib.suppress(ProcessLookupError):
                    proc.send_signal(sig)
                try:
                    proc.wait(timeout=30)
                    break
                except subprocess.TimeoutExpired:
                    continue
        if self.tmpdir is not None:
            shutil.rmtree(self.tmpdir, ignore_errors=True)
            self.tmpdir = None

    def __enter__(self) -> TemporaryPostgres:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _ensure_system_user(name: str) -> None:
    """The Debian package creates ``postgres``; a hand-built install may not have it."""
    try:
        pwd.getpwnam(name)
    except KeyError:
        subprocess.run(
            [
                "useradd",
                "--system",
                "--user-group",
                "--no-create-home",
                "--shell",
                "/usr/sbin/nologin",
                name,
            ],
            check=True,
        )


def ci_requires_postgres() -> bool:
    """In CI a missing PostgreSQL is an error, never a silent skip."""
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


@contextmanager
def postgres_url_for_tests() -> Iterator[str]:
    """Yield an async URL: ``$MITREDEN_TEST_DATABASE_URL`` if set, else a private server.

    Raises :class:`PostgresNotFound` when there is neither; callers decide whether
    that means skip (developer laptop) or fail (``ci_requires_postgres()``).
    """
    if url := os.environ.get(URL_ENV):
        yield url
        return
    with TemporaryPostgres() as server:
        yield server.url
