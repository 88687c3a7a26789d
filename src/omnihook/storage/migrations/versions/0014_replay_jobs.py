"""replay jobs

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-02 03:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import omnihook.storage.types

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Bulk replay and backfill jobs: their filter, progress and lease.
    op.create_table(
        "replay_jobs",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("filter", sa.JSON(), nullable=False),
        sa.Column("backfill_endpoint_id", sa.String(length=32), nullable=True),
        sa.Column("rate_per_second", sa.Integer(), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("replayed", sa.Integer(), nullable=False),
        sa.Column("skipped", sa.Integer(), nullable=False),
        sa.Column("endpoints", sa.JSON(), nullable=False),
        sa.Column("cursors", sa.JSON(), nullable=False),
        sa.Column("created_by_id", sa.String(length=32), nullable=True),
        sa.Column("created_by", sa.String(length=120), nullable=False),
        sa.Column("cancelled_by", sa.String(length=120), nullable=True),
        sa.Column("lease_owner", sa.String(length=64), nullable=True),
        sa.Column("lease_until", omnihook.storage.types.UtcDateTime(timezone=True), nullable=True),
        sa.Column("created_at", omnihook.storage.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", omnihook.storage.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("finished_at", omnihook.storage.types.UtcDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_replay_jobs")),
    )
    op.create_index("ix_replay_jobs_status", "replay_jobs", ["status", "created_at"], unique=False)
    # What each job sends, fixed at its creation.
    op.create_table(
        "replay_job_items",
        sa.Column("job_id", sa.String(length=32), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("endpoint_id", sa.String(length=32), nullable=False),
        sa.Column("event_id", sa.String(length=32), nullable=False),
        sa.Column("delivery_id", sa.String(length=40), nullable=True),
        sa.Column("state", sa.String(length=10), nullable=False),
        sa.ForeignKeyConstraint(
            ["job_id"],
            ["replay_jobs.id"],
            name=op.f("fk_replay_job_items_job_id_replay_jobs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("job_id", "seq", name=op.f("pk_replay_job_items")),
    )
    op.create_index(
        "ix_replay_job_items_release", "replay_job_items", ["job_id", "endpoint_id", "seq"], unique=False
    )
    op.create_index("ix_replay_job_items_state", "replay_job_items", ["job_id", "state"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_replay_job_items_state", table_name="replay_job_items")
    op.drop_index("ix_replay_job_items_release", table_name="replay_job_items")
    op.drop_table("replay_job_items")
    op.drop_index("ix_replay_jobs_status", table_name="replay_jobs")
    op.drop_table("replay_jobs")
