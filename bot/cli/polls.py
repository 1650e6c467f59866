"""`mitreden poll add|list|show|close`: polls, with their texts per language, audience and
opening and closing times, and their results.

Times are city time ("2027-03-15T18:00"). The running bot picks a new poll up at its next
plan tick: it asks the audience when the poll opens and sends every participant the results
when it closes (`poll close` closes it now).
"""

from __future__ import annotations

import argparse
import sys
import tomllib
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from bot.app import App
from bot.cli.groups import WithApp
from bot.cli.helptext import examples
from handlers.asking.polls import PollError, new_poll, poll_state
from handlers.asking.texts import SOURCE
from handlers.events.admin import parse_local
from handlers.i18n import LANGUAGE_NAMES
from storage.asking_models import Poll
from storage.polls import DuplicatePoll

DEFAULT_DAYS = 7  # a poll without --closes is open this long
ADD_EXAMPLE = (
    'mitreden poll add abendkurse --question "Sollen Sprachkurse auch abends stattfinden?" '
    '--option "Ja" --option "Nein" --option "Egal" '
    '--question-en "Should language courses also take place in the evening?" '
    '--option-en "Yes" --option-en "No" --option-en "Don\'t mind" '
    "--to all --opens 2027-03-01T09:00 --closes 2027-03-15T18:00"
)
FILE_EXAMPLE = """\
  # abendkurse.toml: the key, audience and times, then a table per language
  key = "abendkurse"
  audience = "event:rt2027"        # subscribers, all, or event:KEY (its registrants)
  opens = "2027-03-01T09:00"
  closes = "2027-03-15T18:00"

  [de]
  question = "Sollen Sprachkurse auch abends stattfinden?"
  options = ["Ja", "Nein", "Egal"]

  [en]
  question = "Should language courses also take place in the evening?"
  options = ["Yes", "No", "Don't mind"]"""


def add_parsers(commands: argparse._SubParsersAction, with_app: WithApp) -> None:
    parser = commands.add_parser(
        "poll",
        help="polls: ask residents a question, send them the results",
        description="Polls: a question with 2 to 6 options, in German and any other of the "
        "bot's languages, to an audience: subscribers, all (every resident who has not sent "
        "/stop) or event:KEY (the registrants of an event). The running bot asks them "
        "when the poll opens; residents answer with the buttons (Telegram) or the option's "
        "number (Matrix), once per person, and may change their answer until it closes. Then "
        "every participant gets the results in their language, and so do the working groups' "
        "chats. Times are city time (bot.timezone).",
        epilog=examples(
            "mitreden poll list",
            "mitreden poll show abendkurse",
            "mitreden poll close abendkurse",
        ),
    )
    parser.set_defaults(action=with_app(run_poll))
    poll = parser.add_subparsers(dest="poll_command", required=True, metavar="COMMAND")
    add = poll.add_parser(
        "add",
        help="add a poll, from options or a TOML file",
        description="Add a poll. Residents who chose a language without a text get the "
        "German one. A TOML file holds the same (options given as well win):\n\n" + FILE_EXAMPLE,
        epilog=examples(ADD_EXAMPLE, "mitreden poll add --file abendkurse.toml"),
    )
    add.add_argument("key", nargs="?", help="a short key, e.g. abendkurse (or `key` in --file)")
    add.add_argument("--file", type=Path, help="a TOML file with the poll (see above)")
    add.add_argument("--question", help="the question in German")
    add.add_argument(
        "--option", action="append", default=[], help="an answer in German; 2 to 6, in order"
    )
    for code in LANGUAGE_NAMES:
        if code == SOURCE:
            continue
        flag = code.replace("_", "-")
        name = LANGUAGE_NAMES[code]
        add.add_argument(f"--question-{flag}", dest=f"question_{code}", help=f"in {name}")
        add.add_argument(
            f"--option-{flag}",
            dest=f"option_{code}",
            action="append",
            default=[],
            help=f"an answer in {name}, as many and in the order of --option",
        )
    add.add_argument(
        "--to",
        dest="audience",
        help="subscribers, all (default) or event:KEY (the registrants of an event)",
    )
    add.add_argument("--opens", help="when it opens, 2027-03-01T09:00 (default: now)")
    add.add_argument(
        "--closes", help=f"when it closes, 2027-03-15T18:00 (default: {DEFAULT_DAYS} days open)"
    )
    poll.add_parser(
        "list", help="every poll with its state and answers", epilog=examples("mitreden poll list")
    )
    show = poll.add_parser(
        "show",
        help="a poll's texts and its results so far",
        epilog=examples("mitreden poll show abendkurse"),
    )
    show.add_argument("poll", help="its key or id")
    close = poll.add_parser(
        "close",
        help="close a poll now; the participants get the results",
        epilog=examples("mitreden poll close abendkurse"),
    )
    close.add_argument("poll", help="its key or id")


