"""The command line's manners: every command's help shows examples and explains every option,
the top-level help lists the commands as they are, `broadcast` asks before it reaches
everyone, and every command line in the README can be pasted as it is."""

from __future__ import annotations

import argparse
import os
import re
import shlex
import shutil
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from sqlalchemy import update
from sqlmodel import col, select

from bot.cli import report as cli_report
from bot.cli.main import _parser
from bot.report import FORMATS
from handlers.messages import Platform
from storage.contacts import ContactKey
from storage.db import Database
from storage.models import Contact, OutboxMessage
from storage.schema import upgrade_to_head
from storage.store import Store
from testkit.support import DEFAULT_NOW, ROOT
from tests.cli_support import Cli


def commands(
    parser: argparse.ArgumentParser, path: tuple[str, ...] = ("mitreden",)
) -> Iterator[tuple[str, argparse.ArgumentParser]]:
    """Every parser of the command line, the top one first, with its command line."""
    yield " ".join(path), parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from commands(sub, (*path, name))


def example_lines(epilog: str) -> Iterator[str]:
    """The lines of an epilog's "examples:" section."""
    lines = iter(epilog.splitlines())
    for line in lines:
        if line == "examples:":
            for example in lines:
                if not example.startswith("  "):
                    return
                yield example.strip()


def test_every_command_has_examples_and_every_option_a_help_text() -> None:
    """Each command's help ends with examples that parse as the command they show, and no
    option goes without a word on what it does."""
    missing = []
    for command, parser in commands(_parser()):
        examples = list(example_lines(parser.epilog or ""))
        if not examples:
            missing.append(f"{command}: no examples")
        for line in examples:
            words = shlex.split(line, comments=True)
            words = words[: words.index(">")] if ">" in words else words
            while words and re.match(r"^[A-Z_]+=", words[0]):  # VARIABLE=value first
                words.pop(0)
            if not words or words[0] != "mitreden" or "--help" in words:
                continue
            try:
                _parser().parse_args(words[1:])
            except SystemExit:
                missing.append(f"{command}: example {line!r} does not parse")
        for action in parser._actions:
            if not action.help and not isinstance(action, argparse._SubParsersAction):
                missing.append(f"{command}: {'/'.join(action.option_strings) or action.dest}")
    assert missing == []


def test_the_top_level_help_lists_every_command_with_what_it_does(
    capsys: pytest.CaptureFixture[str],
) -> None:
    parser = _parser()
    text = parser.format_help()

    names = [name for name, _ in commands(parser) if name.count(" ") == 1]
    section = text[text.index("\ncommands:\n") : text.index("\nexamples:\n")]
    for name in names:
        word = name.split()[1]
        assert re.search(rf"^    {word} +\S", section, re.MULTILINE), word
    assert text.startswith("usage: mitreden")
    assert "mitreden: a city's conversation with its residents" in text


def test_the_report_help_names_every_format_it_writes() -> None:
    """`mitreden report --help` says what each format is, the spreadsheet too, and so does
    the module's synopsis."""
    (report,) = [parser for name, parser in commands(_parser()) if name == "mitreden report"]
    (given,) = [a for a in report._actions if "--format" in a.option_strings]
    synopsis = (cli_report.__doc__ or "").splitlines()[0]
    for name in FORMATS:
        assert re.search(rf"\b{name}\b", given.help or ""), name
        assert re.search(rf"\b{name}\b", synopsis), name


# ---- broadcast asks first ---------------------------------------------------------------


@pytest.fixture
async def residents_db(tmp_path: Path) -> AsyncIterator[str]:
    """A migrated SQLite file with three reachable residents, one of them subscribed."""
    url = f"sqlite+aiosqlite:///{tmp_path}/cli.db"
    db = Database(url)
    await upgrade_to_head(db)
    store = Store.over(db)
    for name in ("ana", "ben", "cem"):
        await store.contacts.get_or_add_contact(
            ContactKey(Platform.TELEGRAM, f"u-{name}", f"c-{name}", name), DEFAULT_NOW
        )
    subscribe = update(Contact).where(col(Contact.user_id) == "u-ana").values(subscribed=True)
    await db.run(lambda session: session.exec(subscribe))
    await db.dispose()
    yield url


