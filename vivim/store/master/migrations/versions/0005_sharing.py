"""Sharing: circle invitations, blocks, published units, their grants and audiences,
annotations, a cache generation, and reciprocity detail.

Revision ID: 0005_sharing
Revises: 0004_auth
Create Date: 2026-11-22

A shared unit is copied here exactly as its audience may see it (signed fields, signature,
embedding, policy); the author's own DB is never opened for anyone else. Who may read a
circle share is materialised in ``shared_unit_access`` (grants x memberships) so a reader's
"shared with me" list is one index range. docs/SHARING.md explains every table.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005_sharing"
down_revision: str | None = "0004_auth"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _ts(name: str, *, nullable: bool = False, default_now: bool = True) -> sa.Column:
    return sa.Column(
        name,
        sa.DateTime(timezone=True),
        nullable=nullable,
        server_default=sa.func.now() if default_now else None,
    )


def _id(name: str, *, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.String(36), nullable=nullable)


def _flag(name: str, default: bool) -> sa.Column:
    return sa.Column(name, sa.Boolean(), nullable=False, server_default=sa.true() if default else sa.false())


def _fk(table: str, column: str, target: str, ondelete: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column], [f"{target}.id"], name=f"fk_{table}_{column}_{target}", ondelete=ondelete
    )


def _enum(name: str, values: list[str]) -> sa.Enum:
    return sa.Enum(*values, name=name, native_enum=False, create_constraint=True, length=16)


def upgrade() -> None:
    op.create_table(
        "circle_invitations",
        _id("id"),
        _id("circle_id"),
        _id("inviter_id", nullable=True),
        _id("invitee_id"),
        sa.Column("role", sa.String(32), nullable=False, server_default="member"),
        _flag("can_invite", False),
        _flag("can_share", True),
        sa.Column(
            "status",
            _enum("invitation_status", ["pending", "accepted", "declined", "revoked"]),
            nullable=False,
            server_default="pending",
        ),
        _ts("created_at"),
        _ts("responded_at", nullable=True, default_now=False),
        sa.PrimaryKeyConstraint("id", name="pk_circle_invitations"),
        _fk("circle_invitations", "circle_id", "circles", "CASCADE"),
        _fk("circle_invitations", "inviter_id", "users", "SET NULL"),
        _fk("circle_invitations", "invitee_id", "users", "CASCADE"),
        sa.UniqueConstraint("circle_id", "invitee_id", name="uq_circle_invitations_circle_id_invitee_id"),
    )
    op.create_index("ix_circle_invitations_circle_id", "circle_invitations", ["circle_id"])
    op.create_index("ix_circle_invitations_invitee_id", "circle_invitations", ["invitee_id"])

    op.create_table(
        "blocks",
        _id("id"),
        _id("blocker_id"),
        _id("blocked_id"),
        _ts("created_at"),
        sa.PrimaryKeyConstraint("id", name="pk_blocks"),
        _fk("blocks", "blocker_id", "users", "CASCADE"),
        _fk("blocks", "blocked_id", "users", "CASCADE"),
        sa.UniqueConstraint("blocker_id", "blocked_id", name="uq_blocks_blocker_id_blocked_id"),
        sa.CheckConstraint("blocker_id <> blocked_id", name="ck_blocks_not_self"),
    )
    op.create_index("ix_blocks_blocked_id", "blocks", ["blocked_id"])

    op.create_table(
        "shared_units",
        _id("id"),
        sa.Column("unit_id", sa.String(64), nullable=False),
        _id("sharer_id"),
        _id("author_id", nullable=True),
        sa.Column("author_did", sa.String(255), nullable=False),
        _id("reshared_from_id", nullable=True),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("content_hash", sa.String(64), nullable=True),
        sa.Column("type", sa.String(64), nullable=False),
        sa.Column("category", sa.String(64), nullable=False),
        sa.Column("conversation_id", sa.String(64), nullable=True),
        sa.Column("message_id", sa.String(64), nullable=True),
        sa.Column("unit_created_at", sa.String(40), nullable=False),
        sa.Column("signature", sa.LargeBinary(), nullable=True),
        sa.Column("language", sa.String(32), nullable=True),
        sa.Column("tags", sa.JSON(), nullable=False, server_default=sa.text("'[]'")),
        sa.Column("embedding", sa.LargeBinary(), nullable=True),
        sa.Column("embedding_model", sa.String(128), nullable=True),
        sa.Column("embedding_dim", sa.Integer(), nullable=True),
        sa.Column("policy", _enum("sharing_policy", ["circle", "public"]), nullable=False),
        _flag("can_view", True),
        _flag("can_annotate", False),
        _flag("can_remix", False),
        _flag("can_reshare", False),
        _ts("expires_at", nullable=True, default_now=False),
        _ts("published_at"),
        _ts("updated_at"),
        sa.PrimaryKeyConstraint("id", name="pk_shared_units"),
        _fk("shared_units", "sharer_id", "users", "CASCADE"),
        _fk("shared_units", "author_id", "users", "SET NULL"),
        _fk("shared_units", "reshared_from_id", "shared_units", "CASCADE"),
        sa.UniqueConstraint("sharer_id", "unit_id", name="uq_shared_units_sharer_id_unit_id"),
    )
    op.create_index("ix_shared_units_unit_id", "shared_units", ["unit_id"])
    op.create_index("ix_shared_units_author_id", "shared_units", ["author_id"])
    op.create_index("ix_shared_units_reshared_from_id", "shared_units", ["reshared_from_id"])
    # Feeds read newest first by (published_at, id); both engines scan these backwards.
    op.create_index("ix_shared_units_sharer_id_published_at", "shared_units", ["sharer_id", "published_at", "id"])
    op.create_index(
        "ix_shared_units_policy_sharer_id_published_at", "shared_units", ["policy", "sharer_id", "published_at", "id"]
    )

    op.create_table(
        "shared_unit_circles",
        _id("shared_unit_id"),
        _id("circle_id"),
        _ts("published_at"),
        sa.PrimaryKeyConstraint("shared_unit_id", "circle_id", name="pk_shared_unit_circles"),
        _fk("shared_unit_circles", "shared_unit_id", "shared_units", "CASCADE"),
        _fk("shared_unit_circles", "circle_id", "circles", "CASCADE"),
    )
    op.create_index(
        "ix_shared_unit_circles_circle_id_published_at",
        "shared_unit_circles",
        ["circle_id", "published_at", "shared_unit_id"],
    )

    op.create_table(
        "shared_unit_access",
        _id("recipient_id"),
        _id("shared_unit_id"),
        _id("sharer_id"),
        _ts("published_at", default_now=False),
        _ts("expires_at", nullable=True, default_now=False),
        sa.PrimaryKeyConstraint("recipient_id", "shared_unit_id", name="pk_shared_unit_access"),
        _fk("shared_unit_access", "recipient_id", "users", "CASCADE"),
        _fk("shared_unit_access", "shared_unit_id", "shared_units", "CASCADE"),
        _fk("shared_unit_access", "sharer_id", "users", "CASCADE"),
    )
    op.create_index("ix_shared_unit_access_shared_unit_id", "shared_unit_access", ["shared_unit_id"])
    # The reader's feed (newest first) and the feed of one author: each one index range.
    op.create_index(
        "ix_shared_unit_access_recipient_id_published_at",
        "shared_unit_access",
        ["recipient_id", "published_at", "shared_unit_id"],
    )
    op.create_index(
        "ix_shared_unit_access_recipient_id_sharer_id_published_at",
        "shared_unit_access",
        ["recipient_id", "sharer_id", "published_at", "shared_unit_id"],
    )

    op.create_table(
        "annotations",
        _id("id"),
        _id("shared_unit_id"),
        _id("author_id"),
        sa.Column("body", sa.Text(), nullable=False),
        _ts("created_at"),
        _ts("updated_at"),
        sa.PrimaryKeyConstraint("id", name="pk_annotations"),
        _fk("annotations", "shared_unit_id", "shared_units", "CASCADE"),
        _fk("annotations", "author_id", "users", "CASCADE"),
    )
    op.create_index("ix_annotations_author_id", "annotations", ["author_id"])
    op.create_index("ix_annotations_shared_unit_id_created_at", "annotations", ["shared_unit_id", "created_at"])

    op.create_table(
        "sharing_state",
        sa.Column("key", sa.String(64), nullable=False),
        sa.Column("value", sa.BigInteger(), nullable=False, server_default=sa.text("0")),
        sa.PrimaryKeyConstraint("key", name="pk_sharing_state"),
    )
    # The row exists from the start so bumping it is always a plain UPDATE (no insert race).
    op.execute("INSERT INTO sharing_state (key, value) VALUES ('generation', 0)")

    for table, default in (("contributions", "share"), ("consumptions", "view")):
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("kind", sa.String(16), nullable=False, server_default=default))
            batch.add_column(sa.Column("shared_unit_id", sa.String(36), nullable=True))
            batch.add_column(sa.Column("circle_id", sa.String(36), nullable=True))
        op.create_index(f"ix_{table}_shared_unit_id", table, ["shared_unit_id"])


def downgrade() -> None:
    for table in ("consumptions", "contributions"):
        op.drop_index(f"ix_{table}_shared_unit_id", table_name=table)
        with op.batch_alter_table(table) as batch:
            batch.drop_column("circle_id")
            batch.drop_column("shared_unit_id")
            batch.drop_column("kind")
    op.drop_table("sharing_state")
    op.drop_index("ix_annotations_shared_unit_id_created_at", table_name="annotations")
    op.drop_index("ix_annotations_author_id", table_name="annotations")
    op.drop_table("annotations")
    for name in (
        "ix_shared_unit_access_recipient_id_sharer_id_published_at",
        "ix_shared_unit_access_recipient_id_published_at",
        "ix_shared_unit_access_shared_unit_id",
    ):
        op.drop_index(name, table_name="shared_unit_access")
    op.drop_table("shared_unit_access")
    op.drop_index("ix_shared_unit_circles_circle_id_published_at", table_name="shared_unit_circles")
    op.drop_table("shared_unit_circles")
    for name in (
        "ix_shared_units_policy_sharer_id_published_at",
        "ix_shared_units_sharer_id_published_at",
        "ix_shared_units_reshared_from_id",
        "ix_shared_units_author_id",
        "ix_shared_units_unit_id",
    ):
        op.drop_index(name, table_name="shared_units")
    op.drop_table("shared_units")
    op.drop_index("ix_blocks_blocked_id", table_name="blocks")
    op.drop_table("blocks")
    op.drop_index("ix_circle_invitations_invitee_id", table_name="circle_invitations")
    op.drop_index("ix_circle_invitations_circle_id", table_name="circle_invitations")
    op.drop_table("circle_invitations")
