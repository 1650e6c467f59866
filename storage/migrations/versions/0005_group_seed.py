"""remember the configuration's [[groups]] entry last applied to each group, so that only a
changed entry overwrites what the command line changed

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Empty at first: the first start after the upgrade applies every configured entry once,
    # as every start did before.
    op.create_table(
        "group_seed",
        sa.Column("group_key", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("fingerprint", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.PrimaryKeyConstraint("group_key"),
    )


def downgrade() -> None:
    op.drop_table("group_seed")
