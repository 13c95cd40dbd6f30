"""Conversation turns behind a small interface; SQL (SQLite by default, Postgres by URL) implements it.

A conversation is keyed by platform + chat + user (see ``conversation_key``). Each user turn keeps
the question as asked, the standalone form it was rewritten to, and its embedding, so older turns
can be recalled by similarity without embedding them again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Literal, Protocol

import numpy as np
from sqlalchemy import (
    Column,
    DateTime,
    Integer,
    LargeBinary,
    String,
    Table,
    Text,
    delete,
    func,
    insert,
    select,
)
from sqlalchemy.engine import Engine

from assistant.store.catalog import metadata

Role = Literal["user", "assistant"]

turns = Table(
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


def conversation_key(platform: str, chat: str, user: str) -> str:
    """One conversation per platform, chat and user: two people in one group do not share context."""
    return f"{platform}:{chat}:{user}"


@dataclass(frozen=True)
class Turn:
    role: Role
    text: str
    standalone: str | None = None
    embedding: np.ndarray | None = None


class ConversationStore(Protocol):
    def append(self, conversation_id: str, turn: Turn) -> None: ...

    def recent(self, conversation_id: str, limit: int) -> list[Turn]: ...

    def older(self, conversation_id: str, skip: int, limit: int) -> list[Turn]: ...

    def forget(self, conversation_id: str) -> None: ...


class SqlConversationStore:
    """Turns in the catalog's database (SQLite in the data directory unless told otherwise)."""

    def __init__(self, engine: Engine, *, max_turns: int = 200):
        self.engine = engine
        self.max_turns = max_turns
        metadata.create_all(engine, tables=[turns])

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
