"""The tables of contacts, working groups, items and the outbox (those of events are in
storage.events.models). Field names are the vocabulary of DESIGN.md; every time is aware UTC."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, Index, LargeBinary, UniqueConstraint, text
from sqlmodel import Field, SQLModel

from storage.types import time_field as _time


class ItemKind(enum.StrEnum):
    SUGGESTION = "suggestion"
    CRITICISM = "criticism"
    QUESTION = "question"
    PRAISE = "praise"


class ItemState(enum.StrEnum):
    RECEIVED = "received"
    IN_PROGRESS = "in_progress"
    ANSWERED = "answered"
    IMPLEMENTED = "implemented"
    DECLINED = "declined"
    CLOSED = "closed"


# States in which an item still waits for its working group. /pending, reminders and
# escalation read only these, so their indexes hold only these rows (partial indexes): with
# one key range per query instead of one per state, rows come out in due-date order and
# `ORDER BY answer_due_at, id LIMIT n` stops after n rows instead of sorting the open set.
# Queries must spell the condition with these literal values, or the engines cannot prove
# that the partial index applies (storage.items.handling.is_open does).
OPEN_STATES = (ItemState.RECEIVED, ItemState.IN_PROGRESS)
_OPEN = text("state IN ('received', 'in_progress')")


def _open_index(name: str, *columns: str) -> Index:
    return Index(name, *columns, sqlite_where=_OPEN, postgresql_where=_OPEN)


class OutboxState(enum.StrEnum):
    PENDING = "pending"  # waiting for its due time
    SENT = "sent"
    FAILED = "failed"  # an attempt failed; tried again at due_at
    DEAD = "dead"  # given up: too many attempts, or a request that can never succeed
    SKIPPED = "skipped"  # the recipient blocked the bot or left


class Contact(SQLModel, table=True):
    """A person on one platform; `chat_id` is where the bot writes to them."""

    __table_args__ = (UniqueConstraint("platform", "user_id", name="uq_contact_platform_user"),)

    id: int | None = Field(default=None, primary_key=True)
    platform: str = Field(max_length=16)
    user_id: str = Field(max_length=255)
    chat_id: str = Field(max_length=255)
    display_name: str = Field(default="", max_length=255)
    language: str | None = Field(default=None, max_length=16)
    consent_at: datetime | None = _time(nullable=True)
    subscribed: bool = False
    blocked_at: datetime | None = _time(nullable=True)
    stopped_at: datetime | None = _time(nullable=True)  # /stop: no messages on our initiative
    created_at: datetime = _time()
    last_seen_at: datetime = _time()
    # One resident on several platforms (/link): linked contacts share the id of the first
    # contact of the person; None for a contact that is linked to no other.
    person_id: int | None = Field(default=None, index=True)
    link_code: str | None = Field(default=None, max_length=16, index=True)
    link_code_expires_at: datetime | None = _time(nullable=True)


class FieldOfAction(SQLModel, table=True):
    """A field of action ("Handlungsfeld") of the integration concept."""

    __tablename__ = "field_of_action"

    key: str = Field(primary_key=True, max_length=64)
    name: str = Field(max_length=255)
    names: dict[str, str] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    position: int = 0
    active: bool = True


class WorkingGroup(SQLModel, table=True):
    """A working group ("Unter-Arbeitsgruppe") that owns fields of action."""

    __tablename__ = "working_group"

    key: str = Field(primary_key=True, max_length=64)
    name: str = Field(max_length=255)
    names: dict[str, str] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    is_default: bool = False
    answer_days: int = 14


class GroupField(SQLModel, table=True):
    """Which group owns a field; a field has at most one owner."""

    __tablename__ = "group_field"

    field_key: str = Field(primary_key=True, foreign_key="field_of_action.key", max_length=64)
    group_key: str = Field(foreign_key="working_group.key", index=True, max_length=64)


class Coordinator(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("group_key", "platform", "user_id", name="uq_coordinator"),)

    id: int | None = Field(default=None, primary_key=True)
    group_key: str = Field(foreign_key="working_group.key", index=True, max_length=64)
    platform: str = Field(max_length=16)
    user_id: str = Field(max_length=255)
    source: str = Field(default="config", max_length=16)  # "config" or "cli"


class GroupChat(SQLModel, table=True):
    """A chat or room where a working group receives its new items."""

    __tablename__ = "group_chat"
    __table_args__ = (UniqueConstraint("group_key", "platform", "chat_id", name="uq_group_chat"),)

    id: int | None = Field(default=None, primary_key=True)
    group_key: str = Field(foreign_key="working_group.key", index=True, max_length=64)
    platform: str = Field(max_length=16)
    chat_id: str = Field(max_length=255)
    source: str = Field(default="config", max_length=16)


class GroupSeed(SQLModel, table=True):
    """The fingerprint of the `[[groups]]` entry last applied to a group: an entry is applied
    again only when it changed, so that an unchanged configuration never undoes what the
    command line changed since (storage.groups, `sync_from_config`). No foreign key: the
    record outlives `mitreden group remove`, so that a removed group is not created again."""

    __tablename__ = "group_seed"

    group_key: str = Field(primary_key=True, max_length=64)
    fingerprint: str = Field(max_length=64)


class ReferenceCounter(SQLModel, table=True):
    """The last reference number handed out per year; one row per year."""

    __tablename__ = "reference_counter"

    year: int = Field(primary_key=True)
    last: int = 0


class FeedbackItem(SQLModel, table=True):
    __tablename__ = "feedback_item"
    __table_args__ = (
        # /pending lists open items by due date (overdue first): for all groups, per group,
        # per field of action. Partial: see OPEN_STATES.
        _open_index("ix_feedback_item_open_due", "answer_due_at", "id"),
        _open_index("ix_feedback_item_open_group_due", "group_key", "answer_due_at", "id"),
        _open_index("ix_feedback_item_open_field_due", "field_key", "answer_due_at", "id"),
        Index("ix_feedback_item_created", "created_at"),
        # The web view's items list (storage.items.listing): within a group, a field of
        # action, a state or a group's state in the order of the ids, and all items by due
        # date; each page is then one range of one of these (bench/web_items.py).
        Index("ix_feedback_item_group_id", "group_key", "id"),
        Index("ix_feedback_item_field_id", "field_key", "id"),
        Index("ix_feedback_item_state_id", "state", "id"),
        Index("ix_feedback_item_group_state_id", "group_key", "state", "id"),
        Index("ix_feedback_item_due_id", "answer_due_at", "id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    reference: str = Field(unique=True, max_length=32)
    kind: str = Field(max_length=16)
    field_key: str = Field(foreign_key="field_of_action.key", max_length=64)
    group_key: str = Field(foreign_key="working_group.key", max_length=64)
    text: str
    language: str = Field(max_length=16)
    state: str = Field(default=ItemState.RECEIVED, max_length=16)
    anonymous: bool = True
    contact_id: int | None = Field(default=None, foreign_key="contact.id", index=True)
    platform: str = Field(max_length=16)
    assignee: str | None = Field(default=None, max_length=300)  # "platform:user_id"
    assignee_name: str | None = Field(default=None, max_length=255)
    answer_due_at: datetime | None = _time(nullable=True)
    first_answered_at: datetime | None = _time(nullable=True)
    escalated_at: datetime | None = _time(nullable=True)
    created_at: datetime = _time()
    updated_at: datetime = _time()


class ItemEvent(SQLModel, table=True):
    """Append-only history of a feedback item: who did what when."""

    __tablename__ = "item_event"

    id: int | None = Field(default=None, primary_key=True)
    item_id: int = Field(foreign_key="feedback_item.id", index=True)
    at: datetime = _time()
    actor: str = Field(max_length=300)  # "resident", "system" or "platform:user_id"
    actor_name: str | None = Field(default=None, max_length=255)  # coordinators only
    action: str = Field(max_length=32)
    state: str | None = Field(default=None, max_length=16)
    group_key: str | None = Field(default=None, max_length=64)
    text: str | None = None


class Attachment(SQLModel, table=True):
    """A file a resident sent; kept with the conversation until the item is submitted."""

    id: int | None = Field(default=None, primary_key=True)
    item_id: int | None = Field(default=None, foreign_key="feedback_item.id", index=True)
    contact_id: int | None = Field(default=None, foreign_key="contact.id", index=True)
    kind: str = Field(max_length=16)
    file_name: str = Field(max_length=255)
    mime_type: str = Field(max_length=128)
    size: int
    sha256: str = Field(max_length=64)
    data: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    # What the resident wrote with the file, when the flow was not asking for the item's text.
    caption: str | None = None
    created_at: datetime = _time()


class ConversationState(SQLModel, table=True):
    """Where a contact is in a flow. `version` grows with every step, so a button from an
    earlier step can be recognised as stale."""

    __tablename__ = "conversation_state"

    contact_id: int = Field(primary_key=True, foreign_key="contact.id")
    flow: str = Field(max_length=32)
    step: str = Field(max_length=32)
    data: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    version: int = 1
    updated_at: datetime = _time()


class OutboxMessage(SQLModel, table=True):
    """A message the bot sends on its own; the idempotency key makes enqueueing repeatable."""

    __tablename__ = "outbox"
    __table_args__ = (
        Index("ix_outbox_state_due", "state", "due_at"),
        Index("ix_outbox_sent_message", "platform", "chat_id", "sent_message_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    idempotency_key: str = Field(unique=True, max_length=255)
    platform: str = Field(max_length=16)
    chat_id: str = Field(max_length=255)
    is_group: bool = False
    contact_id: int | None = Field(default=None, foreign_key="contact.id", index=True)
    # The item the message is about: replies to it find the item, /forget finds the message.
    reference: str | None = Field(default=None, max_length=32, index=True)
    payload: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    due_at: datetime = _time()
    state: str = Field(default=OutboxState.PENDING, max_length=16)
    attempts: int = 0
    last_error: str | None = None
    claimed_by: str | None = Field(default=None, max_length=64)
    claimed_until: datetime | None = _time(nullable=True)
    created_at: datetime = _time()
    sent_at: datetime | None = _time(nullable=True)
    # The platform's id of the sent message, so that a reply to it finds its item.
    sent_message_id: str | None = Field(default=None, max_length=64)


class BotMessage(SQLModel, table=True):
    """A message the bot sent, as far as an answer to it needs it later: the choices it
    offered (typed back by number or label where a channel shows no buttons) and the item
    it was about. `message_id` "" holds a chat's current prompt: in a direct chat a typed
    choice answers the latest question, whichever message it replies to. Kept for
    `storage.bot_messages.KEEP`, so that restarts do not forget them and the table stays
    small."""

    __tablename__ = "bot_message"
    __table_args__ = (Index("ix_bot_message_created", "created_at"),)

    platform: str = Field(primary_key=True, max_length=16)
    chat_id: str = Field(primary_key=True, max_length=255)
    message_id: str = Field(primary_key=True, max_length=255)
    # [[label, payload], ...] in the order they were offered
    choices: list[list[str]] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    reference: str | None = Field(default=None, max_length=32, index=True)
    created_at: datetime = _time()


class HandledMessage(SQLModel, table=True):
    """A message from a person that the bot has handled and answered. A channel that saves
    its position only after a batch of updates (Matrix's sync token) gets the batch again
    when it was killed before; these rows say which of its messages were answered already.
    `replies`: on PostgreSQL, what the bot answers, stored in the transaction that commits
    the turn (`storage.db.Database.turn`) and emptied once they were sent; a process that
    syncs on after the one that handled it died sends them instead of handling the message
    again. Kept for `storage.bot_messages.KEEP_HANDLED`."""

    __tablename__ = "handled_message"
    __table_args__ = (Index("ix_handled_message_at", "handled_at"),)

    platform: str = Field(primary_key=True, max_length=16)
    chat_id: str = Field(primary_key=True, max_length=255)
    message_id: str = Field(primary_key=True, max_length=255)
    handled_at: datetime = _time()
    replies: list[dict[str, Any]] | None = Field(
        default=None, sa_column=Column(JSON, nullable=True)
    )
