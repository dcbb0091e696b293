"""Social graph: circles and their members, P2P peer connections, friends, follows.

Revision ID: 0002_social
Revises: 0001_identity
Create Date: 2026-02-20

Every edge hangs off users with ON DELETE CASCADE: deleting an account removes its side of
every relationship without the application having to find them first.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002_social"
down_revision: str | None = "0001_identity"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PEER_STATUSES = ("pending", "active", "blocked", "closed")
FRIEND_STATUSES = ("pending", "accepted", "rejected", "blocked")


def _ts(name: str, *, nullable: bool = False, default_now: bool = True) -> sa.Column:
    return sa.Column(
        name,
        sa.DateTime(timezone=True),
        nullable=nullable,
        server_default=sa.func.now() if default_now else None,
    )


def _in(column: str, values: Sequence[str]) -> str:
    return f"{column} IN (" + ", ".join(f"'{v}'" for v in values) + ")"


def _user_fk(table: str, column: str, ondelete: str = "CASCADE") -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column], ["users.id"], name=f"fk_{table}_{column}_users", ondelete=ondelete
    )


def upgrade() -> None:
    op.create_table(
        "circles",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("owner_id", sa.String(36), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("is_public", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("icon", sa.String(255), nullable=True),
        sa.Column("color", sa.String(32), nullable=True),
        _ts("created_at"),
        _ts("updated_at"),
        sa.Column("metadata", sa.JSON(), nullable=False, server_default=sa.text("'{}'")),
        sa.PrimaryKeyConstraint("id", name="pk_circles"),
        _user_fk("circles", "owner_id"),
    )
    op.create_index("ix_circles_owner_id", "circles", ["owner_id"])
    op.create_index("ix_circles_is_public", "circles", ["is_public"])

    op.create_table(
        "circle_members",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("circle_id", sa.String(36), nullable=False),
        sa.Column("user_id", sa.String(36), nullable=False),
        sa.Column("role", sa.String(32), nullable=False, server_default="member"),
        sa.Column("can_invite", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("can_share", sa.Boolean(), nullable=False, server_default=sa.true()),
        _ts("joined_at"),
        sa.PrimaryKeyConstraint("id", name="pk_circle_members"),
        sa.ForeignKeyConstraint(
            ["circle_id"],
            ["circles.id"],
            name="fk_circle_members_circle_id_circles",
            ondelete="CASCADE",
        ),
        _user_fk("circle_members", "user_id"),
        sa.UniqueConstraint("circle_id", "user_id", name="uq_circle_members_circle_id_user_id"),
    )
    op.create_index("ix_circle_members_circle_id", "circle_members", ["circle_id"])
    op.create_index("ix_circle_members_user_id", "circle_members", ["user_id"])

    # Directed: each user keeps their own view (status, trust) of a peer known by DID.
    op.create_table(
        "peer_connections",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("user_id", sa.String(36), nullable=False),
        sa.Column("peer_did", sa.String(255), nullable=False),
        sa.Column("peer_user_id", sa.String(36), nullable=True),
        sa.Column("status", sa.String(16), nullable=False, server_default="pending"),
        sa.Column("trust_level", sa.Integer(), nullable=False, server_default=sa.text("0")),
        _ts("created_at"),
        _ts("updated_at"),
        _ts("last_seen_at", nullable=True, default_now=False),
        sa.Column("metadata", sa.JSON(), nullable=False, server_default=sa.text("'{}'")),
        sa.PrimaryKeyConstraint("id", name="pk_peer_connections"),
        _user_fk("peer_connections", "user_id"),
        _user_fk("peer_connections", "peer_user_id", ondelete="SET NULL"),
        sa.UniqueConstraint("user_id", "peer_did", name="uq_peer_connections_user_id_peer_did"),
        sa.CheckConstraint(_in("status", PEER_STATUSES), name="ck_peer_connections_peer_connection_status"),
    )
    op.create_index("ix_peer_connections_peer_did", "peer_connections", ["peer_did"])
    op.create_index("ix_peer_connections_peer_user_id", "peer_connections", ["peer_user_id"])
    op.create_index("ix_peer_connections_user_id_status", "peer_connections", ["user_id", "status"])

    op.create_table(
        "friends",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("requester_id", sa.String(36), nullable=False),
        sa.Column("addressee_id", sa.String(36), nullable=False),
        sa.Column("status", sa.String(16), nullable=False, server_default="pending"),
        _ts("created_at"),
        _ts("updated_at"),
        sa.PrimaryKeyConstraint("id", name="pk_friends"),
        _user_fk("friends", "requester_id"),
        _user_fk("friends", "addressee_id"),
        sa.UniqueConstraint("requester_id", "addressee_id", name="uq_friends_requester_id_addressee_id"),
        sa.CheckConstraint("requester_id <> addressee_id", name="ck_friends_not_self"),
        sa.CheckConstraint(_in("status", FRIEND_STATUSES), name="ck_friends_friend_status"),
    )
    op.create_index("ix_friends_addressee_id", "friends", ["addressee_id"])

    op.create_table(
        "follows",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("follower_id", sa.String(36), nullable=False),
        sa.Column("following_id", sa.String(36), nullable=False),
        _ts("created_at"),
        sa.PrimaryKeyConstraint("id", name="pk_follows"),
        _user_fk("follows", "follower_id"),
        _user_fk("follows", "following_id"),
        sa.UniqueConstraint("follower_id", "following_id", name="uq_follows_follower_id_following_id"),
        sa.CheckConstraint("follower_id <> following_id", name="ck_follows_not_self"),
    )
    op.create_index("ix_follows_following_id", "follows", ["following_id"])


def downgrade() -> None:
    op.drop_index("ix_follows_following_id", table_name="follows")
    op.drop_table("follows")
    op.drop_index("ix_friends_addressee_id", table_name="friends")
    op.drop_table("friends")
    op.drop_index("ix_peer_connections_user_id_status", table_name="peer_connections")
    op.drop_index("ix_peer_connections_peer_user_id", table_name="peer_connections")
    op.drop_index("ix_peer_connections_peer_did", table_name="peer_connections")
    op.drop_table("peer_connections")
    op.drop_index("ix_circle_members_user_id", table_name="circle_members")
    op.drop_index("ix_circle_members_circle_id", table_name="circle_members")
    op.drop_table("circle_members")
    op.drop_index("ix_circles_is_public", table_name="circles")
    op.drop_index("ix_circles_owner_id", table_name="circles")
    op.drop_table("circles")