async def run_poll(app: App, args: argparse.Namespace) -> int:
    command = args.poll_command
    if command == "add":
        return await _add(app, args)
    if command == "list":
        return await _list(app)
    poll = await app.store.polls.get_poll(args.poll)
    if poll is None or poll.id is None:
        return _fail(f"no poll {args.poll!r}; `mitreden poll list` shows them")
    if command == "show":
        return await _show(app, poll)
    now = app.clock.now()
    if poll.closes_at <= now:
        return _fail(f"{poll.key} closed already, at {_local(app, poll.closes_at)}")
    await app.store.polls.set_closes_at(poll.id, now, now)
    if now < poll.opens_at:
        print(f"{poll.key} closed before it opened; nobody is asked")
    else:
        print(f"{poll.key} closed; the running bot sends the participants the results")
    return 0


def _read_file(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except OSError as error:
        raise PollError(f"cannot read {path}: {error.strerror}") from None
    except tomllib.TOMLDecodeError as error:
        raise PollError(f"{path}: {error}") from None


def _definition(args: argparse.Namespace) -> dict[str, Any]:
    """The poll from --file with the options given on top."""
    found = _read_file(args.file) if args.file is not None else {}
    texts: dict[str, dict[str, Any]] = {
        language: dict(value) for language, value in found.items() if isinstance(value, dict)
    }
    for code in LANGUAGE_NAMES:
        question = args.question if code == SOURCE else getattr(args, f"question_{code}", None)
        options = args.option if code == SOURCE else getattr(args, f"option_{code}", [])
        if question:
            texts.setdefault(code, {})["question"] = question
        if options:
            texts.setdefault(code, {})["options"] = options
    return {
        "key": args.key or found.get("key", ""),
        "audience": args.audience or found.get("audience", "all"),
        "opens": args.opens or found.get("opens"),
        "closes": args.closes or found.get("closes"),
        "texts": texts,
    }


def _time(app: App, value: Any, what: str) -> datetime:
    assert app.deps is not None
    if isinstance(value, datetime):  # a TOML date-time without quotes
        return value if value.tzinfo else value.replace(tzinfo=app.deps.zone)
    parsed = parse_local(str(value), app.deps)
    if parsed is None:
        raise PollError(f"cannot read {what} {value!r}; write it as 2027-03-15T18:00")
    return parsed


async def _add(app: App, args: argparse.Namespace) -> int:
    assert app.deps is not None
    now = app.clock.now()
    try:
        given = _definition(args)
        if not given["key"]:
            raise PollError("the poll needs a key (the first argument, or `key` in --file)")
        opens = _time(app, given["opens"], "--opens") if given["opens"] else now
        closes = (
            _time(app, given["closes"], "--closes")
            if given["closes"]
            else opens + timedelta(days=DEFAULT_DAYS)
        )
        poll = await new_poll(
            app.deps, str(given["key"]), given["texts"], given["audience"], opens, closes, now
        )
        poll = await app.store.polls.add_poll(poll)
    except PollError as error:
        return _fail(str(error))
    except DuplicatePoll:
        return _fail(f"poll {given['key']!r} exists; `mitreden poll show {given['key']}`")
    reach = await app.store.polls.count_audience(poll.audience)
    languages = ", ".join(poll.texts)
    print(
        f"poll {poll.key} (id {poll.id}) saved: {_local(app, poll.opens_at)} – "
        f"{_local(app, poll.closes_at)}, to {poll.audience} ({reach} now), in {languages}"
    )
    return 0


async def _list(app: App) -> int:
    now = app.clock.now()
    for poll in await app.store.polls.list_polls():
        assert poll.id is not None
        results = await app.store.polls.results(poll.id)
        assert results is not None
        print(
            f"{poll.id} {poll.key} [{poll_state(poll, now)}] to {poll.audience}, "
            f"{_local(app, poll.opens_at)} – {_local(app, poll.closes_at)}; "
            f"{results.answered} answer(s) from {results.reached} reached"
        )
    return 0


async def _show(app: App, poll: Poll) -> int:
    assert poll.id is not None
    results = await app.store.polls.results(poll.id)
    assert results is not None
    now = app.clock.now()
    print(f"{poll.key} (id {poll.id}) [{poll_state(poll, now)}] to {poll.audience}")
    print(f"  {_local(app, poll.opens_at)} – {_local(app, poll.closes_at)}")
    for language, texts in poll.texts.items():
        print(f"  {language}: {texts['question']} / {' / '.join(texts['options'])}")
    for label, count in zip(poll.texts[SOURCE]["options"], results.counts, strict=False):
        share = f"{count / results.answered:.0%}" if results.answered else "-"
        print(f"  {label}: {count} ({share})")
    rate = f"{results.answered / results.reached:.0%}" if results.reached else "-"
    print(f"  {results.answered} answer(s) from {results.reached} people reached ({rate})")
    return 0


def _local(app: App, moment: datetime) -> str:
    assert app.deps is not None
    return moment.astimezone(app.deps.zone).strftime("%Y-%m-%d %H:%M")


def _fail(message: str) -> int:
    print(f"mitreden: {message}", file=sys.stderr)
    return 2
