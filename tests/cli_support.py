"""`mitreden ARGS` run in the test's own process, as `bot.cli.main.main(argv)`.

What the administrator sees is the same as from the installed command (exit code, standard
output, standard error with the log lines), without starting an interpreter for every command:
a subprocess costs a second or more a call and hides tracebacks from pytest. The one test that
needs the real process (the entry point itself) is in tests/unit/test_cli_groups.py.
"""

from __future__ import annotations

import asyncio
import io
import logging
import os
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass

import pytest

from bot.cli.main import main
from testkit.support import EXAMPLE_CONFIG


@dataclass(frozen=True)
class Result:
    code: int
    out: str
    err: str


class Cli:
    """`mitreden --config config.example.toml ARGS` on the database at `database_url`.

    `main` runs its own event loop (`asyncio.run`), so it runs in a thread of its own; an async
    test that must act while a command waits calls `await cli.run_async(...)`.
    """

    def __init__(
        self,
        capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch,
        database_url: str,
    ) -> None:
        self._capsys = capsys
        self._monkeypatch = monkeypatch
        for name in [n for n in os.environ if n.startswith("MITREDEN_")]:
            monkeypatch.delenv(name)
        monkeypatch.setenv("MITREDEN_DATABASE_URL", database_url)

    def __call__(self, *args: str, stdin: str | None = None) -> Result:
        if stdin is not None:
            self._monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
        self._capsys.readouterr()  # only this command's output
        with _logging_restored(), ThreadPoolExecutor(1) as thread:
            code = thread.submit(main, ["--config", str(EXAMPLE_CONFIG), *args]).result()
        captured = self._capsys.readouterr()
        return Result(code, captured.out, captured.err)

    async def run_async(self, *args: str) -> Result:
        return await asyncio.to_thread(self, *args)


@contextmanager
def _logging_restored() -> Iterator[None]:
    """`main` configures logging for a process (root handlers, level, warnings); undo it, so
    that pytest's own log capture and the next tests are as they were."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    try:
        yield
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)
        logging.captureWarnings(False)
