"""Who coordinates which working group, and where groups are notified; changeable at run
time from the command line (source "cli"), beside what the configuration gives."""

from __future__ import annotations

from sqlalchemy import delete
from sqlmodel import Session, col, select

from storage.db import Database
from storage.groups import GroupSpec
from storage.models import Coordinator, GroupChat, GroupField, WorkingGroup
from storage.upsert import insert_for


class MembershipStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def groups_of(self, platform: str, user_id: str) -> list[str]:
        """The keys of the groups this person coordinates."""
        query = select(Coordinator.group_key).where(
            Coordinator.platform == platform, Coordinator.user_id == user_id
        )
        return sorted(set(await self._db.run(lambda session: session.exec(query).all())))

    async def list_coordinators(self, group_key: str | None = None) -> list[Coordinator]:
        query = select(Coordinator).order_by(col(Coordinator.group_key), col(Coordinator.id))
        if group_key is not None:
            query = query.where(Coordinator.group_key == group_key)
        return await self._db.run(lambda session: list(session.exec(query).all()))

    async def add_coordinator(self, group_key: str, platform: str, user_id: str) -> bool:
        """Returns False when the person already coordinates the group."""

        def work(session: Session) -> bool:
            statement = (
                insert_for(session, Coordinator)
                .values(group_key=group_key, platform=platform, user_id=user_id, source="cli")
                .on_conflict_do_nothing()
            )
            return bool(session.exec(statement).rowcount)

        return await self._db.run(work)

    async def remove_coordinator(self, group_key: str, platform: str, user_id: str) -> bool:
        statement = delete(Coordinator).where(
            col(Coordinator.group_key) == group_key,
            col(Coordinator.platform) == platform,
            col(Coordinator.user_id) == user_id,
        )
        return await self._db.run(lambda session: bool(session.exec(statement).rowcount))

    async def add_group_chat(self, group_key: str, platform: str, chat_id: str) -> bool:
        def work(session: Session) -> bool:
            statement = (
                insert_for(session, GroupChat)
                .values(group_key=group_key, platform=platform, chat_id=chat_id, source="cli")
                .on_conflict_do_nothing()
            )
            return bool(session.exec(statement).rowcount)

        return await self._db.run(work)

    async def save_group(self, spec: GroupSpec) -> None:
        """Add a working group or change its name, answer days, default flag and fields.

        A field moves to this group if another group owned it; when this group becomes the
        default group, no other stays default.
        """

        def work(session: Session) -> None:
            if spec.is_default:
                for other in session.exec(select(WorkingGroup)).all():
                    if other.is_default and other.key != spec.key:
                        other.is_default = False
                        session.add(other)
            session.merge(
                WorkingGroup(
                    key=spec.key,
                    name=spec.name,
                    names=dict(spec.names),
                    is_default=spec.is_default,
                    answer_days=spec.answer_days,
                )
            )
            session.flush()
            session.exec(delete(GroupField).where(col(GroupField.group_key) == spec.key))
            session.exec(
                delete(GroupField).where(col(GroupField.field_key).in_(list(spec.fields)))
            )
            for field_key in spec.fields:
                session.add(GroupField(field_key=field_key, group_key=spec.key))

        await self._db.run(work)

    async def fields_of(self, group_key: str) -> list[str]:
        query = select(GroupField.field_key).where(GroupField.group_key == group_key)
        return sorted(await self._db.run(lambda session: session.exec(query).all()))
