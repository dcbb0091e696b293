"""Identity: users, their devices, and where each user's own database file lives.

Revision ID: 0001_identity
Revises:
Create Date: 2026-02-20

The schema here is written out by hand rather than imported from the models: a released
migration must keep creating the same tables even after the models move on.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001_identity"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ACCOUNT_STATUSES = ("ACTIVE", "SUSPENDED", "BANNED", "DELETING", "DELETED")


def _ts(name: str, *, nullable: bool = False, default_now: bool = True) -> sa.Column:
    return sa.Column(
        name,
        sa.DateTime(timezone=True),
        nullable=nullable,
        server_default=sa.func.now() if default_now else None,
    )


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("did", sa.String(255), nullable=False),
        sa.Column("handle", sa.String(64), nullable=True),
        sa.Column("display_name", sa.String(255), nullable=True),
        sa.Column("email", sa.String(320), nullable=True),
        sa.Column("email_verified", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("avatar_url", sa.Text(), nullable=True),
        sa.Column("public_key", sa.Text(), nullable=False),
        sa.Column("key_type", sa.String(32), nullable=False, server_default="Ed25519"),
        sa.Column("encrypted_private_key", sa.Text(), nullable=True),
        sa.Column("verification_level", sa.Integer(), nullable=False, server_default=sa.text("0")),
        sa.Column("trust_score", sa.Float(), nullable=False, server_default=sa.text("50")),
        sa.Column("status", sa.String(16), nullable=False, server_default="ACTIVE"),
        sa.Column("mfa_enabled", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("mfa_secret", sa.Text(), nullable=True),
        sa.Column("settings", sa.JSON(), nullable=False, server_default=sa.text("'{}'")),
        _ts("created_at"),
        _ts("updated_at"),
        _ts("last_seen_at"),
        sa.PrimaryKeyConstraint("id", name="pk_users"),
        sa.CheckConstraint(
            "status IN (" + ", ".join(f"'{s}'" for s in ACCOUNT_STATUSES) + ")",
            name="ck_users_account_status",
        ),
    )
    # Unique indexes double as the seed's @unique and @@index on the same column.
    op.create_index("ix_users_did", "users", ["did"], unique=True)
    op.create_index("ix_users_handle", "users", ["handle"], unique=True)
    op.create_index("ix_users_email", "users", ["email"], unique=True)

    op.create_table(
        "devices",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("user_id", sa.String(36), nullable=False),
        sa.Column("device_id", sa.String(255), nullable=False),
        sa.Column("device_name", sa.String(255), nullable=False),
        sa.Column("device_type", sa.String(64), nullable=False),
        sa.Column("platform", sa.String(64), nullable=False),
        sa.Column("fingerprint", sa.Text(), nullable=True),
        sa.Column("public_key", sa.Text(), nullable=False),
        sa.Column("is_active", sa.Boolean(), nullable=False, server_default=sa.true()),
        sa.Column("is_trusted", sa.Boolean(), nullable=False, server_default=sa.false()),
        _ts("created_at"),
        _ts("updated_at"),
        _ts("last_seen_at"),
        sa.Column("metadata", sa.JSON(), nullable=False, server_default=sa.text("'{}'")),
        sa.PrimaryKeyConstraint("id", name="pk_devices"),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name="fk_devices_user_id_users", ondelete="CASCADE"
        ),
    )
    op.create_index("ix_devices_user_id", "devices", ["user_id"])
    op.create_index("ix_devices_device_id", "devices", ["device_id"], unique=True)
    op.create_index("ix_devices_user_id_is_active", "devices", ["user_id", "is_active"])

    # The placement lookup: one row per user says which file (and node) holds their data.
    op.create_table(
        "user_databases",
        sa.Column("user_id", sa.String(36), nullable=False),
        sa.Column("path", sa.String(512), nullable=False),
        sa.Column("schema_version", sa.Integer(), nullable=False, server_default=sa.text("0")),
        sa.Column("size_bytes", sa.BigInteger(), nullable=True),
        sa.Column("node", sa.String(255), nullable=False, server_default="local"),
        _ts("created_at"),
        _ts("updated_at"),
        sa.PrimaryKeyConstraint("user_id", name="pk_user_databases"),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name="fk_user_databases_user_id_users", ondelete="CASCADE"
        ),
        sa.UniqueConstraint("path", name="uq_user_databases_path"),
    )


def downgrade() -> None:
    op.drop_table("user_databases")
    op.drop_index("ix_devices_user_id_is_active", table_name="devices")
    op.drop_index("ix_devices_device_id", table_name="devices")
    op.drop_index("ix_devices_user_id", table_name="devices")
    op.drop_table("devices")
    op.drop_index("ix_users_email", table_name="users")
    op.drop_index("ix_users_handle", table_name="users")
    op.drop_index("ix_users_did", table_name="users")
    op.drop_table("users")
