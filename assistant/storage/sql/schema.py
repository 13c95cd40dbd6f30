"""Every table, in one SQLAlchemy ``MetaData``. Alembic migrations (``assistant/storage/migrations``)
create and change them; the code never calls ``create_all``. A change here needs a migration: a test
compares the migrated database with this metadata."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
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
    Column("department", String(64)),  # the owning department; NULL: open to every department
)

kb_readers = Table(  # departments granted reading a knowledge base they do not own
    "kb_readers",
    metadata,
    Column("kb", String(64), ForeignKey("kbs.name", ondelete="CASCADE"), primary_key=True),
    Column("department", String(64), primary_key=True),
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
    Column("disabled", Boolean, nullable=False, default=False, server_default="0"),  # kept, never retrieved
    Column("curated_by", Text),  # a curated FAQ entry: who wrote it (None: a document from a file)
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
    Column("born", BigInteger, nullable=False, default=0, server_default="0"),  # the switch that made it live
)

# Every document switch advances this one number (migration 0007); readers resolve as of a value of it.
catalog_clock = Table(
    "catalog_clock",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("seq", BigInteger, nullable=False),
)

# Chunks a switch retired, with the document fields a citation shows, kept for readers still resolving
# as of an earlier clock; dropped by the janitor after a grace period.
chunk_history = Table(
    "chunk_history",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("retired", BigInteger, primary_key=True),
    Column("born", BigInteger, nullable=False),
    Column("retired_at", DateTime(timezone=True), nullable=False),
    Column("doc_id", String(200), nullable=False),
    Column("kb", String(64), nullable=False),
    Column("ordinal", Integer, nullable=False),
    Column("text", Text, nullable=False),
    Column("section", Text, nullable=False),
    Column("page", Integer),
    Column("kind", String(16), nullable=False),
    Column("question", Text),
    Column("ocr_confidence", Float),
    Column("title", Text, nullable=False),
    Column("url", Text),
    Column("version", String(64)),
    Column("curated_by", Text),
    Index("ix_chunk_history_retired_at", "retired_at"),
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


# -- accounts, permissions, audit -------------------------------------------------------------------
departments = Table(
    "departments",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("description", Text, nullable=False, default=""),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

users = Table(
    "users",
    metadata,
    Column("username", String(64), primary_key=True),
    Column("display_name", Text, nullable=False, default=""),
    Column("role", String(32), nullable=False),
    Column("password_hash", Text, nullable=False),  # argon2
    Column("disabled", Boolean, nullable=False, default=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("last_login_at", DateTime(timezone=True)),
)

user_departments = Table(
    "user_departments",
    metadata,
    Column("username", String(64), ForeignKey("users.username", ondelete="CASCADE"), primary_key=True),
    Column("department", String(64), primary_key=True),
)

api_keys = Table(
    "api_keys",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("key_hash", String(64), nullable=False, unique=True),  # sha256 of the secret part
    Column("name", Text, nullable=False, default=""),
    Column("role", String(32), nullable=False),
    Column("created_by", String(128), nullable=False, default=""),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True)),
    Column("revoked_at", DateTime(timezone=True)),
    Column("last_used_at", DateTime(timezone=True)),
)

api_key_departments = Table(
    "api_key_departments",
    metadata,
    Column("key_id", String(32), ForeignKey("api_keys.id", ondelete="CASCADE"), primary_key=True),
    Column("department", String(64), primary_key=True),
)

im_rules = Table(
    "im_rules",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("priority", Integer, nullable=False, default=100),
    Column("platform", String(32)),
    Column("chat_id", String(200)),
    Column("user_id", String(200)),
    Column("department", String(64)),
    Column("role", String(32), nullable=False),
    Column("note", Text, nullable=False, default=""),
)

customer_bindings = Table(
    "customer_bindings",
    metadata,
    Column("platform", String(32), primary_key=True),
    Column("user_id", String(200), primary_key=True),
    Column("customer_id", String(64), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

order_verifications = Table(  # an asker proved they own an order (last four digits of its phone)
    "order_verifications",
    metadata,
    Column("principal_id", String(300), primary_key=True),
    Column("order_no", String(32), primary_key=True),
    Column("expires_at", DateTime(timezone=True), nullable=False),
)

audit_log = Table(
    "audit_log",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("request_id", String(64), nullable=False, default=""),
    Column("kind", String(16), nullable=False),
    Column("channel", String(64), nullable=False, default=""),
    Column("principal_id", String(300), nullable=False, default=""),
    Column("principal_kind", String(16), nullable=False, default=""),
    Column("principal_name", Text, nullable=False, default=""),
    Column("role", String(32), nullable=False, default=""),
    Column("departments", Text, nullable=False, default="[]"),
    Column("action", String(64), nullable=False, default=""),
    Column("target", Text, nullable=False, default=""),
    Column("kbs", Text, nullable=False, default="[]"),
    Column("question", Text, nullable=False, default=""),
    Column("rewritten", Text, nullable=False, default=""),
    Column("answer", Text, nullable=False, default=""),
    Column("refused", Boolean),
    Column("refusal", String(32)),
    Column("sources", Text, nullable=False, default="[]"),
    Column("tool_calls", Text, nullable=False, default="[]"),
    Column("latency_ms", Float),
    Column("status", String(16), nullable=False, default="ok"),
    Column("detail", Text, nullable=False, default="{}"),
    Column("conversation_id", String(300)),  # questions: the principal's conversation (sessions)
    Column("rule", String(128)),  # questions: the routing rule that applied
    Index("ix_audit_log_at", "at"),
    Index("ix_audit_log_principal", "principal_id"),
    Index("ix_audit_log_conversation", "conversation_id"),
)

audit_log_kbs = Table(  # one row per knowledge base a question searched or an act touched: for filters
    "audit_log_kbs",
    metadata,
    Column("entry_id", Integer, ForeignKey("audit_log.id", ondelete="CASCADE"), primary_key=True),
    Column("kb", String(64), primary_key=True),
    Index("ix_audit_log_kbs_kb", "kb"),
)

audit_log_docs = Table(  # one row per cited document: "who was told what from this SOP"
    "audit_log_docs",
    metadata,
    Column("entry_id", Integer, ForeignKey("audit_log.id", ondelete="CASCADE"), primary_key=True),
    Column("doc_id", String(200), primary_key=True),
    Index("ix_audit_log_docs_doc", "doc_id"),
)


# -- the console: document history, sessions, feedback, routing rules -------------------------------
document_versions = Table(  # every change of a document, newest last: the console's version history
    "document_versions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("doc_id", String(200), nullable=False),
    Column("kb", String(64), nullable=False),
    Column("action", String(16), nullable=False),  # added, replaced, disabled, enabled, deleted
    Column("version", String(64)),
    Column("title", Text, nullable=False, default=""),
    Column("source", Text, nullable=False, default=""),
    Column("content_hash", String(64), nullable=False, default=""),
    Column("chunk_count", Integer, nullable=False, default=0),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("by", String(300), nullable=False, default=""),  # principal id, or "" for ingestion with none
    Index("ix_document_versions_doc", "doc_id", "id"),
)

sessions = Table(  # one row per conversation of a principal, updated as its questions arrive
    "sessions",
    metadata,
    Column("id", String(400), primary_key=True),  # "<principal id>|<conversation>" or "<principal id>|r:<request>"
    Column("principal_id", String(300), nullable=False),
    Column("principal_name", Text, nullable=False, default=""),
    Column("role", String(32), nullable=False, default=""),
    Column("departments", Text, nullable=False, default="[]"),
    Column("channel", String(64), nullable=False, default=""),
    Column("platform", String(32)),
    Column("chat_id", String(300)),
    Column("user_id", String(300)),
    Column("kbs", Text, nullable=False, default="[]"),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("last_at", DateTime(timezone=True), nullable=False),
    Column("turns", Integer, nullable=False, default=0),
    Column("refused", Integer, nullable=False, default=0),  # refused turns
    Column("last_question", Text, nullable=False, default=""),
    Index("ix_sessions_last_at", "last_at"),
    Index("ix_sessions_principal", "principal_id"),
)

feedback = Table(  # thumbs up / down on an answer (its audit row)
    "feedback",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("entry_id", Integer, nullable=False, index=True),  # the answer's audit_log row
    Column("principal_id", String(300), nullable=False),
    Column("channel", String(64), nullable=False, default=""),
    Column("vote", Integer, nullable=False),  # +1 or -1
    Column("comment", Text, nullable=False, default=""),
    Column("at", DateTime(timezone=True), nullable=False),
    Index("ux_feedback_entry_principal", "entry_id", "principal_id", unique=True),  # one vote per principal
)

gaps = Table(  # the curation queue: refused or down-voted questions, until answered or dismissed
    "gaps",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("entry_id", Integer, nullable=False, unique=True),  # the audit_log row of the question
    Column("question", Text, nullable=False),
    Column("answer", Text, nullable=False, default=""),
    Column("kbs", Text, nullable=False, default="[]"),
    Column("departments", Text, nullable=False, default="[]"),
    Column("reason", String(16), nullable=False),  # refused, downvoted
    Column("status", String(16), nullable=False, default="open"),  # open, curated, dismissed
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("resolved_at", DateTime(timezone=True)),
    Column("resolved_by", String(300)),
    Column("curated_doc", String(200)),  # the FAQ document written for it
    Column("question_key", String(64), nullable=False, server_default=""),  # normalised question, KBs, departments
    Column("asked", Integer, nullable=False, server_default="1"),  # times it came up while open
    Index("ix_gaps_status_created", "status", "created_at"),
    Index("ix_gaps_key_status", "question_key", "status"),
)

routing_rules = Table(  # ordered rules: the first enabled one that matches a question decides its route
    "routing_rules",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("position", Integer, nullable=False),
    Column("name", String(128), nullable=False),
    Column("enabled", Boolean, nullable=False, default=True),
    Column("match", Text, nullable=False, default="{}"),  # JSON: keywords, pattern, platforms, chats, ...
    Column("action", Text, nullable=False, default="{}"),  # JSON: kbs, style, prompt, tools, backend
    Column("version", Integer, nullable=False, default=1),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("updated_by", String(300), nullable=False, default=""),
)

routing_rule_versions = Table(  # every saved state of every rule: who changed what, and when
    "routing_rule_versions",
    metadata,
    Column("rule_id", Integer, primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("snapshot", Text, nullable=False),  # JSON: {"change", "deleted", "rule": as saved, or as it was when deleted}
    Column("at", DateTime(timezone=True), nullable=False),
    Column("by", String(300), nullable=False, default=""),
)

# -- routing rules: where a rule came from (added to 0005 before its release) -------------------------
routing_rules.append_column(
    Column("source", String(16), nullable=False, server_default="api"),  # api, cli, console, settings (seeded)
)

revisions = Table(  # counters bumped on each change of a shared setting: other processes reload on change
    "revisions",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("value", Integer, nullable=False),
)


# -- feedback from IM: which answer a bot's message carried ------------------------------------------
im_replies = Table(  # a reaction to this message is a vote on that answer
    "im_replies",
    metadata,
    Column("platform", String(32), primary_key=True),
    Column("message_id", String(200), primary_key=True),  # the platform's id of the bot's message
    Column("entry_id", Integer, nullable=False),  # the answer's audit_log row
    Column("chat_id", String(300), nullable=False, default=""),
    Column("at", DateTime(timezone=True), nullable=False),
)


# -- the keyword index shared by replicas (assistant/storage/keyword_pg.py; unused on SQLite) --------
keyword_kbs = Table(  # BM25's collection statistics, one row per knowledge base
    "keyword_kbs",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(64), nullable=False, unique=True),
    Column("chunks", Integer, nullable=False, default=0),
    Column("length", BigInteger, nullable=False, default=0),  # terms in all its chunks
)

keyword_terms = Table(  # every term the index holds, with the number of chunks holding it
    "keyword_terms",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("term", Text, nullable=False, unique=True),
    Column("df", Integer, nullable=False),
)

keyword_chunks = Table(
    "keyword_chunks",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),  # the chunk's number in the postings
    Column("chunk_id", String(64), nullable=False, unique=True),
    Column("kb_id", Integer, nullable=False),
    Column("length", Integer, nullable=False),  # terms in the chunk
    Column("terms", LargeBinary, nullable=False),  # int32 (term id, tf) pairs: what removing it takes away
)

keyword_blocks = Table(  # a term's postings in one knowledge base, in blocks of consecutive chunk numbers
    "keyword_blocks",
    metadata,
    Column("term_id", Integer, primary_key=True),
    Column("kb_id", Integer, primary_key=True),
    Column("start", Integer, primary_key=True),  # chunks numbered from here up to the next block's start
    Column("postings", LargeBinary, nullable=False),  # chunk int32[n], tf uint16[n], chunk length uint16[n]
)

keyword_meta = Table(  # the analysis the index was built with (a changed one means a rebuild)
    "keyword_meta",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)


# -- the console's list pages (benchmarks/console_pages.py) ------------------------------------------
# A knowledge base's documents, newest first, paged: read in index order instead of sorted.
Index("ix_documents_kb_updated", documents.c.kb, documents.c.updated_at, documents.c.id)
