"""The OCR confidence of a chunk whose text was read from a scan or a picture (NULL for a text layer).

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("chunks") as batch:
        batch.add_column(sa.Column("ocr_confidence", sa.Float))


def downgrade() -> None:
    with op.batch_alter_table("chunks") as batch:
        batch.drop_column("ocr_confidence")
