"""The console channel: a scripted `mitreden shell` session, and its typing-to-button mapping."""

from __future__ import annotations

import io
import os
import pty
import re
import signal
import subprocess
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.app import App
from bot.channels.console import ConsoleChannel
from handlers.messages import Choice, Incoming, Platform, Reply
from storage.models import FeedbackItem
from testkit.support import ROOT, rows
from tests.cli_support import Cli

SCRIPT = """\
/start
Abends mehr Deutschkurse in der Stadtbibliothek
1
1
1
1
/status
"""


def test_scripted_shell_session_submits_feedback_and_shows_its_status(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    mitreden = Cli(capsys, monkeypatch, f"sqlite+aiosqlite:///{tmp_path}/shell.db")
    monkeypatch.chdir(tmp_path)
    year = datetime.now(ZoneInfo("Europe/Berlin")).year

    done = mitreden("shell", "--as", "alice", stdin=SCRIPT)

    transcript = done.out
    assert done.code == 0, done.err
    assert "alice> /start" in transcript
    assert "bot> Willkommen bei mitreden!" in transcript
    assert "1) Vorschlag" in transcript
    received = re.search(rf"Ihre Referenz: (F-{year}-\d{{4}})", transcript)
    assert received is not None, transcript
    reference = received.group(1)
    assert reference == f"F-{year}-0001"
    assert "Weitergeleitet an: Unter-AG Bildung und Sprache" in transcript
    status = transcript.split("alice> /status", 1)[1]
    assert "Ihre Rückmeldungen:" in status
    assert re.search(rf"{reference} · Vorschlag · eingegangen", status), status
    assert (tmp_path / "shell.db").exists()
    assert not (ROOT / "var" / "shell.db").exists()


class Recorder:
    """A handle that records what it was given and answers with a fixed question."""

    def __init__(self, *replies: Reply) -> None:
        self.received: list[Incoming] = []
        self._replies = list(replies)

    async def __call__(self, incoming: Incoming) -> list[Reply]:
        self.received.append(incoming)
        return self._replies


QUESTION = Reply(
    "Was darf es sein?",
    (Choice("Kaffee", "v7:kind:coffee"), Choice("Tee", "v7:kind:tea")),
)


async def test_typed_numbers_and_labels_become_button_presses() -> None:
    handle = Recorder(QUESTION)
    out = io.StringIO()
    channel = ConsoleChannel(
        handle,
        "carla",
        language="en",
        stdin=io.StringIO("hallo\n2\ntee\n3\n/status F-2026-0001\n"),
        stdout=out,
    )

    await channel.run()

    first, number, label, out_of_range, command = handle.received
    assert (first.text, first.payload) == ("hallo", None)
    assert number.payload == "v7:kind:tea"
    assert label.payload == "v7:kind:tea"
    assert (out_of_range.text, out_of_range.payload) == ("3", None)
    assert (command.command, command.args) == ("status", ("F-2026-0001",))
    assert {i.platform for i in handle.received} == {Platform.CONSOLE}
    assert {(i.user_id, i.chat_id, i.language_code) for i in handle.received} == {
        ("carla", "carla", "en")
    }
    assert len({i.message_id for i in handle.received}) == 5
    assert "carla> 2" in out.getvalue()
    assert "     1) Kaffee\n     2) Tee" in out.getvalue()


async def test_console_channel_in_process_drives_the_real_app(app: App) -> None:
    out = io.StringIO()
    script = "Mehr Bänke\n4\n7\n2\n1\n"  # Lob, Sonstiges, Mit meinem Namen, Abschicken
    channel = ConsoleChannel(app.handle, "dora", stdin=io.StringIO(script), stdout=out)

    await channel.run()

    assert "Ihre Referenz: F-2026-0001" in out.getvalue()
    assert "Weitergeleitet an: AG Integration" in out.getvalue()
    (item,) = await rows(app.db, FeedbackItem)
    assert (item.kind, item.field_key, item.anonymous, item.platform) == (
        "praise",
        "sonstiges",
        False,
        "console",
    )


def test_sigterm_stops_the_console_bot_while_it_waits_for_input(tmp_path: Path) -> None:
    """SIGTERM stops the bot; on the console channel it waits for a line that may never
    come, and must stop all the same (a process matters here: the signal, and the read
    blocked in a thread). `mitreden run` talks on the console only to a terminal: a pty."""
    env = {**os.environ, "MITREDEN_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/run.db"}
    for name in ("MITREDEN_TELEGRAM_TOKEN", "MITREDEN_MATRIX_HOMESERVER"):
        env.pop(name, None)
    keyboard, terminal = pty.openpty()
    bot = subprocess.Popen(
        [str(ROOT / ".venv/bin/mitreden"), "--config", str(ROOT / "config.example.toml"), "run"],
        stdin=terminal,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=env,
        cwd=tmp_path,
        text=True,
    )
    os.close(terminal)
    try:
        assert bot.stdout is not None
        assert "/start zum Beginnen" in bot.stdout.readline()  # what a terminal is shown
        os.write(keyboard, b"/start\n")
        assert "Willkommen bei mitreden!" in bot.stdout.readline()  # it answers, then waits
        bot.send_signal(signal.SIGTERM)
        assert bot.wait(timeout=20) == 0  # the terminal is still open
    finally:
        bot.kill()
        bot.wait()
        os.close(keyboard)
