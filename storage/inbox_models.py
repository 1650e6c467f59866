"""The table of Telegram updates taken in by webhook on PostgreSQL (`storage.inbox`), where
several bot processes share the work: every process answers Telegram only once the update is
here, and each chat's updates are handled one after another in the order of their ids."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Column, Index, text
from sqlmodel import Field, SQLModel

from storage.types import time_field as _time

# The rows still to be handled; the partial index holds only these, so that taking a chat's
# next update and finding the chats that wait cost as little as the backlog is long.
_PENDING = text("handled_at IS NULL")


class InboxUpdate(SQLModel, table=True):
    """One Telegram update, from its arrival until a day after it was handled.

    `payload` is the update as Telegram sent it (a resident's text included); it is emptied
    when the update is handled. The row itself stays for `storage.inbox.KEEP_HANDLED`, so
    that Telegram delivering the same update again (its answer lost on the way back) finds
    it and nothing is handled twice. `owner` is the process that handles it (the one that
    received it; none once that one is gone, until another claims it). `attempts` counts
    how often a process began to handle it: more than one means the one before stopped in
    the middle of it. `replies` are what the bot answers, stored in the transaction that
    commits the turn's changes and kept until they are sent: a process that takes the update
    over after a kill sends them again instead of handling the update a second time. Both
    are emptied when the update is handled.
    """

    __tablename__ = "inbox_update"
    __table_args__ = (
        Index(
            "ix_inbox_update_pending",
            "chat_key",
            "update_id",
            postgresql_where=_PENDING,
            sqlite_where=_PENDING,
        ),
        Index("ix_inbox_update_handled", "handled_at"),
    )

    update_id: int = Field(
        sa_column=Column(BigInteger, primary_key=True, autoincrement=False, nullable=False)
    )
    chat_key: str = Field(max_length=64)  # the chat whose line the update waits in
    payload: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    received_at: datetime = _time()
    owner: str | None = Field(default=None, max_length=64)  # the process handling it
    attempts: int = 0
    replies: list[dict[str, Any]] | None = Field(
        default=None, sa_column=Column(JSON, nullable=True)
    )
    handled_at: datetime | None = _time(nullable=True)
