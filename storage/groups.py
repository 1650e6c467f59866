"""Fields of action, working groups, their coordinators and chats, and routing.

One rule decides between the configuration and the command line: fields of action follow the
configuration at every start; a `[[groups]]` entry seeds its working group, applied when it is
new or changed since it was last applied (a fingerprint in `group_seed`), and otherwise the
database, changed by `mitreden group|coordinator ...`, owns the group.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import NamedTuple

from sqlalchemy import Executable, and_, bindparam, delete, func, update
from sqlalchemy.orm import aliased
from sqlmodel import Session, col, select

from storage.db import Database, cached
from storage.models import (
    OPEN_STATES,
    Contact,
    Coordinator,
    FeedbackItem,
    FieldOfAction,
    GroupChat,
    GroupField,
    GroupSeed,
    ItemEvent,
    WorkingGroup,
)
from storage.upsert import insert_for


@dataclass(frozen=True, slots=True)
class FieldSpec:
    key: str
    name: str
    names: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class GroupSpec:
    key: str
    name: str
    fields: tuple[str, ...] = ()
    names: dict[str, str] = field(default_factory=dict)
    is_default: bool = False
    answer_days: int = 14
    coordinators: tuple[tuple[str, str], ...] = ()  # (platform, user_id)
    chats: tuple[tuple[str, str], ...] = ()  # (platform, chat_id)

    def fingerprint(self) -> str:
        """A digest of everything the entry says, to notice at the next start that it changed."""
        entry = json.dumps(dataclasses.asdict(self), sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(entry.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class Holdings:
    """What refers to a working group: what `remove_group` must move or delete."""

    items: int = 0
    open_items: int = 0  # of `items`, those still waiting for the group (received, in progress)
    fields: int = 0
    coordinators: int = 0
    chats: int = 0


@dataclass(frozen=True, slots=True)
class NamedCoordinator:
    """A coordinator with the display name of their contact, when they ever wrote to the bot."""

    group_key: str
    platform: str
    user_id: str
    source: str  # "config" or "cli"
    display_name: str | None


class GroupInUse(Exception):
    """The group still owns items or fields of action, and nothing was said where they go."""

    def __init__(self, holdings: Holdings) -> None:
        super().__init__(f"{holdings.items} item(s), {holdings.fields} field(s)")
        self.holdings = holdings


class UnknownField(LookupError):
    """The item names a field of action the store does not know."""


# Fields of action change only with the configuration (`sync_from_config`, at start), yet
# every step of the feedback flow reads them; they are kept in memory, and re-read after this
# many seconds in case another process synchronised a changed configuration.
FIELDS_CACHE_SECONDS = 30.0


class GroupStore:
    def __init__(self, db: Database) -> None:
        self._db = db
        self._fields: dict[str, FieldOfAction] = {}  # every field, active or not, in order
        self._fields_read_at: float | None = None
        self._fields_generation = 0  # moves on with every synchronisation

    async def sync_from_config(
        self, fields: Sequence[FieldSpec], groups: Sequence[GroupSpec]
    ) -> list[str]:
        """Make the stored fields match the configuration, and apply the group entries that
        are new or changed since they were last applied.

        A changed entry is applied whole: name, translated names, default flag, answer days,
        the fields it owns, and the coordinators and chats it lists (those added on the command
        line stay). An unchanged entry leaves its group as the command line left it, even
        removed. Fields and groups missing from the configuration are kept (items refer to
        them) but fields become inactive, so residents are no longer offered them.

        Returns:
            The keys of the groups whose entry was applied, in the configuration's order.
        """
        self._fields_read_at = None
        self._fields_generation += 1

        def work(session: Session) -> list[str]:
            configured = {spec.key for spec in fields}
            for stored in session.exec(select(FieldOfAction)).all():
                stored.active = stored.key in configured
                session.add(stored)
            for position, spec in enumerate(fields):
                session.merge(
                    FieldOfAction(
                        key=spec.key,
                        name=spec.name,
                        names=dict(spec.names),
                        position=position,
                        active=True,
                    )
                )
            applied = {seed.group_key: seed for seed in session.exec(select(GroupSeed)).all()}
            changed = [
                group
                for group in groups
                if group.key not in applied
                or applied[group.key].fingerprint != group.fingerprint()
            ]
            configured = {group.key for group in groups}
            for key, seed in applied.items():
                if key not in configured:  # an entry added back later counts as new
                    session.delete(seed)
            if any(group.is_default for group in changed):
                session.exec(update(WorkingGroup).values(is_default=False))
            for group in changed:
                session.merge(
                    WorkingGroup(
                        key=group.key,
                        name=group.name,
                        names=dict(group.names),
                        is_default=group.is_default,
                        answer_days=group.answer_days,
                    )
                )
            session.flush()
            # A changed entry decides what its group owns and who owns the fields it assigns;
            # fields given to other groups on the command line stay where they are.
            assigned = [key for group in changed for key in group.fields]
            session.exec(
                delete(GroupField).where(
                    col(GroupField.group_key).in_([group.key for group in changed])
                    | col(GroupField.field_key).in_(assigned)
                )
            )
            for group in changed:
                _replace_members(session, group)
                for field_key in group.fields:
                    session.add(GroupField(field_key=field_key, group_key=group.key))
                session.merge(GroupSeed(group_key=group.key, fingerprint=group.fingerprint()))
            return [group.key for group in changed]

        keys = await self._db.run(work)
        self._fields_read_at = None  # committed: reads from now on see the new fields
        self._fields_generation += 1
        return keys

    async def list_fields(self) -> list[FieldOfAction]:
        """The active fields of action in their configured order."""
        return [field for field in (await self._all_fields()).values() if field.active]

    async def get_field(self, key: str) -> FieldOfAction | None:
        return (await self._all_fields()).get(key)

    async def _all_fields(self) -> dict[str, FieldOfAction]:
        read_at = self._fields_read_at
        if read_at is not None and time.monotonic() - read_at < FIELDS_CACHE_SECONDS:
            return self._fields
        started, generation = time.monotonic(), self._fields_generation
        query = select(FieldOfAction).order_by(col(FieldOfAction.position), col(FieldOfAction.key))
        rows = await self._db.run(lambda session: list(session.exec(query)))
        fields = {field.key: field for field in rows}
        if generation == self._fields_generation:  # no synchronisation began meanwhile
            self._fields, self._fields_read_at = fields, started
        return fields

    async def get_group(self, key: str) -> WorkingGroup | None:
        return await self._db.run(lambda session: session.get(WorkingGroup, key))

    async def list_group_chats(self, group_key: str) -> list[GroupChat]:
        """The chats or rooms where `group_key` receives its notifications."""
        query = (
            select(GroupChat).where(GroupChat.group_key == group_key).order_by(col(GroupChat.id))
        )
        return await self._db.run(lambda session: list(session.exec(query)))

    async def list_groups(self) -> list[WorkingGroup]:
        query = select(WorkingGroup).order_by(col(WorkingGroup.key))
        return await self._db.run(lambda session: list(session.exec(query)))

    async def delete_group_chat(self, group_key: str, platform: str, chat_id: str) -> bool:
        """Stop notifying `group_key` in a chat. Returns False when it was not one of its."""
        statement = delete(GroupChat).where(
            col(GroupChat.group_key) == group_key,
            col(GroupChat.platform) == platform,
            col(GroupChat.chat_id) == chat_id,
        )
        return await self._db.run(lambda session: bool(session.exec(statement).rowcount))

    async def list_coordinators_named(
        self, group_key: str | None = None
    ) -> list[NamedCoordinator]:
        """The coordinators of every group (or of `group_key`), by group, as they were added."""
        query = (
            select(Coordinator, Contact.display_name)
            .outerjoin(
                Contact,
                and_(
                    col(Contact.platform) == col(Coordinator.platform),
                    col(Contact.user_id) == col(Coordinator.user_id),
                ),
            )
            .order_by(col(Coordinator.group_key), col(Coordinator.id))
        )
        if group_key is not None:
            query = query.where(col(Coordinator.group_key) == group_key)

        def work(session: Session) -> list[NamedCoordinator]:
            return [
                NamedCoordinator(c.group_key, c.platform, c.user_id, c.source, name or None)
                for c, name in session.exec(query).all()
            ]

        return await self._db.run(work)

    async def get_holdings(self, group_key: str) -> Holdings:
        """How many items, fields, coordinators and chats refer to `group_key`."""
        return await self._db.run(lambda session: _holdings(session, group_key))

    async def delete_group(
        self, group_key: str, now: datetime, *, move_to: str | None = None
    ) -> Holdings:
        """Remove a working group with its coordinators and chats, in one transaction.

        Its items and fields go to `move_to` (each moved item's history records it, as
        `/assign` would, without notifying anyone). The record of its configuration entry
        (`group_seed`) stays, so that an unchanged entry does not create it again.

        Returns:
            What referred to the group: its items and fields (moved), coordinators and chats.

        Raises:
            GroupInUse: without `move_to`, the group still owns items or fields; nothing changed.
        """

        def work(session: Session) -> Holdings:
            held = _holdings(session, group_key)
            if move_to is None and (held.items or held.fields):
                raise GroupInUse(held)
            if move_to is not None:
                moved = session.exec(
                    select(FeedbackItem.id).where(col(FeedbackItem.group_key) == group_key)
                ).all()
                session.exec(
                    update(FeedbackItem)
                    .where(col(FeedbackItem.group_key) == group_key)
                    .values(group_key=move_to, updated_at=now)
                )
                for item_id in moved:
                    assert item_id is not None
                    session.add(
                        ItemEvent(
                            item_id=item_id,
                            at=now,
                            actor="system",
                            action="assigned",
                            group_key=move_to,
                        )
                    )
                session.exec(
                    update(GroupField)
                    .where(col(GroupField.group_key) == group_key)
                    .values(group_key=move_to)
                )
            for table in (Coordinator, GroupChat):
                session.exec(delete(table).where(col(table.group_key) == group_key))
            session.exec(delete(WorkingGroup).where(col(WorkingGroup.key) == group_key))
            return held

        return await self._db.run(work)


def _holdings(session: Session, group_key: str) -> Holdings:
    def count(table: type[FeedbackItem | GroupField | Coordinator | GroupChat]) -> int:
        query = select(func.count()).select_from(table).where(col(table.group_key) == group_key)
        return int(session.exec(query).one())

    open_items = select(func.count()).where(
        col(FeedbackItem.group_key) == group_key, col(FeedbackItem.state).in_(OPEN_STATES)
    )
    return Holdings(
        items=count(FeedbackItem),
        open_items=int(session.exec(open_items).one()),
        fields=count(GroupField),
        coordinators=count(Coordinator),
        chats=count(GroupChat),
    )


class Route(NamedTuple):
    """Where an item of a field goes: what a new item needs of its group."""

    group_key: str
    answer_days: int


def route(session: Session, field_key: str) -> Route:
    """The working group that owns `field_key`, or the default group when none does.

    Raises:
        UnknownField: the field does not exist.
        LookupError: no group owns it and no default group is configured.
    """
    row = session.connection().execute(cached(_route), {"field": field_key}).first()
    if row is None:
        raise UnknownField(field_key)
    owner_key, owner_days, default_key, default_days = row
    if owner_key is not None:
        return Route(owner_key, owner_days)
    if default_key is None:
        raise LookupError(f"no working group owns {field_key!r} and there is no default group")
    return Route(default_key, default_days)


_OWNER = aliased(WorkingGroup, name="owner")
_FALLBACK = aliased(WorkingGroup, name="fallback")


def _route() -> Executable:
    """`route` in one statement (see storage.db, `cached`): no row when the field `field`
    does not exist; else the owning group's key and answer days, or (when no group owns it)
    a default group's, whichever is not NULL."""
    return (
        select(_OWNER.key, _OWNER.answer_days, _FALLBACK.key, _FALLBACK.answer_days)
        .select_from(FieldOfAction)
        .outerjoin(GroupField, col(GroupField.field_key) == col(FieldOfAction.key))
        .outerjoin(_OWNER, col(_OWNER.key) == col(GroupField.group_key))
        .outerjoin(_FALLBACK, and_(col(GroupField.group_key).is_(None), col(_FALLBACK.is_default)))
        .where(col(FieldOfAction.key) == bindparam("field"))
        .limit(1)
    )


def _replace_members(session: Session, spec: GroupSpec) -> None:
    """Replace the members the configuration gave; those added on the command line stay."""
    session.exec(
        delete(Coordinator).where(
            col(Coordinator.group_key) == spec.key, col(Coordinator.source) == "config"
        )
    )
    session.exec(
        delete(GroupChat).where(
            col(GroupChat.group_key) == spec.key, col(GroupChat.source) == "config"
        )
    )
    session.flush()
    for platform, user_id in spec.coordinators:
        _add_once(session, Coordinator, group_key=spec.key, platform=platform, user_id=user_id)
    for platform, chat_id in spec.chats:
        _add_once(session, GroupChat, group_key=spec.key, platform=platform, chat_id=chat_id)


def _add_once(session: Session, table: type[Coordinator] | type[GroupChat], **values: str) -> None:
    """Insert a membership row unless the same one (from either source) exists."""
    session.exec(insert_for(session, table).values(**values).on_conflict_do_nothing())
