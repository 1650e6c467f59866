"""`mitreden outbox`, `outbox dead` and `outbox retry`: what an operator sees of the messages
the bot still has to send and of those it gave up on, never what they say, and what a retry
changes in the database."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlmodel import col, select

from storage.contacts import ContactKey, ContactStore
from storage.db import Database
from storage.models import OutboxMessage, OutboxState
from storage.outbox import NewMessage, OutboxStore
from storage.schema import upgrade_to_head
from tests.cli_support import Cli

NEW_ITEM_TEXT = "Neue Rückmeldung F-2026-0001: Mehr Sprachkurse am Abend, Ayşe Yılmaz"


@pytest.fixture
async def outbox_db(tmp_path: Path) -> AsyncIterator[tuple[str, dict[str, int]]]:
    """A database whose outbox holds every state; returns its URL and the ids by name."""
    url = f"sqlite+aiosqlite:///{tmp_path}/outbox.db"
    db = Database(url)
    await upgrade_to_head(db)
    outbox = OutboxStore(db)
    now = datetime.now(UTC)
    ayse, _ = await ContactStore(db).get_or_add_contact(
        ContactKey("telegram", "u-ayse", "c-ayse", "Ayşe Yılmaz"), now
    )
    later, earlier = now + timedelta(days=1), now - timedelta(minutes=5)

    def text(words: str) -> dict[str, str]:
        return {"text": words}

    await outbox.enqueue(
        [
            NewMessage("item-new:F-2026-0001:telegram:-100123", "telegram", "-100123",
                       text(NEW_ITEM_TEXT), earlier, is_group=True, reference="F-2026-0001"),
            NewMessage("announcement:a1:telegram:c-ana", "telegram", "c-ana",
                       text("Einladung"), earlier, contact_id=None),
            NewMessage("announcement:a1:telegram:c-ben", "telegram", "c-ben",
                       text("Einladung"), earlier),
            NewMessage("announcement:a1:matrix:!dm:example.org", "matrix", "!dm:example.org",
                       text("Einladung"), earlier),
            NewMessage("ev3:s0:eve:c7", "telegram", "c-cem", text("Morgen ist es so weit"),
                       later),
            NewMessage("ev3:docs:c7", "telegram", "c-cem", text("Die Dokumente"), earlier),
            NewMessage("resident:F-2026-0001:abc", "telegram", "c-ayse",
                       text("Danke für Ihre Geduld"), earlier, contact_id=ayse.id,
                       reference="F-2026-0001"),
        ],
        now - timedelta(hours=1),
    )  # fmt: skip
    ids = {
        row.idempotency_key: row.id or 0
        for row in await db.run(lambda session: list(session.exec(select(OutboxMessage))))
    }
    named = {
        "group": ids["item-new:F-2026-0001:telegram:-100123"],
        "ana": ids["announcement:a1:telegram:c-ana"],
        "ben": ids["announcement:a1:telegram:c-ben"],
        "resident": ids["resident:F-2026-0001:abc"],
        "docs": ids["ev3:docs:c7"],
    }
    await outbox.set_dead(named["group"], f"Bad Request: chat not found\n(text: {NEW_ITEM_TEXT})")
    await outbox.set_dead(named["resident"], "Forbidden: bot can't initiate conversation")
    await outbox.set_sent(named["ana"], now)
    await outbox.set_failed(named["ben"], "TimedOut: Timed out", later)
    named["ayse"] = ayse.id or 0
    try:
        yield url, named
    finally:
        await db.dispose()


@pytest.fixture
def mitreden(
    outbox_db: tuple[str, dict[str, int]],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> Cli:
    cli = Cli(capsys, monkeypatch, outbox_db[0])
    monkeypatch.setenv("MITREDEN_BOT_LOG_LEVEL", "WARNING")
    return cli


def test_the_backlog_by_kind_and_channel(mitreden: Cli) -> None:
    shown = mitreden("outbox")

    assert shown.code == 0, shown.err
    assert shown.out == (
        "kind          channel    queued      due     dead\n"
        "announcement  matrix          0        1        0\n"
        "announcement  telegram        1        0        0\n"
        "event         telegram        1        1        0\n"
        "item-new      telegram        0        0        1\n"
        "resident      telegram        0        0        1\n"
        "total                         2        2        2\n"
        "`mitreden outbox dead` lists the dead messages with their last error; "
        "`mitreden outbox retry --all` queues them again\n"
    )


def test_dead_messages_show_their_error_and_never_their_text(
    mitreden: Cli, outbox_db: tuple[str, dict[str, int]]
) -> None:
    ids = outbox_db[1]

    dead = mitreden("outbox", "dead")

    assert dead.code == 0, dead.err
    lines = dead.out.splitlines()
    assert len(lines) == 2
    # Newest first: "<id> <created, city time> <kind> [reference] to <recipient>, attempts: error"
    assert lines[0].startswith(f"{ids['resident']} ")
    assert lines[0].endswith(
        f"resident F-2026-0001 to contact {ids['ayse']}, 1 attempt(s): "
        "Forbidden: bot can't initiate conversation"
    )
    assert lines[1].startswith(f"{ids['group']} ")
    assert (
        " item-new F-2026-0001 to telegram:-100123, 1 attempt(s): Bad Request: chat not found"
    ) in lines[1]
    # The payload is never shown, and an error that quotes it is cut to one short line.
    assert "Mehr Sprachkurse" not in dead.out.replace(lines[1], "")
    assert len(lines[1]) < 220
    assert mitreden("outbox", "dead", "--limit", "1").out.splitlines()[1:] == [
        "(1 older dead message(s) not shown; --limit 2 shows all)"
    ]


async def test_retry_queues_dead_messages_again(
    mitreden: Cli, outbox_db: tuple[str, dict[str, int]]
) -> None:
    url, ids = outbox_db

    one = mitreden("outbox", "retry", str(ids["resident"]), str(ids["ana"]))

    assert one.code == 2
    assert one.out == "1 message(s) queued again; the running bot sends them now\n"
    assert one.err.endswith(
        f"mitreden: not dead, so left alone: {ids['ana']} "
        "(`mitreden outbox dead` lists the dead messages)\n"
    )
    rest = mitreden("outbox", "retry", "--all")
    assert (rest.code, rest.out) == (
        0,
        "1 message(s) queued again; the running bot sends them now\n",
    )
    db = Database(url)
    try:
        query = select(OutboxMessage.id, OutboxMessage.state, OutboxMessage.attempts).where(
            col(OutboxMessage.id).in_([ids["group"], ids["resident"]])
        )
        rows = await db.run(lambda session: sorted(session.exec(query).all()))
    finally:
        await db.dispose()
    assert rows == sorted(
        [(ids["group"], OutboxState.PENDING, 0), (ids["resident"], OutboxState.PENDING, 0)]
    )
    after = mitreden("outbox")
    assert "item-new      telegram        0        1        0\n" in after.out
    assert after.out.endswith("total                         2        4        0\n")
    assert mitreden("outbox", "dead").out == "no dead messages\n"


def test_retry_wants_ids_or_all(mitreden: Cli, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:  # argparse's refusal, as from the shell
        mitreden("outbox", "retry")
    assert exited.value.code == 2
    assert "one of the arguments --all ID is required" in capsys.readouterr().err
