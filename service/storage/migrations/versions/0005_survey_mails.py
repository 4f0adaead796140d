"""survey mails

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-24

The outbox takes a fifth kind of mail, `survey`: the personal survey link the scheduler sends
after a completed consultation. SQLite cannot alter a CHECK constraint, so the table is copied
(batch mode); PostgreSQL drops and adds the constraint in place.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_KINDS = "'invite', 'update', 'cancel', 'reminder'"
NEW_KINDS = f"{OLD_KINDS}, 'survey'"


def _kinds(allowed: str) -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_outbox_kind"), type_="check")
        batch_op.create_check_constraint(op.f("ck_outbox_kind"), f"kind IN ({allowed})")


def upgrade() -> None:
    _kinds(NEW_KINDS)


def downgrade() -> None:
    # The old constraint cannot hold survey mails; they are not calendar data anyone needs back.
    op.execute(sa.text("DELETE FROM outbox WHERE kind = 'survey'"))
    _kinds(OLD_KINDS)
