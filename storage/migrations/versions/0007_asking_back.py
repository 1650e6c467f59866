"""the city asks back: answers to the survey after an event, polls with their answers and
the steps their planner took

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-08
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import storage.types

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "survey_answer",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("contact_id", sa.Integer(), nullable=True),
        sa.Column("event_rating", sa.Integer(), nullable=True),
        sa.Column("workshop_id", sa.Integer(), nullable=True),
        sa.Column("workshop_rating", sa.Integer(), nullable=True),
        sa.Column("created_at", storage.types.UTCDateTime(), nullable=False),
        sa.Column("updated_at", storage.types.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["contact_id"], ["contact.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["event_id"], ["event.id"]),
        sa.ForeignKeyConstraint(["workshop_id"], ["workshop.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("event_id", "contact_id", name="uq_survey_answer"),
    )
    with op.batch_alter_table("survey_answer", schema=None) as batch_op:
        batch_op.create_index("ix_survey_answer_contact_id", ["contact_id"], unique=False)
        batch_op.create_index("ix_survey_answer_event_id", ["event_id"], unique=False)
    op.create_table(
        "poll",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("texts", sa.JSON(), nullable=False),
        sa.Column("audience", sqlmodel.sql.sqltypes.AutoString(length=80), nullable=False),
        sa.Column("opens_at", storage.types.UTCDateTime(), nullable=False),
        sa.Column("closes_at", storage.types.UTCDateTime(), nullable=False),
        sa.Column("created_at", storage.types.UTCDateTime(), nullable=False),
        sa.Column("updated_at", storage.types.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("key"),
    )
    op.create_table(
        "poll_answer",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("poll_id", sa.Integer(), nullable=False),
        sa.Column("contact_id", sa.Integer(), nullable=True),
        sa.Column("option", sa.Integer(), nullable=False),
        sa.Column("created_at", storage.types.UTCDateTime(), nullable=False),
        sa.Column("updated_at", storage.types.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["contact_id"], ["contact.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["poll_id"], ["poll.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("poll_id", "contact_id", name="uq_poll_answer"),
    )
    with op.batch_alter_table("poll_answer", schema=None) as batch_op:
        batch_op.create_index("ix_poll_answer_contact_id", ["contact_id"], unique=False)
        batch_op.create_index("ix_poll_answer_poll", ["poll_id", "option"], unique=False)
    op.create_table(
        "poll_stage",
        sa.Column("poll_id", sa.Integer(), nullable=False),
        sa.Column("stage", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("done_at", storage.types.UTCDateTime(), nullable=False),
        sa.Column("messages", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["poll_id"], ["poll.id"]),
        sa.PrimaryKeyConstraint("poll_id", "stage"),
    )


def downgrade() -> None:
    op.drop_table("poll_stage")
    with op.batch_alter_table("poll_answer", schema=None) as batch_op:
        batch_op.drop_index("ix_poll_answer_poll")
        batch_op.drop_index("ix_poll_answer_contact_id")
    op.drop_table("poll_answer")
    op.drop_table("poll")
    with op.batch_alter_table("survey_answer", schema=None) as batch_op:
        batch_op.drop_index("ix_survey_answer_event_id")
        batch_op.drop_index("ix_survey_answer_contact_id")
    op.drop_table("survey_answer")
