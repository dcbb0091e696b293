"""Authentication: login challenges, device sessions and personal API tokens.

Revision ID: 0004_auth
Revises: 0003_system_and_reciprocity
Create Date: 2026-02-21

Tokens are stored only as SHA-256 hashes (looked up by hash on every request), so a copy of
this database does not let anyone act as a user. Everything hangs off ``users`` and
``devices`` with ON DELETE CASCADE: deleting a user or a device deletes its credentials.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004_auth"
down_revision: str | None = "0003_system_and_reciprocity"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _ts(name: str, *, nullable: bool = False, default_now: bool = True) -> sa.Column:
    return sa.Column(
        name,
        sa.DateTime(timezone=True),
        nullable=nullable,
        server_default=sa.func.now() if default_now else None,
    )


def _hash(name: str, *, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.String(64), nullable=nullable)


def _user_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=f"fk_{table}_user_id_users", ondelete="CASCADE")


def _device_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["device_id"], ["devices.id"], name=f"fk_{table}_device_id_devices", ondelete="CASCADE"
    )


def upgrade() -> None:
    op.create_table(
        "auth_challenges",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("user_id", sa.String(36), nullable=False),
        sa.Column("device_id", sa.String(36), nullable=True),
        sa.Column("nonce", sa.String(64), nullable=False),
        sa.Column("origin", sa.String(512), nullable=False),
        sa.Column("ip_address", sa.String(64), nullable=True),
        _ts("created_at"),
        _ts("expires_at", default_now=False),
        _ts("used_at", nullable=True, default_now=False),
        sa.PrimaryKeyConstraint("id", name="pk_auth_challenges"),
        _user_fk("auth_challenges"),
        _device_fk("auth_challenges"),
    )
    op.create_index("ix_auth_challenges_user_id", "auth_challenges", ["user_id"])
    op.create_index("ix_auth_challenges_device_id", "auth_challenges", ["device_id"])
    # Expired challenges are swept by expiry.
    op.create_index("ix_auth_challenges_expires_at", "auth_challenges", ["expires_at"])

    op.create_table(
        "auth_sessions",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("user_id", sa.String(36), nullable=False),
        sa.Column("device_id", sa.String(36), nullable=False),
        _hash("access_token_hash"),
        _ts("access_expires_at", default_now=False),
        _hash("refresh_token_hash"),
        _hash("previous_refresh_hash", nullable=True),
        _ts("refresh_expires_at", default_now=False),
        _ts("created_at"),
        _ts("refreshed_at", nullable=True, default_now=False),
        _ts("last_used_at"),
        _ts("revoked_at", nullable=True, default_now=False),
        sa.Column("revoke_reason", sa.String(32), nullable=True),
        sa.Column("ip_address", sa.String(64), nullable=True),
        sa.Column("user_agent", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_auth_sessions"),
        _user_fk("auth_sessions"),
        _device_fk("auth_sessions"),
    )
    op.create_index("ix_auth_sessions_user_id", "auth_sessions", ["user_id"])
    op.create_index("ix_auth_sessions_device_id", "auth_sessions", ["device_id"])
    # Each request looks its token up by hash: unique indexes are both the lookup and the
    # guarantee that one token never names two sessions.
    op.create_index("ix_auth_sessions_access_token_hash", "auth_sessions", ["access_token_hash"], unique=True)
    op.create_index("ix_auth_sessions_refresh_token_hash", "auth_sessions", ["refresh_token_hash"], unique=True)
    op.create_index("ix_auth_sessions_previous_refresh_hash", "auth_sessions", ["previous_refresh_hash"])

    op.create_table(
        "api_tokens",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("user_id", sa.String(36), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        _hash("token_hash"),
        sa.Column("token_prefix", sa.String(16), nullable=False),
        _ts("created_at"),
        _ts("expires_at", nullable=True, default_now=False),
        _ts("last_used_at", nullable=True, default_now=False),
        _ts("revoked_at", nullable=True, default_now=False),
        sa.PrimaryKeyConstraint("id", name="pk_api_tokens"),
        _user_fk("api_tokens"),
    )
    op.create_index("ix_api_tokens_user_id", "api_tokens", ["user_id"])
    op.create_index("ix_api_tokens_token_hash", "api_tokens", ["token_hash"], unique=True)


def downgrade() -> None:
    op.drop_index("ix_api_tokens_token_hash", table_name="api_tokens")
    op.drop_index("ix_api_tokens_user_id", table_name="api_tokens")
    op.drop_table("api_tokens")
    for name in (
        "ix_auth_sessions_previous_refresh_hash",
        "ix_auth_sessions_refresh_token_hash",
        "ix_auth_sessions_access_token_hash",
        "ix_auth_sessions_device_id",
        "ix_auth_sessions_user_id",
    ):
        op.drop_index(name, table_name="auth_sessions")
    op.drop_table("auth_sessions")
    for name in ("ix_auth_challenges_expires_at", "ix_auth_challenges_device_id", "ix_auth_challenges_user_id"):
        op.drop_index(name, table_name="auth_challenges")
    op.drop_table("auth_challenges")
