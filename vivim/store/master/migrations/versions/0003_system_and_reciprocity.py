"""System audit and reciprocity: capture attempts, provider stats, system commands/actions,
contributions and consumptions.

Revision ID: 0003_system_and_reciprocity
Revises: 0002_social
Create Date: 2026-02-20

These tables reference users loosely: audit rows outlive the accounts they mention
(SET NULL), and reciprocity rows name DIDs because either party may be a remote peer.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003_system_and_reciprocity"
down_revision: str | None = "0002_social"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ACTION_STATUSES = ("pending", "running", "succeeded", "failed")


def _ts(name: str, *, nullable: bool = False, default_now: bool = True) -> sa.Column:
    return sa.Column(
        name,
        sa.DateTime(timezone=True),
        nullable=nullable,
        server_default=sa.func.now() if default_now else None,
    )


def _json(name: str, empty: str = "'{}'") -> sa.Column:
    return sa.Column(name, sa.JSON(), nullable=False, server_default=sa.text(empty))


def _counter(name: str) -> sa.Column:
    return sa.Column(name, sa.Integer(), nullable=False, server_default=sa.text("0"))


def _desc(column: str) -> sa.ColumnElement[object]:
    return sa.column(column).desc()


def upgrade() -> None:
    op.create_table(
        "capture_attempts",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("user_id", sa.String(36), nullable=True),
        sa.Column("source_url", sa.Text(), nullable=False),
        sa.Column("provider", sa.String(64), nullable=True),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("error_code", sa.String(64), nullable=True),
        sa.Column("error_message", sa.Text(), nullable=True),
        sa.Column("error_stack", sa.Text(), nullable=True),
        _ts("started_at", default_now=False),
        _ts("completed_at", nullable=True, default_now=False),
        sa.Column("duration", sa.Integer(), nullable=True),
        sa.Column("ip_address", sa.String(64), nullable=True),
        sa.Column("user_agent", sa.Text(), nullable=True),
        sa.Column("conversation_id", sa.String(36), nullable=True),
        _counter("retry_count"),
        sa.Column("retry_of", sa.String(36), nullable=True),
        _ts("created_at"),
        sa.PrimaryKeyConstraint("id", name="pk_capture_attempts"),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name="fk_capture_attempts_user_id_users", ondelete="SET NULL"
        ),
    )
    op.create_index("ix_capture_attempts_source_url", "capture_attempts", ["source_url"])
    op.create_index("ix_capture_attempts_status", "capture_attempts", ["status"])
    op.create_index("ix_capture_attempts_created_at", "capture_attempts", [_desc("created_at")])
    op.create_index(
        "ix_capture_attempts_ip_address_created_at",
        "capture_attempts",
        [sa.column("ip_address"), _desc("created_at")],
    )
    op.create_index("ix_capture_attempts_conversation_id", "capture_attempts", ["conversation_id"])
    op.create_index(
        "ix_capture_attempts_user_id_created_at",
        "capture_attempts",
        [sa.column("user_id"), _desc("created_at")],
    )

    op.create_table(
        "provider_stats",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("user_id", sa.String(36), nullable=False),
        sa.Column("provider", sa.String(64), nullable=False),
        _counter("total_captures"),
        _counter("successful_captures"),
        _counter("failed_captures"),
        sa.Column("avg_duration", sa.Float(), nullable=True),
        sa.Column("avg_message_count", sa.Float(), nullable=True),
        sa.Column("avg_token_count", sa.Float(), nullable=True),
        _counter("total_messages"),
        _counter("total_code_blocks"),
        _counter("total_images"),
        _counter("total_tool_calls"),
        _ts("last_capture_at", nullable=True, default_now=False),
        _ts("updated_at"),
        sa.PrimaryKeyConstraint("id", name="pk_provider_stats"),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name="fk_provider_stats_user_id_users", ondelete="CASCADE"
        ),
        # Per user, not global: one user's captures must not mix into another's stats.
        sa.UniqueConstraint("user_id", "provider", name="uq_provider_stats_user_id_provider"),
    )
    op.create_index("ix_provider_stats_provider", "provider_stats", ["provider"])

    op.create_table(
        "system_commands",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("handler", sa.String(255), nullable=False),
        sa.Column("is_enabled", sa.Boolean(), nullable=False, server_default=sa.true()),
        _json("config"),
        _ts("created_at"),
        _ts("updated_at"),
        sa.PrimaryKeyConstraint("id", name="pk_system_commands"),
        sa.UniqueConstraint("name", name="uq_system_commands_name"),
    )

    op.create_table(
        "system_actions",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("command_id", sa.String(36), nullable=True),
        sa.Column("command_name", sa.String(128), nullable=False),
        sa.Column("actor_user_id", sa.String(36), nullable=True),
        sa.Column("status", sa.String(16), nullable=False, server_default="pending"),
        _json("params"),
        sa.Column("result", sa.JSON(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        _ts("started_at"),
        _ts("completed_at", nullable=True, default_now=False),
        sa.PrimaryKeyConstraint("id", name="pk_system_actions"),
        # The audit outlives both the command and the actor, hence SET NULL.
        sa.ForeignKeyConstraint(
            ["command_id"],
            ["system_commands.id"],
            name="fk_system_actions_command_id_system_commands",
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["actor_user_id"],
            ["users.id"],
            name="fk_system_actions_actor_user_id_users",
            ondelete="SET NULL",
        ),
        sa.CheckConstraint(
            "status IN (" + ", ".join(f"'{s}'" for s in ACTION_STATUSES) + ")",
            name="ck_system_actions_system_action_status",
        ),
    )
    op.create_index("ix_system_actions_command_id", "system_actions", ["command_id"])
    op.create_index("ix_system_actions_actor_user_id", "system_actions", ["actor_user_id"])
    op.create_index("ix_system_actions_status", "system_actions", ["status"])
    op.create_index("ix_system_actions_started_at", "system_actions", [_desc("started_at")])

    op.create_table(
        "contributions",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("contributor_did", sa.String(255), nullable=False),
        sa.Column("acu_id", sa.String(64), nullable=False),
        _json("recipient_dids", "'[]'"),
        sa.Column("quality", sa.Float(), nullable=False, server_default=sa.text("1")),
        _ts("timestamp"),
        _json("metadata"),
        sa.PrimaryKeyConstraint("id", name="pk_contributions"),
    )
    op.create_index("ix_contributions_contributor_did", "contributions", ["contributor_did"])
    op.create_index("ix_contributions_acu_id", "contributions", ["acu_id"])
    op.create_index("ix_contributions_timestamp", "contributions", [_desc("timestamp")])

    op.create_table(
        "consumptions",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("consumer_did", sa.String(255), nullable=False),
        sa.Column("acu_id", sa.String(64), nullable=False),
        sa.Column("provider_did", sa.String(255), nullable=False),
        _ts("timestamp"),
        _json("metadata"),
        sa.PrimaryKeyConstraint("id", name="pk_consumptions"),
    )
    op.create_index("ix_consumptions_consumer_did", "consumptions", ["consumer_did"])
    op.create_index("ix_consumptions_acu_id", "consumptions", ["acu_id"])
    op.create_index("ix_consumptions_provider_did", "consumptions", ["provider_did"])
    op.create_index("ix_consumptions_timestamp", "consumptions", [_desc("timestamp")])


def downgrade() -> None:
    # Dropping a table drops its indexes on both engines.
    for table in (
        "consumptions",
        "contributions",
        "system_actions",
        "system_commands",
        "provider_stats",
        "capture_attempts",
    ):
        op.drop_table(table)
