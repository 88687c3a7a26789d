"""endpoint failing since and attempts by start time

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-02 02:50:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import omnihook.storage.types

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Auto-disable: when an endpoint's failures began (set on the first failure after a success,
    # cleared on a success), so "every attempt failed for the period" needs no scan of the attempts.
    with op.batch_alter_table("webhook_endpoints", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("failing_since", omnihook.storage.types.UtcDateTime(timezone=True), nullable=True)
        )
    # The delivery dashboard's time filters read attempts by their start.
    with op.batch_alter_table("delivery_attempts", schema=None) as batch_op:
        batch_op.create_index("ix_delivery_attempts_started_at", ["started_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("delivery_attempts", schema=None) as batch_op:
        batch_op.drop_index("ix_delivery_attempts_started_at")
    with op.batch_alter_table("webhook_endpoints", schema=None) as batch_op:
        batch_op.drop_column("failing_since")
