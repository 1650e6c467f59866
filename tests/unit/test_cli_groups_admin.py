"""Who owns working groups, the configuration file or the command line, and the commands that
find and change a group's chats, list coordinators and remove a group: what the administrator
sees (exit code, output, notes) and what the database holds after the next start.

Every `mitreden ...` call is a start of its own (the configuration is read and applied again),
as when the administrator types one command after the other."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import pytest
from sqlmodel import col, select

from bot.app import App, bootstrap
from bot.config import Settings
from storage.db import Database
from storage.models import FeedbackItem, GroupField, GroupSeed, ItemEvent, WorkingGroup
from testkit.support import EXAMPLE_CONFIG, FakeClock, Resident
from tests.cli_support import Cli


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path}/cli.db"


@pytest.fixture
def mitreden(
    database_url: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> Cli:
    """`mitreden --config config.example.toml ARGS` on a database made by `db upgrade`."""
    cli = Cli(capsys, monkeypatch, database_url)
    monkeypatch.setenv("MITREDEN_BOT_LOG_LEVEL", "WARNING")
    assert cli("db", "upgrade").code == 0
    return cli


@pytest.fixture
async def running(
    mitreden: Cli, settings: Settings, clock: FakeClock, database_url: str
) -> AsyncIterator[App]:
    """A bot already built on the database the command line changes."""
    wired = await bootstrap(
        replace(settings, database=replace(settings.database, url=database_url)),
        clock=clock,
        channels=(),
    )
    try:
        yield wired.app
    finally:
        await wired.app.close()


def changed_config(tmp_path: Path, **uag_bildung: str) -> Path:
    """config.example.toml with lines of the uag-bildung entry replaced or added (TOML)."""
    text = EXAMPLE_CONFIG.read_text(encoding="utf-8")
    start = text.index('key = "uag-bildung"')
    end = text.index("[[groups]]", start)
    entry = text[start:end]
    for key, value in uag_bildung.items():
        line = f"{key} = {value}"
        pattern = re.compile(rf"^{key} = .*$", re.MULTILINE)
        entry = pattern.sub(line, entry) if pattern.search(entry) else f"{entry}{line}\n"
    path = tmp_path / "changed.toml"
    path.write_text(text[:start] + entry + text[end:], encoding="utf-8")
    return path


def block(out: str, key: str) -> str:
    """The lines `group list` prints for one group."""
    lines = out.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(f"{key}"))
    return "\n".join(lines[start : start + 4])


async def read(url: str, query: object) -> list[object]:
    db = Database(url)
    try:
        return await db.run(lambda session: list(session.exec(query)))  # type: ignore[call-overload]
    finally:
        await db.dispose()


def test_a_change_on_the_command_line_outlasts_every_later_start(
    mitreden: Cli, tmp_path: Path
) -> None:
    edited = mitreden("group", "edit", "uag-bildung", "--answer-days", "10")
    # Any later command starts afresh and reads the unchanged configuration: the edit stays.
    assert mitreden("coordinator", "list").code == 0
    listed = mitreden("group", "list")

    assert block(listed.out, "uag-bildung").startswith(
        "uag-bildung: Unter-AG Bildung und Sprache; answer within 10 days"
    )
    assert (edited.code, edited.out) == (0, "group uag-bildung saved\n")
    assert edited.err.endswith(
        f"mitreden: note: the configuration file {EXAMPLE_CONFIG} also defines uag-bildung: "
        "this change lasts until that [[groups]] entry is edited, then the entry applies "
        "again; make the same change there\n"
    )


async def test_a_changed_configuration_entry_applies_once(
    mitreden: Cli, tmp_path: Path, database_url: str
) -> None:
    assert mitreden("group", "edit", "uag-bildung", "--answer-days", "10").code == 0
    changed = changed_config(tmp_path, answer_days="21", chats='["telegram:-100777"]')

    after_change = mitreden("--config", str(changed), "group", "list")
    assert block(after_change.out, "uag-bildung") == (
        "uag-bildung: Unter-AG Bildung und Sprache; answer within 21 days\n"
        "  fields: bildung\n"
        "  coordinators: -\n"
        "  chats: telegram:-100777"
    )
    # The same entry again is no change: the command line decides from here on.
    edited = mitreden(
        "--config", str(changed), "group", "edit", "uag-bildung", "--answer-days", "7"
    )
    assert edited.code == 0
    again = mitreden("--config", str(changed), "group", "list")
    assert "uag-bildung: Unter-AG Bildung und Sprache; answer within 7 days" in again.out
    days = select(WorkingGroup.answer_days).where(WorkingGroup.key == "uag-bildung")
    assert await read(database_url, days) == [7]
    seeds = await read(
        database_url, select(GroupSeed.group_key).order_by(col(GroupSeed.group_key))
    )
    assert "uag-bildung" in seeds and "ag-integration" in seeds


def test_a_removed_group_stays_removed_while_its_entry_is_unchanged(mitreden: Cli) -> None:
    removed = mitreden("group", "remove", "uag-teilhabe", "--move-to", "ag-integration")

    assert removed.code == 0, removed.err
    assert removed.out == (
        "group uag-teilhabe removed with 0 coordinators and 0 chats; "
        "1 field of action moved to ag-integration\n"
    )
    assert (
        "still defines uag-teilhabe: it is not created again unless that [[groups]] entry is "
        "edited; remove the entry there\n"
    ) in removed.err
    listed = mitreden("group", "list")
    assert "uag-teilhabe" not in listed.out
    assert block(listed.out, "ag-integration").splitlines()[1] == "  fields: teilhabe"


def test_group_chats_list_add_remove(mitreden: Cli, tmp_path: Path) -> None:
    empty = mitreden("group", "chats", "list", "uag-bildung")
    assert (empty.code, empty.out) == (
        0,
        "uag-bildung has no chats; `mitreden group chats add` adds one\n",
    )
    added = mitreden("group", "chats", "add", "uag-bildung", "telegram:-1001234567890")
    matrix = mitreden("group", "chats", "add", "uag-bildung", "matrix:!AbCd:example.org")
    twice = mitreden("group", "chats", "add", "uag-bildung", "telegram:-1001234567890")
    assert added.out == "telegram:-1001234567890 now gets the new items of uag-bildung\n"
    assert matrix.code == 0
    assert twice.out == "telegram:-1001234567890 already gets the new items of uag-bildung\n"
    assert mitreden("group", "chats", "list", "uag-bildung").out == (
        "telegram:-1001234567890 (from the command line)\n"
        "matrix:!AbCd:example.org (from the command line)\n"
    )
    assert "  chats: telegram:-1001234567890, matrix:!AbCd:example.org" in (
        mitreden("group", "list").out
    )

    removed = mitreden("group", "chats", "remove", "uag-bildung", "telegram:-1001234567890")
    assert (removed.code, removed.out, removed.err) == (
        0,
        "telegram:-1001234567890 no longer gets the items of uag-bildung\n",
        "",
    )
    gone = mitreden("group", "chats", "remove", "uag-bildung", "telegram:-1001234567890")
    assert gone.code == 2
    assert gone.err.endswith("mitreden: telegram:-1001234567890 is not a chat of uag-bildung\n")
    assert mitreden("group", "chats", "list", "uag-bildung").out == (
        "matrix:!AbCd:example.org (from the command line)\n"
    )

    # A chat the configuration lists: removed, with a word about the file.
    changed = changed_config(tmp_path, chats='["telegram:-100777"]')
    assert mitreden("--config", str(changed), "group", "list").code == 0
    configured = mitreden(
        "--config", str(changed), "group", "chats", "remove", "uag-bildung", "telegram:-100777"
    )
    assert configured.code == 0
    assert configured.err.endswith(
        f"mitreden: note: the configuration file {changed} still lists telegram:-100777 for "
        "uag-bildung: it comes back when that [[groups]] entry is next edited; remove it "
        "there too\n"
    )


CHAT_MISTAKES = [
    (("group", "chats", "add", "uag-bildung", "-100123"), "must look like PLATFORM:CHAT"),
    (("group", "chats", "add", "uag-bildung", "icq:123"), "unknown platform 'icq'"),
    (("group", "chats", "add", "uag-nirgends", "telegram:-1"), "no group 'uag-nirgends'"),
    (("group", "chats", "list", "uag-nirgends"), "no group 'uag-nirgends'"),
    (("coordinator", "list", "uag-nirgends"), "no group 'uag-nirgends'"),
    (("group", "remove", "uag-nirgends"), "no group 'uag-nirgends'"),
    (("group", "remove", "uag-bildung", "--move-to", "uag-nirgends"), "no group 'uag-nirgends'"),
    (("group", "remove", "uag-bildung", "--move-to", "uag-bildung"), "another group"),
    (("group", "remove", "ag-integration"), "ag-integration is the default group"),
    (("group", "edit", "uag-bildung", "--answer-days", "0"), "--answer-days must be 1"),
]


def test_mistakes_are_refused_and_change_nothing(mitreden: Cli) -> None:
    before = mitreden("group", "list")
    for args, error in CHAT_MISTAKES:
        result = mitreden(*args)
        assert result.code == 2, args
        assert result.err.splitlines()[-1].startswith("mitreden: "), result.err
        assert error in result.err, (args, result.err)
    assert mitreden("group", "list") == before


async def test_coordinator_list_names_who_wrote_to_the_bot(running: App, mitreden: Cli) -> None:
    await Resident(running.handle, "cora").command("/start")
    assert mitreden("coordinator", "add", "uag-bildung", "telegram:u-cora").code == 0
    assert mitreden("coordinator", "add", "uag-arbeit", "matrix:@ali:example.org").code == 0

    every = mitreden("coordinator", "list")
    one = mitreden("coordinator", "list", "uag-bildung")

    assert every.out == (
        "uag-arbeit: matrix:@ali:example.org (from the command line)\n"
        "uag-bildung: telegram:u-cora Cora (from the command line)\n"
    )
    assert one.out == "uag-bildung: telegram:u-cora Cora (from the command line)\n"
    assert mitreden("coordinator", "list", "uag-wohnen").out == (
        "no coordinators of uag-wohnen; `mitreden coordinator add` adds one\n"
    )


async def test_a_group_with_items_is_removed_only_with_move_to(
    running: App, mitreden: Cli, database_url: str
) -> None:
    answer = await Resident(running.handle, "rosa").submit("Mehr Sprachkurse am Abend")
    assert "Unter-AG Bildung und Sprache" in answer
    assert mitreden("coordinator", "add", "uag-bildung", "telegram:u-cora").code == 0

    refused = mitreden("group", "remove", "uag-bildung")

    assert refused.code == 2
    assert refused.err.endswith(
        "mitreden: uag-bildung still owns 1 item (1 open) and 1 field of action (bildung); "
        "nothing was removed. --move-to OTHER hands them to another group\n"
    )
    assert "uag-bildung" in mitreden("group", "list").out

    moved = mitreden("group", "remove", "uag-bildung", "--move-to", "ag-integration")

    assert moved.code == 0, moved.err
    assert moved.out == (
        "group uag-bildung removed with 1 coordinator and 0 chats; "
        "1 item (1 open) and 1 field of action moved to ag-integration\n"
    )
    items = await read(database_url, select(FeedbackItem.group_key))
    owner = select(GroupField.group_key).where(GroupField.field_key == "bildung")
    owners = await read(database_url, owner)
    changes = select(ItemEvent.action, ItemEvent.group_key).order_by(col(ItemEvent.id))
    history = await read(database_url, changes)
    assert items == ["ag-integration"] and owners == ["ag-integration"]
    assert history[-1] == ("assigned", "ag-integration")
    # The next start does not bring the group back: its entry did not change.
    assert "uag-bildung" not in mitreden("group", "list").out
    # A new item of the field goes to the group that took it over.
    later = await Resident(running.handle, "sami").submit("Elterncafé in der Kita")
    assert "AG Integration" in later