@pytest.fixture
def mitreden(
    residents_db: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> Cli:
    monkeypatch.setenv("MITREDEN_BOT_LOG_LEVEL", "WARNING")
    return Cli(capsys, monkeypatch, residents_db)


@pytest.fixture
def terminal(monkeypatch: pytest.MonkeyPatch) -> Iterator[int]:
    """Standard input is a terminal (a pseudo-terminal); returns the side to type into."""
    typist, line = os.openpty()
    stdin = open(line, encoding="utf-8", closefd=True)  # noqa: SIM115 - closed below
    monkeypatch.setattr(sys, "stdin", stdin)
    try:
        yield typist
    finally:
        stdin.close()
        os.close(typist)


async def queued(url: str) -> list[str]:
    db = Database(url)
    try:
        return sorted(await db.run(lambda s: s.exec(select(OutboxMessage.chat_id)).all()))
    finally:
        await db.dispose()


async def test_broadcast_without_a_terminal_needs_yes(mitreden: Cli, residents_db: str) -> None:
    refused = mitreden("broadcast", "--to", "all", "--no-wait", "Sitzung fällt aus", stdin="y\n")

    assert refused.code == 2
    assert refused.out == ""
    assert (
        "mitreden: the announcement would go to 3 recipient(s) (all reachable residents; "
        "de 3); there is no terminal to confirm it on: add --yes\n"
    ) in refused.err
    assert await queued(residents_db) == []

    done = mitreden("broadcast", "--to", "all", "--yes", "--no-wait", "Sitzung fällt aus")
    assert (done.code, done.out) == (0, "announcement queued for 3 recipient(s): de 3\n")
    assert await queued(residents_db) == ["c-ana", "c-ben", "c-cem"]


async def test_broadcast_asks_on_the_terminal_showing_the_audience(
    mitreden: Cli, residents_db: str, terminal: int
) -> None:
    os.write(terminal, b"n\n")
    declined = mitreden("broadcast", "--to", "all", "--no-wait", "Sitzung fällt aus")

    assert (
        "Send the announcement to 3 recipient(s) (all reachable residents; by language: de 3)? "
        "[y/N] "
    ) in declined.err
    assert (declined.code, declined.out) == (1, "nothing sent\n")
    assert await queued(residents_db) == []

    os.write(terminal, b"y\n")
    agreed = mitreden("broadcast", "--to", "subscribers", "--no-wait", "Einladung")

    assert (
        "Send the announcement to 1 recipient(s) (residents who subscribed; by language: de 1)? "
        "[y/N] "
    ) in agreed.err
    assert (agreed.code, agreed.out) == (0, "announcement queued for 1 recipient(s): de 1\n")
    assert await queued(residents_db) == ["c-ana"]


# ---- the README's command lines ---------------------------------------------------------


def readme_commands() -> list[tuple[list[str], bool]]:
    """Every command in the README's shell blocks, continuation lines joined, one per pipeline
    part (`a | b`, `a && b`), without comments and leading VARIABLE=value; each with whether
    it reads the output of a pipe."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    found = []
    for block in re.findall(r"^```sh\n(.*?)^```", text, re.MULTILINE | re.DOTALL):
        for line in block.replace("\\\n", " ").splitlines():
            if "$(" in line or "$@" in line or line.rstrip().endswith("{"):
                continue  # shell functions and substitutions are not the command itself
            part: list[str] = []
            piped = False
            for word in [*shlex.split(line, comments=True), ";"]:
                if word not in ("|", "&&", ";"):
                    part.append(word)
                    continue
                while part and re.match(r"^[A-Z_]+=", part[0]):
                    part.pop(0)
                if part:
                    found.append((part, piped))
                part, piped = [], word == "|"
    return found


def test_every_command_line_in_the_readme_can_be_pasted() -> None:
    wrong, checked = [], 0
    for words, piped in readme_commands():
        if Path(words[0]).name not in ("mitreden", "mitreden_as_bot"):  # the latter: README
            if piped and shutil.which(words[0]) is None:
                wrong.append(f"| {shlex.join(words)}: no such program")
            continue
        checked += 1
        arguments = words[1 : words.index(">")] if ">" in words else words[1:]
        try:
            _parser().parse_args(arguments)
        except SystemExit as exit:
            if exit.code != 0:  # --version ends with 0
                wrong.append(shlex.join(words))
    assert checked > 30
    assert wrong == []
