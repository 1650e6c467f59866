"""keep the choices the bot offered, the item each message named and the messages it
answered, across restarts

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import storage.types

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "bot_message",
        sa.Column("platform", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("chat_id", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
        sa.Column("message_id", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
        sa.Column("choices", sa.JSON(), nullable=False),
        sa.Column("reference", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True),
        sa.Column("created_at", storage.types.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("platform", "chat_id", "message_id"),
    )
    with op.batch_alter_table("bot_message", schema=None) as batch_op:
        batch_op.create_index("ix_bot_message_created", ["created_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_bot_message_reference"), ["reference"], unique=False)

    op.create_table(
        "handled_message",
        sa.Column("platform", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("chat_id", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
        sa.Column("message_id", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
        sa.Column("handled_at", storage.types.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("platform", "chat_id", "message_id"),
    )
    with op.batch_alter_table("handled_message", schema=None) as batch_op:
        batch_op.create_index("ix_handled_message_at", ["handled_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("handled_message", schema=None) as batch_op:
        batch_op.drop_index("ix_handled_message_at")
    op.drop_table("handled_message")
    with op.batch_alter_table("bot_message", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_bot_message_reference"))
        batch_op.drop_index("ix_bot_message_created")
    op.drop_table("bot_message")
