"""A progress bar for the command line that stays readable when output is not a terminal."""

from __future__ import annotations

import sys
from typing import TextIO

WIDTH = 30


class ProgressBar:
    def __init__(self, total: int, *, out: TextIO | None = None) -> None:
        self.total = total
        self._out = out or sys.stderr
        self._tty = self._out.isatty()
        self._last = ""

    def show(self, done: int, detail: str = "") -> None:
        filled = WIDTH if self.total == 0 else WIDTH * done // self.total
        bar = "#" * filled + "-" * (WIDTH - filled)
        line = f"[{bar}] {done}/{self.total} {detail}".rstrip()
        if line == self._last:
            return
        self._last = line
        if self._tty:
            self._out.write("\r" + line)
        else:
            self._out.write(line + "\n")
        self._out.flush()

    def close(self) -> None:
        if self._tty:
            self._out.write("\n")
            self._out.flush()
