"""several processes on one PostgreSQL: a turn's replies stored with its changes until sent

On the Telegram inbox's update (`inbox_update.replies`) and on the Matrix message answered
(`handled_message.replies`).

Only added: the processes of the release before never read it and run on beside those of this
one during a rolling upgrade (README, "Running several processes").

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-05
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("inbox_update", schema=None) as batch_op:
        batch_op.add_column(sa.Column("replies", sa.JSON(), nullable=True))
    with op.batch_alter_table("handled_message", schema=None) as batch_op:
        batch_op.add_column(sa.Column("replies", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("handled_message", schema=None) as batch_op:
        batch_op.drop_column("replies")
    with op.batch_alter_table("inbox_update", schema=None) as batch_op:
        batch_op.drop_column("replies")
