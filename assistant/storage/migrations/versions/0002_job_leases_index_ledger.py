"""Jobs that any worker process can claim (leases, attempts, their files and metadata), the index
ledger that lets any process purge a dead writer's leftovers, and an index on chunks.kb.

Jobs a 0.1 server left queued or running cannot be resumed (it kept their files in memory): they
are marked failed with a message saying so.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.add_column(sa.Column("payload", sa.Text))
        batch.add_column(sa.Column("worker", sa.String(200)))
        batch.add_column(sa.Column("lease_until", sa.DateTime(timezone=True)))
        batch.add_column(sa.Column("attempts", sa.Integer, nullable=False, server_default="0"))
    op.create_index("ix_jobs_status_created", "jobs", ["status", "created_at"])
    op.execute(
        "UPDATE jobs SET status = 'failed', "
        "error = 'interrupted by an upgrade of the assistant before it finished; upload the files again' "
        "WHERE status IN ('queued', 'running')"
    )
    op.create_index("ix_chunks_kb", "chunks", ["kb"])
    op.create_table(
        "index_ledger",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("kb", sa.String(64), nullable=False),
        sa.Column("chunk_id", sa.String(64), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True)),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_index_ledger_chunk", "index_ledger", ["chunk_id"])


def downgrade() -> None:
    op.drop_table("index_ledger")
    op.drop_index("ix_chunks_kb", "chunks")
    op.drop_index("ix_jobs_status_created", "jobs")
    with op.batch_alter_table("jobs") as batch:
        for column in ("attempts", "lease_until", "worker", "payload"):
            batch.drop_column(column)
