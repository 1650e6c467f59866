"""`mitreden poll add|list|show|close` in this process: what the administrator sees, what the
database holds, and what is refused (issue 20)."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from storage.asking_models import Poll, PollAnswer
from storage.contacts import ContactKey
from storage.db import Database
from storage.store import Store
from testkit.support import rows
from tests.cli_support import Cli

ADD = (
    "poll", "add", "abendkurse",
    "--question", "Sollen Sprachkurse auch abends stattfinden?",
    "--option", "Ja", "--option", "Nein", "--option", "Egal",
    "--question-en", "Should language courses also take place in the evening?",
    "--option-en", "Yes", "--option-en", "No", "--option-en", "Don't mind",
    "--opens", "2099-03-01T09:00", "--closes", "2099-03-15T18:00",
)  # fmt: skip


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path}/cli.db"


@pytest.fixture
def mitreden(
    database_url: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> Cli:
    cli = Cli(capsys, monkeypatch, database_url)
    monkeypatch.setenv("MITREDEN_BOT_LOG_LEVEL", "WARNING")
    assert cli("db", "upgrade").code == 0
    return cli


async def polls(url: str) -> list[Poll]:
    db = Database(url)
    try:
        return await rows(db, Poll)
    finally:
        await db.dispose()


async def test_a_poll_is_added_listed_shown_and_closed(mitreden: Cli, database_url: str) -> None:
    added = mitreden(*ADD, "--to", "subscribers")
    assert added.code == 0, added.err
    assert added.out == (
        "poll abendkurse (id 1) saved: 2099-03-01 09:00 – 2099-03-15 18:00, "
        "to subscribers (0 now), in de, en\n"
    )
    (poll,) = await polls(database_url)
    assert poll.texts["en"] == {
        "question": "Should language courses also take place in the evening?",
        "options": ["Yes", "No", "Don't mind"],
    }
    assert poll.opens_at == datetime(2099, 3, 1, 8, 0, tzinfo=UTC)  # city time, CET

    # Two people answer (one of them twice: counted once).
    db = Database(database_url)
    try:
        store = Store.over(db)
        for name, option in (("ana", 0), ("ben", 1), ("ana", 1)):
            contact, _ = await store.contacts.get_or_add_contact(
                ContactKey("telegram", f"u-{name}", f"c-{name}", name), poll.opens_at
            )
            assert contact.id is not None and poll.id is not None
            await store.polls.set_answer(poll.id, contact.id, option, poll.opens_at)
        assert len(await rows(db, PollAnswer)) == 2
    finally:
        await db.dispose()

    listed = mitreden("poll", "list")
    assert listed.out == (
        "1 abendkurse [planned] to subscribers, 2099-03-01 09:00 – 2099-03-15 18:00; "
        "2 answer(s) from 2 reached\n"
    )
    shown = mitreden("poll", "show", "abendkurse")
    assert "  en: Should language courses also take place in the evening? / Yes / No" in shown.out
    assert "  Nein: 2 (100%)" in shown.out and "  Ja: 0 (0%)" in shown.out

    closed = mitreden("poll", "close", "abendkurse")
    assert closed.code == 0 and "abendkurse closed" in closed.out
    (poll,) = await polls(database_url)
    assert poll.closes_at < datetime(2099, 1, 1, tzinfo=UTC)
    again = mitreden("poll", "close", "abendkurse")
    assert again.code == 2 and "closed already" in again.err
    assert mitreden("poll", "show", "nothing").code == 2


async def test_a_poll_from_a_toml_file(mitreden: Cli, database_url: str, tmp_path: Path) -> None:
    written = tmp_path / "poll.toml"
    written.write_text(
        'key = "treffpunkt"\naudience = "all"\nopens = "2099-05-01T10:00"\n'
        'closes = "2099-05-08T10:00"\n\n'
        '[de]\nquestion = "Wo sollen wir uns treffen?"\noptions = ["Rathaus", "Bibliothek"]\n\n'
        '[uk]\nquestion = "Де нам зустрітися?"\noptions = ["Ратуша", "Бібліотека"]\n',
        encoding="utf-8",
    )
    added = mitreden("poll", "add", "--file", str(written))
    assert added.code == 0, added.err
    (poll,) = await polls(database_url)
    assert (poll.key, poll.audience, sorted(poll.texts)) == ("treffpunkt", "all", ["de", "uk"])
    assert poll.texts["uk"]["options"] == ["Ратуша", "Бібліотека"]


TWO = ("--question", "Frage?", "--option", "A", "--option", "B")


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (("--question", "Frage?", "--option", "Nur eine"), "de: 2 to 6 options, not 1"),
        ((*TWO, "--question-en", "Q?", "--option-en", "Yes"), "en: 2 to 6 options, not 1"),
        (("--option", "A", "--option", "B"), "de: the question is missing"),
        ((*TWO, "--to", "nobody"), "unknown audience 'nobody'"),
        ((*TWO, "--to", "event:rt2099"), "no event 'rt2099'"),
        ((*TWO, "--closes", "2099-02-01T09:00"), "close after it opens"),
        ((*TWO, "--opens", "morgen"), "cannot read --opens 'morgen'"),
    ],
)
async def test_a_poll_that_cannot_be_asked_is_refused(
    mitreden: Cli, database_url: str, args: tuple[str, ...], error: str
) -> None:
    opens = () if "--opens" in args else ("--opens", "2099-03-01T09:00")
    refused = mitreden("poll", "add", "falsch", *opens, *args)
    assert refused.code == 2
    assert error in refused.err
    assert await polls(database_url) == []


async def test_a_poll_key_is_used_once(mitreden: Cli) -> None:
    assert mitreden(*ADD).code == 0
    twice = mitreden(*ADD)
    assert twice.code == 2 and "poll 'abendkurse' exists" in twice.err


def test_the_help_shows_examples(mitreden: Cli, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        mitreden("poll", "add", "--help")
    assert done.value.code == 0
    shown = capsys.readouterr()
    assert "mitreden poll add --file abendkurse.toml" in shown.out
    assert '  options = ["Ja", "Nein", "Egal"]' in shown.out


async def test_a_poll_answered_by_number_on_the_console(
    mitreden: Cli, database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`mitreden shell`: /polls lists the open poll as numbers; the number typed answers."""
    monkeypatch.chdir(tmp_path)
    added = mitreden(
        "poll", "add", "treffpunkt", "--question", "Wo treffen wir uns?",
        "--option", "Rathaus", "--option", "Bibliothek", "--to", "all",
    )  # fmt: skip
    assert added.code == 0, added.err

    done = mitreden("shell", "--as", "alice", stdin="/start\n/polls\n2\n")
    assert done.code == 0, done.err
    assert "Umfrage: Wo treffen wir uns?" in done.out
    assert re.search(r"1\) Rathaus\s+2\) Bibliothek", done.out), done.out
    assert "Danke! Ihre Antwort: Bibliothek" in done.out
    shown = mitreden("poll", "show", "treffpunkt")
    assert "  Bibliothek: 1 (100%)" in shown.out
