"""travel inputs, survey and statistics

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TRAVEL_MODES = "'car', 'bus', 'boat', 'taxi_pasientreiser', 'ambulance'"
ROLES = "'gp', 'specialist', 'patient', 'relative', 'interpreter', 'municipal_staff'"


def upgrade() -> None:
    op.create_table(
        "surveys",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("consultation_id", sa.String(length=32), nullable=False),
        sa.Column("participant_id", sa.String(length=32), nullable=True),
        sa.Column("role", sa.String(length=20), nullable=False),
        sa.Column("language", sa.String(length=2), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("satisfaction", sa.Integer(), nullable=True),
        sa.Column("would_travel", sa.Boolean(), nullable=True),
        sa.Column("physical_visit_needed", sa.Boolean(), nullable=True),
        sa.Column("free_text", sa.String(length=2000), nullable=True),
        sa.Column("has_free_text", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.CheckConstraint("language IN ('nn', 'nb', 'en')", name=op.f("ck_surveys_language")),
        sa.CheckConstraint(f"role IN ({ROLES})", name=op.f("ck_surveys_role")),
        sa.CheckConstraint(
            "satisfaction BETWEEN 1 AND 5", name=op.f("ck_surveys_satisfaction")
        ),
        sa.ForeignKeyConstraint(
            ["consultation_id"],
            ["consultations.id"],
            name=op.f("fk_surveys_consultation_id_consultations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["participant_id"],
            ["participants.id"],
            name=op.f("fk_surveys_participant_id_participants"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_surveys")),
        sa.UniqueConstraint("participant_id", name=op.f("uq_surveys_participant_id")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_surveys_token_hash")),
    )
    with op.batch_alter_table("surveys", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_surveys_consultation_id"), ["consultation_id"], unique=False
        )

    with op.batch_alter_table("consultations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("travel_key", sa.String(length=400), nullable=True))
        batch_op.add_column(sa.Column("patient_travel_confirmed", sa.Boolean(), nullable=True))
        batch_op.add_column(
            sa.Column("relatives_count", sa.Integer(), server_default="0", nullable=False)
        )
        batch_op.add_column(
            sa.Column("interpreters_count", sa.Integer(), server_default="0", nullable=False)
        )
        batch_op.add_column(
            sa.Column("municipal_staff_count", sa.Integer(), server_default="0", nullable=False)
        )
        batch_op.create_index(
            "ix_consultations_status_starts", ["status", "starts_at"], unique=False
        )

    with op.batch_alter_table("participants", schema=None) as batch_op:
        batch_op.add_column(sa.Column("would_travel", sa.Boolean(), nullable=True))
        batch_op.add_column(sa.Column("travel_mode", sa.String(length=20), nullable=True))
        batch_op.add_column(
            sa.Column("escort", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
        batch_op.add_column(
            sa.Column("works", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
        batch_op.create_check_constraint(
            op.f("ck_participants_travel_mode"),
            f"travel_mode IS NULL OR travel_mode IN ({TRAVEL_MODES})",
        )


def downgrade() -> None:
    with op.batch_alter_table("participants", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_participants_travel_mode"), type_="check")
        batch_op.drop_column("works")
        batch_op.drop_column("escort")
        batch_op.drop_column("travel_mode")
        batch_op.drop_column("would_travel")

    with op.batch_alter_table("consultations", schema=None) as batch_op:
        batch_op.drop_index("ix_consultations_status_starts")
        batch_op.drop_column("municipal_staff_count")
        batch_op.drop_column("interpreters_count")
        batch_op.drop_column("relatives_count")
        batch_op.drop_column("patient_travel_confirmed")
        batch_op.drop_column("travel_key")

    with op.batch_alter_table("surveys", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_surveys_consultation_id"))

    op.drop_table("surveys")
