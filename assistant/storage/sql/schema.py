"""Every table, in one SQLAlchemy ``MetaData``. Alembic migrations (``assistant/storage/migrations``)
create and change them; the code never calls ``create_all``. A change here needs a migration: a test
compares the migrated database with this metadata."""

from __future__ import annotations

from sqlalchemy import (
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
)

metadata = MetaData()

kbs = Table(
    "kbs",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("description", Text, nullable=False, default=""),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

documents = Table(
    "documents",
    metadata,
    Column("id", String(200), primary_key=True),
    Column("kb", String(64), ForeignKey("kbs.name", ondelete="CASCADE"), nullable=False, index=True),
    Column("title", Text, nullable=False),
    Column("source", Text, nullable=False, default=""),
    Column("version", String(64)),
    Column("effective_date", String(32)),
    Column("owner", Text),
    Column("tags", Text, nullable=False, default="[]"),
    Column("url", Text),
    Column("content_hash", String(64), nullable=False, default=""),
    Column("chunk_count", Integer, nullable=False, default=0),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

chunks = Table(
    "chunks",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("doc_id", String(200), ForeignKey("documents.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("kb", String(64), nullable=False, index=True),
    Column("ordinal", Integer, nullable=False),
    Column("text", Text, nullable=False),
    Column("section", Text, nullable=False, default=""),
    Column("page", Integer),
    Column("kind", String(16), nullable=False, default="text"),
    Column("question", Text),
    Column("ocr_confidence", Float),  # None unless the text was read by OCR
)

# Index entries that are not (or not yet) live: staged before an index write, retired by a switch.
index_ledger = Table(
    "index_ledger",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("kb", String(64), nullable=False),
    Column("chunk_id", String(64), nullable=False),  # "*": the whole knowledge base
    Column("state", String(16), nullable=False),  # staged | retired
    Column("expires_at", DateTime(timezone=True)),  # staged: the writer's deadline
    Column("created_at", DateTime(timezone=True), nullable=False),
    Index("ix_index_ledger_chunk", "chunk_id"),
)

jobs = Table(
    "jobs",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("kb", String(64), nullable=False),
    Column("status", String(16), nullable=False),  # queued | running | done | failed
    Column("total", Integer, nullable=False),
    Column("done", Integer, nullable=False, default=0),
    Column("files", Text, nullable=False, default="[]"),  # per-file results, JSON
    Column("error", Text),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("payload", Text),  # JSON: the staged files and the document metadata
    Column("worker", String(200)),  # who holds the lease
    Column("lease_until", DateTime(timezone=True)),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Index("ix_jobs_status_created", "status", "created_at"),
)

conversation_turns = Table(
    "conversation_turns",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("conversation_id", String(300), nullable=False, index=True),
    Column("role", String(16), nullable=False),
    Column("text", Text, nullable=False),
    Column("standalone", Text),  # user turns: the question as rewritten for retrieval
    Column("embedding", LargeBinary),  # user turns: float32 vector of the standalone question
    Column("created_at", DateTime(timezone=True), nullable=False),
)
