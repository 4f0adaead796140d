"""login sessions, HPR links, sign-in invitations and TOTP credentials

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04

Sessions move from encrypted cookies into the database (the cookie keeps a random id, the table
its keyed hash), so they can be ended. Existing cookie sessions are not carried over: everyone
signs in again once after the upgrade.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "login_sessions",
        sa.Column("id_hash", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(length=32), nullable=False),
        sa.Column("method", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("flashes", sa.String(length=2000), nullable=False),
        sa.CheckConstraint(
            "method IN ('password', 'oidc')", name=op.f("ck_login_sessions_method")
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_login_sessions_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id_hash", name=op.f("pk_login_sessions")),
    )
    with op.batch_alter_table("login_sessions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_login_sessions_user_id"), ["user_id"], unique=False
        )
    op.create_table(
        "hpr_links",
        sa.Column("hpr_number", sa.String(length=16), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("linked_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_hpr_links_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("hpr_number", name=op.f("pk_hpr_links")),
        sa.UniqueConstraint("user_id", name=op.f("uq_hpr_links_user_id")),
    )
    op.create_table(
        "signin_invitations",
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_signin_invitations_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("token_hash", name=op.f("pk_signin_invitations")),
    )
    with op.batch_alter_table("signin_invitations", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_signin_invitations_user_id"), ["user_id"], unique=False
        )
    op.create_table(
        "totp_credentials",
        sa.Column("user_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("sealed_secret", sa.String(length=400), nullable=False),
        sa.Column("last_step", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_totp_credentials_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_totp_credentials")),
    )


def downgrade() -> None:
    op.drop_table("totp_credentials")
    with op.batch_alter_table("signin_invitations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_signin_invitations_user_id"))
    op.drop_table("signin_invitations")
    op.drop_table("hpr_links")
    with op.batch_alter_table("login_sessions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_login_sessions_user_id"))
    op.drop_table("login_sessions")
