"""live connections and visitor status

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01 23:59:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import omnihook.storage.types

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("visitors", schema=None) as batch_op:
        batch_op.add_column(sa.Column("status", sa.String(length=20), nullable=True))
    op.create_table(
        "live_connections",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("server_id", sa.String(length=32), nullable=False),
        sa.Column("user_id", sa.String(length=32), nullable=True),
        sa.Column("visitor_token", sa.String(length=200), nullable=True),
        sa.Column("seen_at", omnihook.storage.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("closed_at", omnihook.storage.types.UtcDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_live_connections_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_live_connections")),
    )
    op.create_index("ix_live_connections_user", "live_connections", ["user_id"])
    op.create_index("ix_live_connections_visitor", "live_connections", ["visitor_token"])
    op.create_index("ix_live_connections_server", "live_connections", ["server_id"])


def downgrade() -> None:
    op.drop_index("ix_live_connections_server", table_name="live_connections")
    op.drop_index("ix_live_connections_visitor", table_name="live_connections")
    op.drop_index("ix_live_connections_user", table_name="live_connections")
    op.drop_table("live_connections")
    with op.batch_alter_table("visitors", schema=None) as batch_op:
        batch_op.drop_column("status")
