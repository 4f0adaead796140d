"""specialist survey

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-23

The specialist takes part through their account and has no participant row, so a survey can
now point at an account instead (`surveys.user_id`), once per consultation. SQLite copies the
table to add the foreign key and the unique constraint (batch mode).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("surveys", schema=None) as batch_op:
        batch_op.add_column(sa.Column("user_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            op.f("fk_surveys_user_id_users"), "users", ["user_id"], ["id"], ondelete="SET NULL"
        )
        batch_op.create_unique_constraint(
            "uq_surveys_consultation_user", ["consultation_id", "user_id"]
        )


def downgrade() -> None:
    # A specialist's answers stay, as anonymous facts like those of a participant retention
    # has removed (participant_id NULL).
    with op.batch_alter_table("surveys", schema=None) as batch_op:
        batch_op.drop_constraint("uq_surveys_consultation_user", type_="unique")
        batch_op.drop_constraint(op.f("fk_surveys_user_id_users"), type_="foreignkey")
        batch_op.drop_column("user_id")
