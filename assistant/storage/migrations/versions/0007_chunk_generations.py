"""Versions of a document that readers on other processes may still be resolving.

``catalog_clock`` holds one number that every document switch advances in its own transaction.
``chunks.born`` is the switch that made a live chunk live; ``chunk_history`` keeps the chunks a
switch retired (with the document fields a citation shows) until a janitor drops them after a grace
period. A reader takes the clock before it searches and resolves its hits as of that number, so it
sees the version that was live then, whichever process switched the document meanwhile.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "catalog_clock",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("seq", sa.BigInteger, nullable=False),
    )
    op.execute("INSERT INTO catalog_clock (id, seq) VALUES (1, 0)")
    with op.batch_alter_table("chunks") as batch:
        batch.add_column(sa.Column("born", sa.BigInteger, nullable=False, server_default="0"))
    op.create_table(
        "chunk_history",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("retired", sa.BigInteger, primary_key=True),  # the switch that took it out
        sa.Column("born", sa.BigInteger, nullable=False),
        sa.Column("retired_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("doc_id", sa.String(200), nullable=False),
        sa.Column("kb", sa.String(64), nullable=False),
        sa.Column("ordinal", sa.Integer, nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("section", sa.Text, nullable=False),
        sa.Column("page", sa.Integer),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("question", sa.Text),
        sa.Column("ocr_confidence", sa.Float),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("url", sa.Text),
        sa.Column("version", sa.String(64)),
        sa.Column("curated_by", sa.Text),
    )
    op.create_index("ix_chunk_history_retired_at", "chunk_history", ["retired_at"])


def downgrade() -> None:
    op.drop_index("ix_chunk_history_retired_at", "chunk_history")
    op.drop_table("chunk_history")
    with op.batch_alter_table("chunks") as batch:
        batch.drop_column("born")
    op.drop_table("catalog_clock")
