"""`mitreden shell` as a person trying the bot in a terminal sees it (issue 17): files the
bot sends land in the current directory, an unknown language is said to be unknown, the log
keeps out of the conversation, there is no flood limit, and the coordinator side is
documented and works as documented. Run in process through the CLI (tests/cli_support.py)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from bot.cli.main import _parser
from tests.cli_support import Cli

FILE_LINE = re.compile(r"\[document: mitreden-meine-daten\.json, (\d+) bytes, saved as (.+)\]")


@pytest.fixture
def mitreden(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> Cli:
    """`mitreden` on a fresh SQLite file, run in `tmp_path` (the current directory)."""
    monkeypatch.chdir(tmp_path)
    return Cli(capsys, monkeypatch, f"sqlite+aiosqlite:///{tmp_path}/shell.db")


def test_mydata_is_written_to_the_current_directory_next_to_an_earlier_export(
    mitreden: Cli, tmp_path: Path
) -> None:
    earlier = tmp_path / "mitreden-meine-daten.json"
    earlier.write_text("{}")

    done = mitreden("shell", "--as", "alice", stdin="/start\n/mydata\n/mydata\n")

    assert done.code == 0, done.err
    assert "Hier ist alles, was wir über Sie gespeichert haben." in done.out
    written = FILE_LINE.findall(done.out)
    assert [Path(where) for _, where in written] == [
        tmp_path / "mitreden-meine-daten-2.json",
        tmp_path / "mitreden-meine-daten-3.json",
    ]
    assert earlier.read_text() == "{}"  # never overwritten
    size, where = written[0]
    content = Path(where).read_bytes()
    assert len(content) == int(size)
    assert json.loads(content)["contact"]["user_id"] == "alice"


@pytest.mark.parametrize(
    ("language", "unknown", "choose"),
    [
        ("de", "Diese Sprache gibt es hier nicht.", "Bitte wählen Sie Ihre Sprache."),
        ("en", "That language is not available here.", "Please choose your language."),
    ],
)
def test_an_unknown_language_is_said_to_be_unknown(
    mitreden: Cli, language: str, unknown: str, choose: str
) -> None:
    done = mitreden("shell", "--as", "alice", "--language", language, stdin="/language xx\n")

    assert done.code == 0, done.err
    answer = done.out.split("alice> /language xx\n", 1)[1]
    assert answer.startswith(f"bot> {unknown}\n     {choose}\n     1) Deutsch")


def test_the_log_shows_only_warnings_while_the_conversation_runs(mitreden: Cli) -> None:
    script = "Mehr Bänke am Markt\n1\n1\n1\n1\n/mydata\n/pending\n"

    done = mitreden("shell", "--as", "alice", stdin=script)

    assert done.code == 0, done.err
    assert "Ihre Referenz: F-" in done.out
    assert " INFO " not in done.out
    assert "stored for contact" not in done.err  # INFO lines of the conversation
    assert "exported their data" not in done.err
    assert "WARNING handlers.roles: refused /pending from console:alice" in done.err


def test_the_console_has_no_flood_limit(mitreden: Cli) -> None:
    done = mitreden("shell", "--as", "alice", stdin="/help\n" * 25)

    assert done.code == 0, done.err
    assert done.out.count("bot> So funktioniert mitreden:") == 25
    assert "Sie schicken sehr viele Nachrichten" not in done.out


def test_the_coordinator_side_is_tried_as_the_help_says(
    mitreden: Cli, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit):
        _parser().parse_args(["shell", "--help"])
    shown = " ".join(capsys.readouterr().out.split())
    assert "`mitreden coordinator add uag-bildung console:cora`" in shown
    assert "`mitreden shell --as cora`" in shown
    assert "console:NAME" in shown

    submitted = mitreden("shell", "--as", "alice", stdin="Mehr Bänke am Markt\n1\n1\n1\n1\n")
    assert "Ihre Referenz: F-" in submitted.out, submitted.err
    added = mitreden("coordinator", "add", "uag-bildung", "console:cora")
    assert added.code == 0, added.err
    cora = mitreden("shell", "--as", "cora", stdin="/pending\n")

    assert cora.code == 0, cora.err
    assert "Offene Rückmeldungen" in cora.out and "F-" in cora.out


def test_a_closed_standard_input_is_said_in_one_line(
    mitreden: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`mitreden shell <&-`: Python starts with no `sys.stdin` at all."""
    monkeypatch.setattr("sys.stdin", None)

    closed = mitreden("shell", "--as", "alice")

    assert closed.code == 2
    assert closed.err.splitlines()[-1] == (
        "mitreden: shell: standard input is closed; run it in a terminal or give it a "
        "script: printf '/start\\n' | mitreden shell"
    )
    assert "Traceback" not in closed.err
    assert not (tmp_path / "shell.db").exists()  # nothing made for a conversation never had
