"""Conversation turns in SQL (SQLite by default, PostgreSQL by URL); see ``ConversationStore``.

A conversation is keyed by who asks where (the IM gateway: platform + chat + user). Each user turn keeps
the question as asked, the standalone form it was rewritten to, and its embedding, so older turns
can be recalled by similarity without embedding them again.
"""

from __future__ import annotations

from datetime import datetime, timezone

import numpy as np
from sqlalchemy import delete, func, insert, select
from sqlalchemy.engine import Engine

from assistant.domain import Turn
from assistant.storage.sql.schema import conversation_turns as turns


class SqlConversationStore:
    """Turns in the catalog's database (SQLite in the data directory unless told otherwise)."""

    def __init__(self, engine: Engine, *, max_turns: int = 200):
        self.engine = engine
        self.max_turns = max_turns

    def append(self, conversation_id: str, turn: Turn) -> None:
        blob = None
        if turn.embedding is not None:
            blob = np.asarray(turn.embedding, dtype=np.float32).tobytes()
        with self.engine.begin() as conn:
            conn.execute(
                insert(turns).values(
                    conversation_id=conversation_id, role=turn.role, text=turn.text,
                    standalone=turn.standalone, embedding=blob, created_at=datetime.now(timezone.utc),
                )
            )
            count = conn.execute(
                select(func.count()).select_from(turns).where(turns.c.conversation_id == conversation_id)
            ).scalar_one()
            if count > self.max_turns:  # keep conversations bounded
                oldest = (
                    select(turns.c.id).where(turns.c.conversation_id == conversation_id)
                    .order_by(turns.c.id).limit(count - self.max_turns)
                )
                conn.execute(delete(turns).where(turns.c.id.in_(oldest.scalar_subquery())))

    def _select(self, conversation_id: str, skip: int, limit: int) -> list[Turn]:
        query = (
            select(turns).where(turns.c.conversation_id == conversation_id)
            .order_by(turns.c.id.desc()).offset(skip).limit(limit)
        )
        with self.engine.connect() as conn:
            rows = conn.execute(query).mappings().all()
        return [
            Turn(
                role=r["role"], text=r["text"], standalone=r["standalone"],
                embedding=np.frombuffer(r["embedding"], dtype=np.float32) if r["embedding"] else None,
            )
            for r in reversed(rows)
        ]

    def recent(self, conversation_id: str, limit: int) -> list[Turn]:
        """The last ``limit`` turns, oldest first."""
        return self._select(conversation_id, 0, limit)

    def older(self, conversation_id: str, skip: int, limit: int) -> list[Turn]:
        """Turns before the most recent ``skip``, oldest first (candidates for recall)."""
        return self._select(conversation_id, skip, limit)

    def forget(self, conversation_id: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(delete(turns).where(turns.c.conversation_id == conversation_id))
