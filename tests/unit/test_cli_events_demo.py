"""`mitreden event add|edit|postpone` refuse a registration deadline after the event's start,
and `mitreden demo` refuses to double the demo data unless asked (issue 17, items 11 and 13):
what the administrator sees and what the database holds afterwards."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlmodel import func, select

from storage.db import Database
from storage.events.models import Event, EventState
from storage.models import Contact, FeedbackItem
from tests.cli_support import Cli


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


async def stored(url: str, query: object) -> list[object]:
    db = Database(url)
    try:
        return await db.run(lambda session: list(session.exec(query)))  # type: ignore[call-overload]
    finally:
        await db.dispose()


EVENT = ("event", "add", "rt2027", "--title", "Runder Tisch 2027", "--start", "2027-09-22T10:00")


async def test_a_deadline_after_the_start_is_refused(mitreden: Cli, database_url: str) -> None:
    next_day = mitreden(*EVENT, "--deadline", "2027-09-23T09:00")
    same_day = mitreden(*EVENT, "--deadline", "2027-09-22")

    assert next_day.code == 2
    assert next_day.err.endswith(
        "mitreden: the registration deadline 2027-09-23 09:00 is after the event's start "
        "2027-09-22 10:00; give a --deadline before the start\n"
    )
    assert same_day.code == 2
    assert same_day.err.endswith(
        "mitreden: the registration deadline 2027-09-22 23:59 (a date alone means the end of "
        "that day) is after the event's start 2027-09-22 10:00; give a --deadline before the "
        "start\n"
    )
    assert await stored(database_url, select(Event.slug)) == []

    added = mitreden(*EVENT, "--deadline", "2027-09-15")
    assert (added.code, added.out) == (0, "event rt2027 (id 1) saved with 0 workshop(s)\n")
    edited = mitreden("event", "edit", "rt2027", "--deadline", "2027-09-22T10:30")
    postponed = mitreden("event", "postpone", "rt2027", "2027-10-06", "--deadline", "2027-10-07")

    assert edited.code == 2 and "is after the event's start 2027-09-22 10:00" in edited.err
    assert postponed.code == 2 and "is after the event's start 2027-10-06 10:00" in postponed.err
    shown = mitreden("event", "show", "rt2027")
    assert "  registration " in shown.out and " – 2027-09-15 23:59;" in shown.out
    assert await stored(database_url, select(Event.state)) == [EventState.PLANNED]  # not postponed

    assert mitreden("event", "edit", "rt2027", "--deadline", "2027-09-22T09:00").code == 0
    assert " – 2027-09-22 09:00;" in mitreden("event", "show", "rt2027").out


async def test_demo_twice_is_refused_unless_again(mitreden: Cli, database_url: str) -> None:
    year = str(datetime.now(UTC).year)

    first = mitreden("demo", "--year", year, "--items", "1")

    assert first.code == 0, first.err
    assert re.fullmatch(
        r"added 1 contact, 1 item with (1 history row|\d+ history rows), 2 events with "
        r"\d+ workshops and \d+ registrations in \d+\.\d s\n",
        first.out,
    ), first.out
    counts = [select(func.count()).select_from(table) for table in (Contact, FeedbackItem)]
    assert [await stored(database_url, q) for q in counts] == [[1], [1]]

    second = mitreden("demo", "--year", year, "--items", "1")

    assert (second.code, second.out) == (2, "")
    assert second.err.endswith(
        "mitreden: this database already holds demo data (1 demo resident); another run adds "
        "as many residents and items again on top. Add --again to do that, or start from an "
        "empty database\n"
    )
    assert [await stored(database_url, q) for q in counts] == [[1], [1]]

    again = mitreden("demo", "--year", year, "--items", "1", "--again")

    assert again.code == 0, again.err
    # The year's events exist already and are left alone: "0 events", in the plural.
    assert again.out.startswith("added 1 contact, 1 item with ")
    assert ", 0 events with 0 workshops and 0 registrations in " in again.out
    assert [await stored(database_url, q) for q in counts] == [[2], [2]]
