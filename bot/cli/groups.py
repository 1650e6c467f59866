"""`mitreden group list|add|edit|remove`, `mitreden group chats list|add|remove`,
`mitreden coordinator list|add|remove` and `mitreden privacy purge|reapply`: changes that take
effect in the running bot at once, because it reads groups and coordinators from the database.

One rule decides between the configuration file and these commands (`SOURCE_RULE`, also in
the README): a `[[groups]]` entry seeds its group and is applied again only when the entry
changes; the command line owns the group otherwise, and says so when it changes a group the
configuration also defines.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path

from bot.app import App, group_specs
from bot.cli.helptext import examples
from handlers.messages import Platform
from handlers.public_text import anonymous_text
from handlers.residents.retention import purge
from storage.groups import GroupInUse, GroupSpec, Holdings
from storage.privacy import Reapplied

AppCommand = Callable[[App, argparse.Namespace], Awaitable[int]]
WithApp = Callable[[AppCommand], Callable[..., Awaitable[int]]]
PLATFORMS = tuple(p.value for p in Platform)

SOURCE_RULE = (
    "The configuration file's [[groups]] entries seed the working groups: at start, an entry "
    "is applied when it is new or has changed since it was last applied. Otherwise the "
    "database decides, and these commands change it for good (the running bot sees the change "
    "at once). A change to a group the configuration also defines lasts until that entry is "
    "edited; then the entry applies again, so make the same change in the file."
)


def add_parsers(commands: argparse._SubParsersAction, with_app: WithApp) -> None:
    """Add the `group`, `coordinator` and `privacy` commands; `with_app` runs a function on a
    built app."""
    group_parser = commands.add_parser(
        "group",
        help="working groups: list, add, edit, remove, and the chats they are notified in",
        description="Working groups, the fields of action they own and their chats.\n\n"
        + SOURCE_RULE,
        epilog=examples(
            "mitreden group list",
            "mitreden group edit uag-bildung --answer-days 10",
            "mitreden group chats add uag-bildung telegram:-1001234567890",
        ),
    )
    group_parser.set_defaults(action=with_app(run_group))
    group = group_parser.add_subparsers(dest="group_command", required=True, metavar="COMMAND")
    group.add_parser(
        "list",
        help="the groups with their fields, coordinators and chats",
        epilog=examples("mitreden group list"),
    ).set_defaults(group_action="list")
    for verb, example in (
        (
            "add",
            'mitreden group add uag-senioren --name "Unter-AG Ältere Menschen" '
            "--fields sonstiges --answer-days 10",
        ),
        ("edit", "mitreden group edit uag-bildung --answer-days 10"),
    ):
        parser = group.add_parser(
            verb,
            help=f"{verb} a working group",
            description=f"{verb.capitalize()} a working group; options not given stay as they"
            " are.\n\n" + SOURCE_RULE,
            epilog=examples(example),
        )
        parser.add_argument("key", help="the group's key, e.g. uag-bildung")
        parser.add_argument(
            "--name", required=verb == "add", help="its name, as coordinators and residents see it"
        )
        parser.add_argument(
            "--fields",
            help="comma-separated keys of the fields of action it owns (taken from the group "
            "that owned them)",
        )
        parser.add_argument(
            "--answer-days",
            type=int,
            help="days within which a resident gets a first answer (a new group: 14)",
        )
        parser.add_argument(
            "--default",
            action="store_true",
            help="items of fields no group owns go here (no other group stays the default)",
        )
        parser.set_defaults(group_action=verb)
    remove = group.add_parser(
        "remove",
        help="remove a working group with its coordinators and chats",
        description="Remove a working group with its coordinators and chats. A group that "
        "still owns items or fields of action is removed only with --move-to, which hands "
        "them to another group (each item's history records it; nobody is notified).",
        epilog=examples(
            "mitreden group remove uag-senioren",
            "mitreden group remove uag-senioren --move-to ag-integration",
        ),
    )
    remove.add_argument("key", help="the group's key")
    remove.add_argument(
        "--move-to", metavar="OTHER", help="the group that takes over its items and fields"
    )
    remove.set_defaults(group_action="remove")
    chats_parser = group.add_parser(
        "chats",
        help="the chats or rooms where a group gets its new items and digests",
        description="The chats (Telegram groups) or rooms (Matrix) where a working group gets "
        "its new items and weekly digest. /whoami, sent in the chat, shows its id.",
        epilog=examples(
            "mitreden group chats list uag-bildung",
            "mitreden group chats add uag-bildung telegram:-1001234567890",
            "mitreden group chats add uag-bildung 'matrix:!AbCdEf:example.org'",
            "mitreden group chats remove uag-bildung telegram:-1001234567890",
        ),
    )
    chats_parser.set_defaults(group_action="chats")
    chats = chats_parser.add_subparsers(dest="chats_command", required=True, metavar="COMMAND")
    chats.add_parser(
        "list",
        help="a group's chats",
        epilog=examples("mitreden group chats list uag-bildung"),
    ).add_argument("group", help="the group's key")
    for verb, text in (("add", "notify a group in a chat"), ("remove", "stop notifying it there")):
        parser = chats.add_parser(
            verb,
            help=text,
            epilog=examples(f"mitreden group chats {verb} uag-bildung telegram:-1001234567890"),
        )
        parser.add_argument("group", help="the group's key")
        parser.add_argument(
            "chat", help="PLATFORM:CHAT, e.g. telegram:-1001234567890 or matrix:!room:server"
        )
    privacy_parser = commands.add_parser(
        "privacy",
        help="residents' data: apply the retention periods, erase again after a restore",
        epilog=examples(
            "mitreden privacy purge --dry-run",
            "mitreden privacy purge",
            "mitreden privacy reapply",
        ),
    )
    privacy_parser.set_defaults(action=with_app(run_privacy))
    privacy = privacy_parser.add_subparsers(
        dest="privacy_command", required=True, metavar="COMMAND"
    )
    purge_parser = privacy.add_parser(
        "purge",
        help="apply the retention periods now ([privacy] in the configuration)",
        epilog=examples("mitreden privacy purge --dry-run"),
    )
    purge_parser.add_argument("--dry-run", action="store_true", help="only show what would go")
    privacy.add_parser(
        "reapply",
        help="erase again the residents who asked /forget and are back from a restored backup",
        description="Erase again every contact that the erasure journal (beside the database, "
        "outside every backup) records as erased on request and that the database holds: "
        "after a backup from before the erasure was restored (`mitreden restore` does this "
        "itself; after pg_restore, run it before the bot starts).",
        epilog=examples("mitreden privacy reapply"),
    )
    coordinator_parser = commands.add_parser(
        "coordinator",
        help="coordinators of working groups: list, add, remove",
        description="Who coordinates which working group. A person's id is what /whoami "
        "shows them, e.g. telegram:123456789 or matrix:@name:example.org.\n\n" + SOURCE_RULE,
        epilog=examples(
            "mitreden coordinator list",
            "mitreden coordinator add uag-bildung telegram:123456789",
        ),
    )
    coordinator_parser.set_defaults(action=with_app(run_coordinator))
    coordinator = coordinator_parser.add_subparsers(
        dest="coordinator_command", required=True, metavar="COMMAND"
    )
    listing = coordinator.add_parser(
        "list",
        help="the coordinators of every group, or of one",
        epilog=examples("mitreden coordinator list", "mitreden coordinator list uag-bildung"),
    )
    listing.add_argument("group", nargs="?", help="only this group's")
    listing.set_defaults(coordinator_action="list")
    for verb in ("add", "remove"):
        parser = coordinator.add_parser(
            verb,
            help=f"{verb} a coordinator",
            epilog=examples(f"mitreden coordinator {verb} uag-bildung telegram:123456789"),
        )
        parser.add_argument("group", help="the group's key")
        parser.add_argument("member", help="PLATFORM:USER_ID, e.g. telegram:123456789")
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
    if args.group_action == "chats":
        return await _chats(app, args)
    if args.group_action == "remove":
        return await _remove(app, args)
    existing = await groups.get_group(args.key)
    if args.group_action == "add" and existing is not None:
        return _fail(f"group {args.key!r} exists; use `mitreden group edit`")
    if args.group_action == "edit" and existing is None:
        return _fail(f"no group {args.key!r}; `mitreden group list` shows them")
    if args.answer_days is not None and args.answer_days < 1:
        return _fail("--answer-days must be 1 or more")
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
    if _configured(app, args.key) is not None:
        _note(
            f"{_config_file(app, args)} also defines {args.key}: this change lasts until that "
            "[[groups]] entry is edited, then the entry applies again; make the same change "
            "there"
        )
    return 0


async def _remove(app: App, args: argparse.Namespace) -> int:
    groups = app.store.groups
    group = await groups.get_group(args.key)
    if group is None:
        return _fail(f"no group {args.key!r}; `mitreden group list` shows them")
    if args.move_to is not None:
        if args.move_to == args.key:
            return _fail("--move-to must name another group")
        if await groups.get_group(args.move_to) is None:
            return _fail(f"no group {args.move_to!r} to move to; `mitreden group list` shows them")
    if group.is_default:
        return _fail(
            f"{args.key} is the default group (it gets the items of fields no group owns); "
            "make another group the default first: mitreden group edit OTHER --default"
        )
    try:
        held = await groups.delete_group(args.key, app.clock.now(), move_to=args.move_to)
    except GroupInUse as error:
        owned = ", ".join(await app.store.membership.fields_of(args.key))
        return _fail(
            f"{args.key} still owns {_holding(error.holdings, owned)}; nothing was removed. "
            "--move-to OTHER hands them to another group"
        )
    moved = f"; {_holding(held, '')} moved to {args.move_to}" if held.items or held.fields else ""
    print(
        f"group {args.key} removed with {_count(held.coordinators, 'coordinator')} "
        f"and {_count(held.chats, 'chat')}{moved}"
    )
    if _configured(app, args.key) is not None:
        _note(
            f"{_config_file(app, args)} still defines {args.key}: it is not created again "
            "unless that [[groups]] entry is edited; remove the entry there"
        )
    return 0


def _holding(held: Holdings, field_names: str) -> str:
    parts = []
    if held.items:
        parts.append(f"{_count(held.items, 'item')} ({held.open_items} open)")
    if held.fields:
        names = f" ({field_names})" if field_names else ""
        parts.append(f"{_count(held.fields, 'field')} of action{names}")
    return " and ".join(parts)


async def _chats(app: App, args: argparse.Namespace) -> int:
    groups = app.store.groups
    if await groups.get_group(args.group) is None:
        return _fail(f"no group {args.group!r}; `mitreden group list` shows them")
    spec = _configured(app, args.group)
    from_config = set(spec.chats) if spec is not None else set()
    if args.chats_command == "list":
        chats = await groups.list_group_chats(args.group)
        for chat in chats:
            source = "configuration" if chat.source == "config" else "command line"
            print(f"{chat.platform}:{chat.chat_id} (from the {source})")
        if not chats:
            print(f"{args.group} has no chats; `mitreden group chats add` adds one")
        return 0
    platform, chat_id = _address(args.chat)
    if not chat_id:
        return _fail("the chat must look like PLATFORM:CHAT, e.g. telegram:-1001234567890")
    if platform not in PLATFORMS:
        return _fail(f"unknown platform {platform!r} (known: {', '.join(PLATFORMS)})")
    if args.chats_command == "add":
        added = await app.store.membership.add_group_chat(args.group, platform, chat_id)
        state = "now gets" if added else "already gets"
        print(f"{args.chat} {state} the new items of {args.group}")
        return 0
    if not await groups.delete_group_chat(args.group, platform, chat_id):
        return _fail(f"{args.chat} is not a chat of {args.group}")
    print(f"{args.chat} no longer gets the items of {args.group}")
    if (platform, chat_id) in from_config:
        _note(_listed_in_config(app, args, args.chat, args.group))
    return 0


async def run_coordinator(app: App, args: argparse.Namespace) -> int:
    groups = app.store.groups
    if args.coordinator_action == "list":
        if args.group is not None and await groups.get_group(args.group) is None:
            return _fail(f"no group {args.group!r}; `mitreden group list` shows them")
        coordinators = await groups.list_coordinators_named(args.group)
        for c in coordinators:
            source = "configuration" if c.source == "config" else "command line"
            name = f" {c.display_name}" if c.display_name else ""
            print(f"{c.group_key}: {c.platform}:{c.user_id}{name} (from the {source})")
        if not coordinators:
            where = f" of {args.group}" if args.group is not None else ""
            print(f"no coordinators{where}; `mitreden coordinator add` adds one")
        return 0
    platform, user_id = _address(args.member)
    if not user_id:
        return _fail("the member must look like platform:user_id")
    if platform not in PLATFORMS:
        return _fail(f"unknown platform {platform!r} (known: {', '.join(PLATFORMS)})")
    if await groups.get_group(args.group) is None:
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
    spec = _configured(app, args.group)
    if spec is not None and (platform, user_id) in spec.coordinators:
        _note(_listed_in_config(app, args, args.member, args.group))
    return 0


async def run_privacy(app: App, args: argparse.Namespace) -> int:
    """`mitreden privacy purge [--dry-run]`: apply the retention periods now;
    `mitreden privacy reapply`: apply the recorded erasures again."""
    assert app.deps is not None
    if args.privacy_command == "reapply":
        journal = app.store.privacy.journal
        done = await app.store.privacy.reapply_erasures(scrub=anonymous_text)
        print(reapplied_line(done, journal.path if journal else None))
        return 0
    result = await purge(app.deps, app.clock.now(), dry_run=args.dry_run)
    verb = "would be" if args.dry_run else "were"
    print(
        f"{result.inactive_contacts} inactive contact(s) {verb} erased, "
        f"{result.finished_items} finished item(s) {verb} anonymised"
    )
    return 0


def reapplied_line(done: Reapplied, journal: Path | None) -> str:
    """What `privacy reapply` (and `restore`) did, in one line."""
    return (
        f"{done.contacts} contact(s) erased again; the erasure journal {journal} records "
        f"{done.recorded} erasure(s) on request"
    )


def _configured(app: App, key: str) -> GroupSpec | None:
    """The configuration's entry for group `key`, if it has one."""
    return next((spec for spec in group_specs(app.settings)[1] if spec.key == key), None)


def _config_file(app: App, args: argparse.Namespace) -> str:
    """The configuration as the administrator knows it: the file the command read (chosen as
    bot.cli.main does: --config, $MITREDEN_CONFIG, ./config.toml), or the built-in groups
    that stand in when it configures no fields of action."""
    if not app.settings.fields:
        return "the built-in default configuration (no [[fields]] configured)"
    given = args.config or os.environ.get("MITREDEN_CONFIG") or "config.toml"
    return f"the configuration file {Path(given)}"


def _listed_in_config(app: App, args: argparse.Namespace, member: str, group: str) -> str:
    return (
        f"{_config_file(app, args)} still lists {member} for {group}: it comes back when "
        "that [[groups]] entry is next edited; remove it there too"
    )


def _address(text: str) -> tuple[str, str]:
    platform, _, ident = text.partition(":")
    return platform.strip().lower(), ident.strip()


def _count(n: int, noun: str) -> str:
    return f"{n:,} {noun}" if n == 1 else f"{n:,} {noun}s"


def _note(message: str) -> None:
    """Something the administrator must know although the command did what was asked."""
    print(f"mitreden: note: {message}", file=sys.stderr)


def _fail(message: str) -> int:
    print(f"mitreden: {message}", file=sys.stderr)
    return 2
