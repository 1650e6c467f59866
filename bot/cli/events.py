"""`mitreden event add|edit|list|show|postpone|cancel`, `mitreden event doc add|replace|list`
and `mitreden event registrations EVENT [--csv]`.

Times are city time ("2027-09-22T10:00"); a date alone means 00:00, except for the
registration deadline, where it means the end of that day. The running bot picks every
change up at its next plan tick: invitations, documents and reminders follow from the data.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import mimetypes
import sys
from datetime import datetime, time, timedelta
from pathlib import Path
from typing import Any

from bot.app import App
from bot.cli.groups import WithApp
from bot.cli.helptext import examples
from handlers.context import Deps
from handlers.events.admin import cancel_event, parse_local, postpone_event
from storage.events.models import Event, EventState, Workshop

ADD_EXAMPLE = (
    'mitreden event add rt2027 --title "Runder Tisch Integration 2027" --round-table '
    "--start 2027-09-22T10:00 --deadline 2027-09-15 --capacity 120 "
    '--workshop "Lokaltermin Bildung und Sprache|bildung|25|14:00"'
)


def add_parsers(commands: argparse._SubParsersAction, with_app: WithApp) -> None:
    parser = commands.add_parser(
        "event",
        help="events, their documents and registrations",
        description="Events (the yearly round table with its workshops, and others), their "
        "documents and registrations. Times are city time (bot.timezone), written "
        "2027-09-22T10:00; a date alone means 00:00, except for a registration deadline, "
        "where it means the end of that day. The running bot picks every change up at its "
        "next plan tick: invitations, documents and reminders follow from the data.",
        epilog=examples(
            "mitreden event list",
            "mitreden event show rt2027",
            "mitreden event registrations rt2027 --csv > anmeldungen.csv",
        ),
    )
    parser.set_defaults(action=with_app(run_event))
    event = parser.add_subparsers(dest="event_command", required=True, metavar="COMMAND")
    for verb, example in (
        ("add", ADD_EXAMPLE),
        ("edit", "mitreden event edit rt2027 --capacity 150 --deadline 2027-09-18"),
    ):
        p = event.add_parser(verb, help=f"{verb} an event", epilog=examples(example))
        p.add_argument("event", help="a short key, e.g. rt2027 (edit: or the id)")
        p.add_argument("--title", required=verb == "add", help="the title residents see")
        p.add_argument(
            "--start",
            required=verb == "add",
            help="2027-09-22T10:00, city time (edit: use `event postpone`)",
        )
        p.add_argument("--end", help="2027-09-22T17:00 (default: start + 6 hours)")
        p.add_argument("--place", help="where it takes place, as residents see it")
        p.add_argument("--description", help="a few sentences for the invitation")
        p.add_argument("--opens", help="when registration opens (default: now)")
        p.add_argument(
            "--deadline",
            help="registration deadline, not after the start; a date alone is the end of that "
            "day (default: 5 days before the start)",
        )
        p.add_argument("--capacity", type=int, help="places in all (default: no limit)")
        p.add_argument(
            "--lead-days",
            type=int,
            help="registrants get the documents this many days before (default: 14)",
        )
        p.add_argument(
            "--workshop",
            action="append",
            default=[],
            help='"TITLE[|FIELD[|CAPACITY[|HH:MM]]]", repeatable (edit: adds one)',
        )
        p.add_argument(
            "--round-table",
            action=argparse.BooleanOptionalAction,
            help="the yearly round table: the year report is due before it",
        )
        if verb == "edit":
            p.add_argument(
                "--state",
                choices=[s.value for s in EventState],
                help="set the state directly (postpone and cancel tell registrants)",
            )
    event.add_parser(
        "list",
        help="list the events with their registrations",
        epilog=examples("mitreden event list"),
    )
    show = event.add_parser(
        "show",
        help="an event with its workshops and documents",
        epilog=examples("mitreden event show rt2027"),
    )
    show.add_argument("event", help="its key or id")
    postpone = event.add_parser(
        "postpone",
        help="move an event; registrants are told",
        epilog=examples(
            'mitreden event postpone rt2027 2027-10-06 --reason "Der Bürgersaal ist belegt"'
        ),
    )
    postpone.add_argument("event", help="its key or id")
    postpone.add_argument("start", help="2027-10-14 (same time of day) or 2027-10-14T10:00")
    postpone.add_argument("--reason", default="", help="told to registrants with the new date")
    postpone.add_argument(
        "--deadline",
        help="new registration deadline, not after the new start (default: moved with it)",
    )
    cancel = event.add_parser(
        "cancel",
        help="cancel an event; registrants are told",
        epilog=examples('mitreden event cancel rt2027 --reason "Der Bürgersaal ist gesperrt"'),
    )
    cancel.add_argument("event", help="its key or id")
    cancel.add_argument("--reason", default="", help="told to registrants")
    registrations = event.add_parser(
        "registrations",
        help="who registered, with code, state and workshop",
        epilog=examples(
            "mitreden event registrations rt2027",
            "mitreden event registrations rt2027 --csv > anmeldungen.csv",
        ),
    )
    registrations.add_argument("event", help="its key or id")
    registrations.add_argument("--csv", action="store_true", help="as CSV on stdout")
    doc = event.add_parser(
        "doc",
        help="an event's documents: add, replace, list",
        description="The documents registrants get --lead-days before the event (and at once "
        "when they register later); a replaced document goes to everyone who had it.",
        epilog=examples(
            'mitreden event doc add rt2027 Programm.pdf --title "Programm und Lokaltermine"',
            "mitreden event doc list rt2027",
        ),
    ).add_subparsers(dest="doc_command", required=True, metavar="COMMAND")
    add = doc.add_parser(
        "add",
        help="add a document",
        epilog=examples(
            "mitreden event doc add rt2027 Integrationskonzept-2027.pdf "
            '--title "Integrationskonzept (Neufassung)"'
        ),
    )
    add.add_argument("event", help="its key or id")
    add.add_argument("file", type=Path, help="the file to send")
    add.add_argument("--title", help="what residents see (default: the file name)")
    replace = doc.add_parser(
        "replace",
        help="a new version of a document; registrants who had it get it",
        epilog=examples("mitreden event doc replace rt2027 1 Integrationskonzept-2027-v2.pdf"),
    )
    replace.add_argument("event", help="its key or id")
    replace.add_argument("document", type=int, help="its id (`event doc list`)")
    replace.add_argument("file", type=Path, help="the new version")
    listing = doc.add_parser(
        "list", help="the event's documents", epilog=examples("mitreden event doc list rt2027")
    )
    listing.add_argument("event", help="its key or id")


async def run_event(app: App, args: argparse.Namespace) -> int:
    assert app.deps is not None
    command = args.event_command
    if command == "list":
        return await _list(app)
    if command == "add":
        return await _add(app, app.deps, args)
    event = await app.store.events.get_event(args.event)
    if event is None or event.id is None:
        return _fail(f"no event {args.event!r}; `mitreden event list` shows them")
    now = app.clock.now()
    if command == "edit":
        return await _edit(app, app.deps, event, args)
    if command == "show":
        return await _show(app, event)
    if command == "postpone":
        start = parse_local(args.start, app.deps, keep=event.starts_at)
        if start is None:
            return _fail(f"cannot read the date {args.start!r}")
        deadline = _deadline(args.deadline, app.deps) if args.deadline else None
        if args.deadline and deadline is None:
            return _fail(f"cannot read --deadline {args.deadline!r}")
        if deadline is not None and deadline > start:
            return _deadline_after_start(app, args.deadline, deadline, start)
        moved = await postpone_event(app.deps, event, start, args.reason, now, deadline=deadline)
        assert moved is not None
        print(f"{event.slug} moved to {_local(app, moved[0].starts_at)}; registrants are told")
        return 0
    if command == "cancel":
        await cancel_event(app.deps, event, args.reason, now)
        print(f"{event.slug} cancelled; registrants are told")
        return 0
    if command == "registrations":
        return await _registrations(app, event, args.csv)
    return await _doc(app, event, args)


async def _add(app: App, deps: Deps, args: argparse.Namespace) -> int:
    if await app.store.events.get_event(args.event) is not None:
        return _fail(f"event {args.event!r} exists; use `mitreden event edit`")
    now = app.clock.now()
    start = parse_local(args.start, deps)
    if start is None:
        return _fail(f"cannot read --start {args.start!r}")
    end = parse_local(args.end, deps) if args.end else start + timedelta(hours=6)
    opens = parse_local(args.opens, deps) if args.opens else now
    deadline = _deadline(args.deadline, deps) if args.deadline else start - timedelta(days=5)
    if end is None or opens is None or deadline is None:
        return _fail("cannot read --end, --opens or --deadline")
    if deadline > start:
        return _deadline_after_start(app, args.deadline, deadline, start)
    workshops = [_workshop(spec, start, deps) for spec in args.workshop]
    event = await app.store.events.add_event(
        Event(
            slug=args.event.lower(),
            title=args.title,
            description=args.description or "",
            place=args.place or "",
            starts_at=start,
            ends_at=end,
            registration_opens_at=opens,
            registration_deadline=deadline,
            capacity=args.capacity,
            documents_lead_days=args.lead_days if args.lead_days is not None else 14,
            round_table=bool(args.round_table),
            created_at=now,
            updated_at=now,
        ),
        workshops,
    )
    print(f"event {event.slug} (id {event.id}) saved with {len(workshops)} workshop(s)")
    return 0


async def _edit(app: App, deps: Deps, event: Event, args: argparse.Namespace) -> int:
    assert event.id is not None
    values: dict[str, Any] = {}
    for option, column in (("title", "title"), ("place", "place"), ("description", "description")):
        if getattr(args, option) is not None:
            values[column] = getattr(args, option)
    if args.start is not None:
        return _fail("to change the date, use `mitreden event postpone` (registrants are told)")
    if args.end:
        values["ends_at"] = parse_local(args.end, deps)
    if args.opens:
        values["registration_opens_at"] = parse_local(args.opens, deps)
    if args.deadline:
        deadline = _deadline(args.deadline, deps)
        if deadline is not None and deadline > event.starts_at:
            return _deadline_after_start(app, args.deadline, deadline, event.starts_at)
        values["registration_deadline"] = deadline
    if args.capacity is not None:
        values["capacity"] = args.capacity
    if args.lead_days is not None:
        values["documents_lead_days"] = args.lead_days
    if args.state:
        values["state"] = args.state
    if args.round_table is not None:
        values["round_table"] = args.round_table
    if None in values.values() and "capacity" not in values:
        return _fail("cannot read one of the dates")
    await app.store.events.set_event(event.id, app.clock.now(), **values)
    for spec in args.workshop:
        workshop = _workshop(spec, event.starts_at, deps)
        workshop.event_id = event.id
        await app.store.events.add_workshop(workshop)
    print(f"event {event.slug} saved")
    return 0


async def _list(app: App) -> int:
    events = await app.store.events.list_events()
    counts = await app.store.events.overview([e.id for e in events if e.id is not None])
    for event in events:
        o = counts[event.id or 0]
        capacity = event.capacity if event.capacity is not None else "-"
        print(
            f"{event.id} {event.slug}: {event.title}, {_local(app, event.starts_at)} "
            f"({event.state}); {o.registered}/{capacity} registered, {o.waitlisted} waiting, "
            f"{o.documents} document(s)"
        )
    return 0


async def _show(app: App, event: Event) -> int:
    assert event.id is not None
    marker = ", round table" if event.round_table else ""
    print(f"{event.slug} (id {event.id}): {event.title} [{event.state}{marker}]")
    print(f"  {_local(app, event.starts_at)} – {_local(app, event.ends_at)}, {event.place}")
    print(
        f"  registration {_local(app, event.registration_opens_at)} – "
        f"{_local(app, event.registration_deadline)}; capacity {event.capacity or '-'}; "
        f"documents {event.documents_lead_days} days before"
    )
    if event.reason:
        print(f"  reason: {event.reason}")
    for places in await app.store.events.list_workshops(event.id):
        w = places.workshop
        seats = f"{places.taken}/{w.capacity or '-'}"
        print(f"  workshop {w.id}: {w.title} [{w.field_key or '-'}] {seats}")
    for d in await app.store.events.list_documents(event.id):
        print(f"  document {d.id}: {d.title} ({d.file_name}, v{d.version}, {d.size} bytes)")
    return 0


async def _registrations(app: App, event: Event, as_csv: bool) -> int:
    assert event.id is not None
    rows = await app.store.registrations.list_for_event(event.id)
    if as_csv:
        writer = csv.writer(sys.stdout)
        writer.writerow(["code", "state", "name", "platform", "language", "workshop", "since"])
        for r, c, w in rows:
            writer.writerow(
                [
                    r.code,
                    r.state,
                    c.display_name,
                    c.platform,
                    c.language or "",
                    w.title if w else "",
                    r.updated_at.isoformat(),
                ]
            )
        return 0
    for r, c, w in rows:
        print(f"{r.code} {r.state:10} {c.display_name or '-'} · {w.title if w else '-'}")
    return 0


async def _doc(app: App, event: Event, args: argparse.Namespace) -> int:
    assert event.id is not None
    now = app.clock.now()
    if args.doc_command == "list":
        for d in await app.store.events.list_documents(event.id):
            print(f"{d.id} {d.title} ({d.file_name}, version {d.version}, sha256 {d.sha256[:12]})")
        return 0
    path: Path = args.file
    try:
        data = await asyncio.to_thread(path.read_bytes)
    except OSError as error:
        return _fail(f"cannot read {path}: {error.strerror}")
    mime = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    if args.doc_command == "add":
        added = await app.store.events.add_document(
            event.id, args.title or path.stem, path.name, mime, data, now
        )
        print(f"document {added.id} added to {event.slug}")
        return 0
    known = {d.id for d in await app.store.events.list_documents(event.id)}
    if args.document not in known:
        return _fail(f"{event.slug} has no document {args.document}")
    before = {d.id: d.version for d in await app.store.events.list_documents(event.id)}
    doc = await app.store.events.replace_document(args.document, path.name, mime, data, now)
    assert doc is not None
    if doc.version == before.get(doc.id):
        print(f"document {doc.id} is unchanged (the same file)")
        return 0
    print(f"document {doc.id} is now version {doc.version}; registrants who had it are told")
    return 0


def _workshop(spec: str, start: datetime, deps: Deps) -> Workshop:
    title, field, capacity, at = ([*spec.split("|"), "", "", ""])[:4]
    starts_at = None
    if at:
        hour, _, minute = at.partition(":")
        local = start.astimezone(deps.zone).date()
        starts_at = datetime.combine(local, time(int(hour), int(minute or 0)), tzinfo=deps.zone)
    return Workshop(
        event_id=0,
        title=title.strip(),
        field_key=field.strip() or None,
        capacity=int(capacity) if capacity.strip() else None,
        starts_at=starts_at,
    )


def _deadline(text: str, deps: Deps) -> datetime | None:
    """A date alone is the end of that day."""
    parsed = parse_local(text, deps)
    if parsed is not None and len(text.strip()) <= 10:
        return parsed.replace(hour=23, minute=59)
    return parsed


def _deadline_after_start(app: App, given: str, deadline: datetime, start: datetime) -> int:
    """Refuse a registration deadline after the event's start: residents could register for
    an event already under way, and reminders before the deadline would come after it."""
    whole_day = " (a date alone means the end of that day)" if len(given.strip()) <= 10 else ""
    return _fail(
        f"the registration deadline {_local(app, deadline)}{whole_day} is after the event's "
        f"start {_local(app, start)}; give a --deadline before the start"
    )


def _local(app: App, moment: datetime) -> str:
    assert app.deps is not None
    return moment.astimezone(app.deps.zone).strftime("%Y-%m-%d %H:%M")


def _fail(message: str) -> int:
    print(f"mitreden: {message}", file=sys.stderr)
    return 2
