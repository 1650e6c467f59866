"""Fields of action, working groups, their coordinators and chats, and routing."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

from sqlalchemy import Executable, and_, bindparam, delete
from sqlalchemy.orm import aliased
from sqlmodel import Session, col, select

from storage.db import Database, cached
from storage.models import Coordinator, FieldOfAction, GroupChat, GroupField, WorkingGroup
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
    ) -> None:
        """Make the stored fields and groups match the configuration.

        Fields and groups missing from the configuration are kept (items refer to them) but
        fields become inactive, so residents are no longer offered them.
        """
        self._fields_read_at = None
        self._fields_generation += 1

        def work(session: Session) -> None:
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
            for group in groups:
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
            # The configuration decides who owns the fields it assigns and what its groups
            # own; fields given to other groups on the command line stay where they are.
            configured_groups = [group.key for group in groups]
            assigned = [key for group in groups for key in group.fields]
            session.exec(
                delete(GroupField).where(
                    col(GroupField.group_key).in_(configured_groups)
                    | col(GroupField.field_key).in_(assigned)
                )
            )
            for group in groups:
                _replace_members(session, group)
                for field_key in group.fields:
                    session.add(GroupField(field_key=field_key, group_key=group.key))

        await self._db.run(work)
        self._fields_read_at = None  # committed: reads from now on see the new fields
        self._fields_generation += 1

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
