"""The console's tables: disabled and curated documents, document version history, sessions,
feedback and the curation queue, routing rules with their versions, and revision counters; the audit
log names each question's conversation and routing rule.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("documents") as batch:
        batch.add_column(sa.Column("disabled", sa.Boolean, nullable=False, server_default="0"))
        batch.add_column(sa.Column("curated_by", sa.Text))
    with op.batch_alter_table("audit_log") as batch:
        batch.add_column(sa.Column("conversation_id", sa.String(300)))
        batch.add_column(sa.Column("rule", sa.String(128)))
    op.create_index("ix_audit_log_conversation", "audit_log", ["conversation_id"])
    op.create_table(
        "document_versions",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("doc_id", sa.String(200), nullable=False),
        sa.Column("kb", sa.String(64), nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("version", sa.String(64)),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("chunk_count", sa.Integer, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("by", sa.String(300), nullable=False),
    )
    op.create_index("ix_document_versions_doc", "document_versions", ["doc_id", "id"])
    op.create_table(
        "sessions",
        sa.Column("id", sa.String(400), primary_key=True),
        sa.Column("principal_id", sa.String(300), nullable=False),
        sa.Column("principal_name", sa.Text, nullable=False),
        sa.Column("role", sa.String(32), nullable=False),
        sa.Column("departments", sa.Text, nullable=False),
        sa.Column("channel", sa.String(64), nullable=False),
        sa.Column("platform", sa.String(32)),
        sa.Column("chat_id", sa.String(300)),
        sa.Column("user_id", sa.String(300)),
        sa.Column("kbs", sa.Text, nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("turns", sa.Integer, nullable=False),
        sa.Column("refused", sa.Integer, nullable=False),
        sa.Column("last_question", sa.Text, nullable=False),
    )
    op.create_index("ix_sessions_last_at", "sessions", ["last_at"])
    op.create_index("ix_sessions_principal", "sessions", ["principal_id"])
    op.create_table(
        "feedback",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("entry_id", sa.Integer, nullable=False),
        sa.Column("principal_id", sa.String(300), nullable=False),
        sa.Column("channel", sa.String(64), nullable=False),
        sa.Column("vote", sa.Integer, nullable=False),
        sa.Column("comment", sa.Text, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_feedback_entry_id", "feedback", ["entry_id"])
    op.create_table(
        "gaps",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("entry_id", sa.Integer, nullable=False, unique=True),
        sa.Column("question", sa.Text, nullable=False),
        sa.Column("answer", sa.Text, nullable=False),
        sa.Column("kbs", sa.Text, nullable=False),
        sa.Column("departments", sa.Text, nullable=False),
        sa.Column("reason", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("resolved_at", sa.DateTime(timezone=True)),
        sa.Column("resolved_by", sa.String(300)),
        sa.Column("curated_doc", sa.String(200)),
    )
    op.create_index("ix_gaps_status_created", "gaps", ["status", "created_at"])
    op.create_table(
        "routing_rules",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("enabled", sa.Boolean, nullable=False),
        sa.Column("match", sa.Text, nullable=False),
        sa.Column("action", sa.Text, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.String(300), nullable=False),
    )
    op.create_table(
        "routing_rule_versions",
        sa.Column("rule_id", sa.Integer, primary_key=True),
        sa.Column("version", sa.Integer, primary_key=True),
        sa.Column("snapshot", sa.Text, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("by", sa.String(300), nullable=False),
    )
    op.create_table(
        "revisions",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("value", sa.Integer, nullable=False),
    )

    # -- routing rules: where a rule came from (api, cli, console; settings: seeded from the environment)
    with op.batch_alter_table("routing_rules") as batch:
        batch.add_column(sa.Column("source", sa.String(16), nullable=False, server_default="api"))

    # -- feedback and curation: one vote per principal and answer, gaps counted by question, IM replies
    op.create_index("ux_feedback_entry_principal", "feedback", ["entry_id", "principal_id"], unique=True)
    with op.batch_alter_table("gaps") as batch:
        batch.add_column(sa.Column("question_key", sa.String(64), nullable=False, server_default=""))
        batch.add_column(sa.Column("asked", sa.Integer, nullable=False, server_default="1"))
    op.create_index("ix_gaps_key_status", "gaps", ["question_key", "status"])
    op.create_table(
        "im_replies",
        sa.Column("platform", sa.String(32), primary_key=True),
        sa.Column("message_id", sa.String(200), primary_key=True),
        sa.Column("entry_id", sa.Integer, nullable=False),
        sa.Column("chat_id", sa.String(300), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    )

    # -- the console's list pages: a knowledge base's documents, newest first (benchmarks/console_pages.py)
    op.create_index("ix_documents_kb_updated", "documents", ["kb", "updated_at", "id"])


def downgrade() -> None:
    op.drop_index("ix_documents_kb_updated", "documents")  # the console's list pages
    op.drop_table("im_replies")  # feedback and curation (the tables below go with it)
    for table in ("revisions", "routing_rule_versions", "routing_rules", "gaps", "feedback", "sessions",
                  "document_versions"):
        op.drop_table(table)
    op.drop_index("ix_audit_log_conversation", "audit_log")
    with op.batch_alter_table("audit_log") as batch:
        batch.drop_column("rule")
        batch.drop_column("conversation_id")
    with op.batch_alter_table("documents") as batch:
        batch.drop_column("curated_by")
        batch.drop_column("disabled")
