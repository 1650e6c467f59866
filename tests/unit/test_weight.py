"""The bot at rest carries no report stack, and a command only the libraries it uses.

matplotlib (with numpy, Pillow, fontTools) and WeasyPrint (with Pango) are only needed when a
report is drawn or written; loaded at start-up they cost every `mitreden` command about half a
second and the idle bot tens of MiB (`python -m bench.idle`). Each check runs in a fresh
interpreter, because this test process may have loaded them already for other tests.
"""

from __future__ import annotations

import functools
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
WATCHED = ("matplotlib", "weasyprint", "telegram", "nio")


@functools.cache
def loaded_after_import(module: str) -> frozenset[str]:
    """Which of the `WATCHED` libraries `import module` loads in a fresh interpreter."""
    code = f"import sys, {module}; print(*(m for m in {WATCHED!r} if m in sys.modules))"
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    return frozenset(result.stdout.split())


@pytest.mark.parametrize("module", ["bot.cli.main", "bot.runtime"])
def test_starting_the_bot_loads_neither_matplotlib_nor_weasyprint(module: str) -> None:
    assert loaded_after_import(module) & {"matplotlib", "weasyprint"} == set()


def test_a_command_loads_the_chat_libraries_only_for_the_channel_it_runs() -> None:
    """`mitreden group list` or `mitreden report` talk to neither Telegram nor Matrix."""
    assert loaded_after_import("bot.cli.main") & {"telegram", "nio"} == set()
