"""The keyword index in the database, shared by replicas: BM25 statistics per knowledge base, terms
with their document frequencies, chunks with their lengths, and postings (chunk, tf, length) in
blocks per term and knowledge base.

Made on every backend so the schema is one; only PostgreSQL uses them
(``ASSISTANT_STORAGE__KEYWORD=postgres``). They start empty: the index is rebuilt from the catalog
the first time a process opens it.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "keyword_kbs",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(64), nullable=False, unique=True),
        sa.Column("chunks", sa.Integer, nullable=False),
        sa.Column("length", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "keyword_terms",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("term", sa.Text, nullable=False, unique=True),
        sa.Column("df", sa.Integer, nullable=False),
    )
    op.create_table(
        "keyword_chunks",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("chunk_id", sa.String(64), nullable=False, unique=True),
        sa.Column("kb_id", sa.Integer, nullable=False),
        sa.Column("length", sa.Integer, nullable=False),
        sa.Column("terms", sa.LargeBinary, nullable=False),
    )
    op.create_table(
        "keyword_blocks",
        sa.Column("term_id", sa.Integer, primary_key=True),
        sa.Column("kb_id", sa.Integer, primary_key=True),
        sa.Column("start", sa.Integer, primary_key=True),
        sa.Column("postings", sa.LargeBinary, nullable=False),
    )
    op.create_table(
        "keyword_meta",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("value", sa.Text, nullable=False),
    )


def downgrade() -> None:
    for table in ("keyword_meta", "keyword_blocks", "keyword_chunks", "keyword_terms", "keyword_kbs"):
        op.drop_table(table)
