"""Accounts, departments and knowledge-base permissions, IM identity rules, customer bindings,
order verifications, and the audit log.

Existing knowledge bases get no department: they stay open to every department, as they were.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("kbs") as batch:
        batch.add_column(sa.Column("department", sa.String(64)))
    op.create_table(
        "kb_readers",
        sa.Column("kb", sa.String(64), sa.ForeignKey("kbs.name", ondelete="CASCADE"), primary_key=True),
        sa.Column("department", sa.String(64), primary_key=True),
    )
    op.create_table(
        "departments",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "users",
        sa.Column("username", sa.String(64), primary_key=True),
        sa.Column("display_name", sa.Text, nullable=False),
        sa.Column("role", sa.String(32), nullable=False),
        sa.Column("password_hash", sa.Text, nullable=False),
        sa.Column("disabled", sa.Boolean, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_login_at", sa.DateTime(timezone=True)),
    )
    op.create_table(
        "user_departments",
        sa.Column("username", sa.String(64), sa.ForeignKey("users.username", ondelete="CASCADE"), primary_key=True),
        sa.Column("department", sa.String(64), primary_key=True),
    )
    op.create_table(
        "api_keys",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("key_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("role", sa.String(32), nullable=False),
        sa.Column("created_by", sa.String(128), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True)),
        sa.Column("revoked_at", sa.DateTime(timezone=True)),
        sa.Column("last_used_at", sa.DateTime(timezone=True)),
    )
    op.create_table(
        "api_key_departments",
        sa.Column("key_id", sa.String(32), sa.ForeignKey("api_keys.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("department", sa.String(64), primary_key=True),
    )
    op.create_table(
        "im_rules",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("priority", sa.Integer, nullable=False),
        sa.Column("platform", sa.String(32)),
        sa.Column("chat_id", sa.String(200)),
        sa.Column("user_id", sa.String(200)),
        sa.Column("department", sa.String(64)),
        sa.Column("role", sa.String(32), nullable=False),
        sa.Column("note", sa.Text, nullable=False),
    )
    op.create_table(
        "customer_bindings",
        sa.Column("platform", sa.String(32), primary_key=True),
        sa.Column("user_id", sa.String(200), primary_key=True),
        sa.Column("customer_id", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "order_verifications",
        sa.Column("principal_id", sa.String(300), primary_key=True),
        sa.Column("order_no", sa.String(32), primary_key=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("request_id", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("channel", sa.String(64), nullable=False),
        sa.Column("principal_id", sa.String(300), nullable=False),
        sa.Column("principal_kind", sa.String(16), nullable=False),
        sa.Column("principal_name", sa.Text, nullable=False),
        sa.Column("role", sa.String(32), nullable=False),
        sa.Column("departments", sa.Text, nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("target", sa.Text, nullable=False),
        sa.Column("kbs", sa.Text, nullable=False),
        sa.Column("question", sa.Text, nullable=False),
        sa.Column("rewritten", sa.Text, nullable=False),
        sa.Column("answer", sa.Text, nullable=False),
        sa.Column("refused", sa.Boolean),
        sa.Column("refusal", sa.String(32)),
        sa.Column("sources", sa.Text, nullable=False),
        sa.Column("tool_calls", sa.Text, nullable=False),
        sa.Column("latency_ms", sa.Float),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("detail", sa.Text, nullable=False),
    )
    op.create_index("ix_audit_log_at", "audit_log", ["at"])
    op.create_index("ix_audit_log_principal", "audit_log", ["principal_id"])
    op.create_table(
        "audit_log_kbs",
        sa.Column("entry_id", sa.Integer, sa.ForeignKey("audit_log.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("kb", sa.String(64), primary_key=True),
    )
    op.create_index("ix_audit_log_kbs_kb", "audit_log_kbs", ["kb"])
    op.create_table(
        "audit_log_docs",
        sa.Column("entry_id", sa.Integer, sa.ForeignKey("audit_log.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("doc_id", sa.String(200), primary_key=True),
    )
    op.create_index("ix_audit_log_docs_doc", "audit_log_docs", ["doc_id"])


def downgrade() -> None:
    for table in ("audit_log_docs", "audit_log_kbs", "audit_log", "order_verifications", "customer_bindings",
                  "im_rules", "api_key_departments", "api_keys", "user_departments", "users", "departments",
                  "kb_readers"):
        op.drop_table(table)
    with op.batch_alter_table("kbs") as batch:
        batch.drop_column("department")
