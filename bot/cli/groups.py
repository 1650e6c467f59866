"""`mitreden group add|edit|list`, `mitreden coordinator add|remove` and
`mitreden privacy purge`: changes that take
effect in the running bot at once, because it reads groups and coordinators from the database.

The configuration file seeds groups at every start and wins for the groups it names; members
added here (source "cli") are kept across restarts.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Awaitable, Callable

from bot.app import App
from handlers.residents.retention import purge
from storage.groups import GroupSpec

AppCommand = Callable[[App, argparse.Namespace], Awaitable[int]]
WithApp = Callable[[AppCommand], Callable[..., Awaitable[int]]]


def add_parsers(commands: argparse._SubParsersAction, with_app: WithApp) -> None:
    """Add the `group` and `coordinator` commands; `with_app` runs a function on a built app."""
    group_parser = commands.add_parser("group", help="working groups")
    group_parser.set_defaults(action=with_app(run_group))
    group = group_parser.add_subparsers(dest="group_command", required=True)
    for verb in ("add", "edit"):
        parser = group.add_parser(verb, help=f"{verb} a working group")
        parser.add_argument("key")
        parser.add_argument("--name", required=verb == "add")
        parser.add_argument("--fields", help="comma-separated keys of the fields it owns")
        parser.add_argument("--answer-days", type=int)
        parser.add_argument(
            "--default", action="store_true", help="items of fields no group owns go here"
        )
        parser.set_defaults(group_action=verb)
    group.add_parser("list", help="list the groups").set_defaults(group_action="list")
    privacy_parser = commands.add_parser("privacy", help="residents' data")
    privacy_parser.set_defaults(action=with_app(run_privacy))
    privacy = privacy_parser.add_subparsers(dest="privacy_command", required=True)
    purge_parser = privacy.add_parser("purge", help="apply the retention periods now")
    purge_parser.add_argument("--dry-run", action="store_true", help="only show what would go")
    coordinator_parser = commands.add_parser("coordinator", help="coordinators")
    coordinator_parser.set_defaults(action=with_app(run_coordinator))
    coordinator = coordinator_parser.add_subparsers(dest="coordinator_command", required=True)
    for verb in ("add", "remove"):
        parser = coordinator.add_parser(verb, help=f"{verb} a coordinator")
        parser.add_argument("group")
        parser.add_argument("member", help="platform:user_id, e.g. telegram:123456789")
        parser.set_defaults(coordinator_action=verb)


async def run_group(app: App, args: argparse.Namespace) -> int:
    groups, membership = app.store.groups, app.store.membership
    if args.group_action == "list":
        coordinators = await membership.list_coordinators()
        for g in await groups.list_groups():
            owned = ", ".join(await membership.fields_of(g.key)) or "-"
            people = (
                ", ".join(
                    f"{c.platform}:{c.user_id}" for c in coordinators if c.group_key == g.key
                )
                or "-"
            )
            chats = (
                ", ".join(
                    f"{c.platform}:{c.chat_id}" for c in await groups.list_group_chats(g.key)
                )
                or "-"
            )
            default = " (default)" if g.is_default else ""
            print(
                f"{g.key}{default}: {g.name}; answer within {g.answer_days} days\n"
                f"  fields: {owned}\n  coordinators: {people}\n  chats: {chats}"
            )
        return 0
    existing = await groups.get_group(args.key)
    if args.group_action == "add" and existing is not None:
        return _fail(f"group {args.key!r} exists; use `mitreden group edit`")
    if args.group_action == "edit" and existing is None:
        return _fail(f"no group {args.key!r}; `mitreden group list` shows them")
    fields = (
        tuple(f.strip() for f in args.fields.split(",") if f.strip())
        if args.fields is not None
        else tuple(await membership.fields_of(args.key))
    )
    for key in fields:
        if await groups.get_field(key) is None:
            return _fail(f"no field of action {key!r}")
    await membership.save_group(
        GroupSpec(
            key=args.key,
            name=args.name or (existing.name if existing else args.key),
            names=dict(existing.names) if existing else {},
            fields=fields,
            is_default=args.default or bool(existing and existing.is_default),
            answer_days=args.answer_days or (existing.answer_days if existing else 14),
        )
    )
    print(f"group {args.key} saved")
    return 0


async def run_coordinator(app: App, args: argparse.Namespace) -> int:
    platform, _, user_id = args.member.partition(":")
    if not user_id:
        return _fail("the member must look like platform:user_id")
    if await app.store.groups.get_group(args.group) is None:
        return _fail(f"no group {args.group!r}; `mitreden group list` shows them")
    membership = app.store.membership
    if args.coordinator_action == "add":
        added = await membership.add_coordinator(args.group, platform, user_id)
        print(
            f"{args.member} {'now coordinates' if added else 'already coordinates'} {args.group}"
        )
        return 0
    removed = await membership.remove_coordinator(args.group, platform, user_id)
    if not removed:
        return _fail(f"{args.member} does not coordinate {args.group}")
    print(f"{args.member} no longer coordinates {args.group}")
    return 0


async def run_privacy(app: App, args: argparse.Namespace) -> int:
    """`mitreden privacy purge [--dry-run]`: apply the retention periods now."""
    assert app.deps is not None
    result = await purge(app.deps, app.clock.now(), dry_run=args.dry_run)
    verb = "would be" if args.dry_run else "were"
    print(
        f"{result.inactive_contacts} inactive contact(s) {verb} erased, "
        f"{result.finished_items} finished item(s) {verb} anonymised"
    )
    return 0


def _fail(message: str) -> int:
    print(f"mitreden: {message}", file=sys.stderr)
    return 2
