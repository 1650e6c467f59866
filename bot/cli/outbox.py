"""`mitreden outbox`, `mitreden outbox dead [--limit N]`, `mitreden outbox retry --all|ID...`:
what the bot still has to send on its own, and the messages it gave up on.

For an operator who wonders why residents hear nothing: the backlog by kind and channel shows
whether messages pile up (due ones that stay are a bot that is not running or not getting
through), and the dead ones name their last error. Nothing here prints what a message says:
the outbox holds residents' texts (a new item goes to its working group with its text).
"""

from __future__ import annotations

import argparse
import sys

from bot.app import App
from bot.cli.groups import WithApp
from bot.cli.helptext import examples

DEAD_LIMIT = 50
ERROR_WIDTH = 160  # a last error longer than this is cut, to keep one message on one line


def add_parsers(commands: argparse._SubParsersAction, with_app: WithApp) -> None:
    parser = commands.add_parser(
        "outbox",
        help="what the bot still has to send on its own, and what it gave up on",
        description="Without a subcommand: the messages waiting to be sent and those given up, "
        "by kind and channel. queued: due later (or waiting for a retry); due: to be sent "
        "now, by the running bot; dead: given up after max_attempts or rejected by the "
        "platform. Sent messages and those to people who blocked the bot are not shown.",
        epilog=examples(
            "mitreden outbox",
            "mitreden outbox dead",
            "mitreden outbox retry --all",
            "mitreden outbox retry 1041 1042",
        ),
    )
    parser.set_defaults(action=with_app(run_outbox), outbox_command="backlog")
    commands_of = parser.add_subparsers(dest="outbox_command", metavar="COMMAND")
    dead = commands_of.add_parser(
        "dead",
        help="the dead messages, newest first, with their last error",
        epilog=examples("mitreden outbox dead", "mitreden outbox dead --limit 500"),
    )
    dead.add_argument(
        "--limit",
        type=int,
        default=DEAD_LIMIT,
        help=f"show at most this many (default: {DEAD_LIMIT})",
    )
    retry = commands_of.add_parser(
        "retry",
        help="queue dead messages again, due at once, with every attempt to come",
        description="Queue dead messages again: the running bot sends them at once and, "
        "should they fail again, retries them as it does any message. Retry once the cause is "
        "gone (a channel that was down, a chat the bot was added back to).",
        epilog=examples("mitreden outbox retry --all", "mitreden outbox retry 1041 1042"),
    )
    which = retry.add_mutually_exclusive_group(required=True)
    which.add_argument("--all", action="store_true", help="every dead message")
    which.add_argument(
        "ids", nargs="*", type=int, default=[], metavar="ID", help="ids from `outbox dead`"
    )


async def run_outbox(app: App, args: argparse.Namespace) -> int:
    if args.outbox_command == "dead":
        return await _dead(app, args.limit)
    if args.outbox_command == "retry":
        return await _retry(app, None if args.all else args.ids)
    return await _backlog(app)


async def _backlog(app: App) -> int:
    rows = await app.store.outbox.list_backlog(app.clock.now())
    if not rows:
        print("the outbox is empty: nothing waits to be sent, nothing was given up")
        return 0
    width = max(len("kind"), *(len(row.kind) for row in rows))
    header = f"{'kind':{width}}  {'channel':8}  {'queued':>7}  {'due':>7}  {'dead':>7}"
    print(header)
    for row in rows:
        print(
            f"{row.kind:{width}}  {row.platform:8}  "
            f"{row.queued:>7,}  {row.due:>7,}  {row.dead:>7,}"
        )
    queued, due, dead = (
        sum(getattr(r, column) for r in rows) for column in ("queued", "due", "dead")
    )
    print(f"{'total':{width}}  {'':8}  {queued:>7,}  {due:>7,}  {dead:>7,}")
    if dead:
        print(
            "`mitreden outbox dead` lists the dead messages with their last error; "
            "`mitreden outbox retry --all` queues them again"
        )
    return 0


async def _dead(app: App, limit: int) -> int:
    if limit < 1:
        print("mitreden: --limit must be 1 or more", file=sys.stderr)
        return 2
    dead, total = await app.store.outbox.list_dead(limit)
    if not dead:
        print("no dead messages")
        return 0
    zone = app.deps.zone if app.deps is not None else None
    for message in dead:
        about = f" {message.reference}" if message.reference else ""
        error = " ".join(message.last_error.split()) or "(no error recorded)"
        if len(error) > ERROR_WIDTH:
            error = error[: ERROR_WIDTH - 1] + "…"
        created = message.created_at.astimezone(zone).strftime("%Y-%m-%d %H:%M")
        print(
            f"{message.id} {created} {message.kind}{about} to {message.recipient}, "
            f"{message.attempts} attempt(s): {error}"
        )
    if total > len(dead):
        print(
            f"({total - len(dead):,} older dead message(s) not shown; --limit {total} shows all)"
        )
    return 0


async def _retry(app: App, ids: list[int] | None) -> int:
    retried = await app.store.outbox.retry_dead(app.clock.now(), ids)
    print(f"{len(retried):,} message(s) queued again; the running bot sends them now")
    missing = sorted(set(ids or ()) - set(retried))
    if missing:
        listed = ", ".join(str(i) for i in missing)
        print(
            f"mitreden: not dead, so left alone: {listed} (`mitreden outbox dead` lists the "
            "dead messages)",
            file=sys.stderr,
        )
        return 2
    return 0
