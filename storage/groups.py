"""Fields of action, working groups, their coordinators and chats, and routing."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

from sqlalchemy import Connection, and_, bindparam, delete
from sqlalchemy import select as core_select
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.db import Database
from storage.models import Coordinator, FieldOfAction, GroupChat, GroupField, WorkingGroup
from storage.rows import detached, table
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


_GROUPS = table(WorkingGroup)
_GROUP_BY_KEY = core_select(_GROUPS).where(_GROUPS.c.key == bindparam("group"))
_FIELDS, _OWNERS = table(FieldOfAction), table(GroupField)
_OWNER, _DEFAULT = _GROUPS.alias("owner"), _GROUPS.alias("fallback")
# route in one statement: no row when the field does not exist; else the owning group's key
# and answer days, or (when no group owns it) a default group's, whichever is not NULL.
_ROUTE = (
    core_select(_OWNER.c.key, _OWNER.c.answer_days, _DEFAULT.c.key, _DEFAULT.c.answer_days)
    .select_from(_FIELDS)
    .outerjoin(_OWNERS, _OWNERS.c.field_key == _FIELDS.c.key)
    .outerjoin(_OWNER, _OWNER.c.key == _OWNERS.c.group_key)
    .outerjoin(_DEFAULT, and_(_OWNERS.c.group_key.is_(None), _DEFAULT.c.is_default))
    .where(_FIELDS.c.key == bindparam("field"))
    .limit(1)
)

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
        async with self._db.session() as session:
            configured = {spec.key for spec in fields}
            for stored in (await session.exec(select(FieldOfAction))).all():
                stored.active = stored.key in configured
                session.add(stored)
            for position, spec in enumerate(fields):
                await session.merge(
                    FieldOfAction(
                        key=spec.key,
                        name=spec.name,
                        names=dict(spec.names),
                        position=position,
                        active=True,
                    )
                )
            for group in groups:
                await session.merge(
                    WorkingGroup(
                        key=group.key,
                        name=group.name,
                        names=dict(group.names),
                        is_default=group.is_default,
                        answer_days=group.answer_days,
                    )
                )
            await session.flush()
            # The configuration decides who owns the fields it assigns and what its groups own;
            # fields given to other groups on the command line stay where they are.
            configured_groups = [group.key for group in groups]
            assigned = [key for group in groups for key in group.fields]
            await session.execute(
                delete(GroupField).where(
                    col(GroupField.group_key).in_(configured_groups)
                    | col(GroupField.field_key).in_(assigned)
                )
            )
            for group in groups:
                await self._replace_members(session, group)
                for field_key in group.fields:
                    session.add(GroupField(field_key=field_key, group_key=group.key))
        self._fields_read_at = None  # committed: reads from now on see the new fields
        self._fields_generation += 1

    @staticmethod
    async def _replace_members(session: AsyncSession, spec: GroupSpec) -> None:
        """Replace the members the configuration gave; those added on the command line stay."""
        await session.execute(
            delete(Coordinator).where(
                col(Coordinator.group_key) == spec.key, col(Coordinator.source) == "config"
            )
        )
        await session.execute(
            delete(GroupChat).where(
                col(GroupChat.group_key) == spec.key, col(GroupChat.source) == "config"
            )
        )
        await session.flush()
        for platform, user_id in spec.coordinators:
            await _add_once(
                session, Coordinator, group_key=spec.key, platform=platform, user_id=user_id
            )
        for platform, chat_id in spec.chats:
            await _add_once(
                session, GroupChat, group_key=spec.key, platform=platform, chat_id=chat_id
            )

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
        return await self._db.run(lambda session: get_group(session.connection(), key), quick=True)

    async def list_group_chats(self, group_key: str) -> list[GroupChat]:
        """The chats or rooms where `group_key` receives its notifications."""
        query = (
            select(GroupChat).where(GroupChat.group_key == group_key).order_by(col(GroupChat.id))
        )
        return await self._db.run(lambda session: list(session.exec(query)))

    async def list_groups(self) -> list[WorkingGroup]:
        query = select(WorkingGroup).order_by(col(WorkingGroup.key))
        return await self._db.run(lambda session: list(session.exec(query)))


def get_group(db: Connection, key: str) -> WorkingGroup | None:
    row = db.execute(_GROUP_BY_KEY, {"group": key}).first()
    return detached(WorkingGroup, row._mapping) if row else None


class Route(NamedTuple):
    """Where an item of a field goes: what a new item needs of its group."""

    group_key: str
    answer_days: int


def route(db: Connection, field_key: str) -> Route:
    """The working group that owns `field_key`, or the default group when none does.

    Raises:
        UnknownField: the field does not exist.
        LookupError: no group owns it and no default group is configured.
    """
    row = db.execute(_ROUTE, {"field": field_key}).first()
    if row is None:
        raise UnknownField(field_key)
    owner_key, owner_days, default_key, default_days = row
    if owner_key is not None:
        return Route(owner_key, owner_days)
    if default_key is None:
        raise LookupError(f"no working group owns {field_key!r} and there is no default group")
    return Route(default_key, default_days)


async def _add_once(
    session: AsyncSession, table: type[Coordinator] | type[GroupChat], **values: str
) -> None:
    """Insert a membership row unless the same one (from either source) exists."""
    statement = insert_for(session, table).values(**values).on_conflict_do_nothing()
    await session.execute(statement)
