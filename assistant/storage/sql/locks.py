"""Document locks every process on one PostgreSQL database shares (see ``assistant/storage/locks.py``)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

from sqlalchemy import text
from sqlalchemy.engine import Engine

from assistant.storage.locks import LocalDocumentLocks

_NAMESPACE = b"assistant.document-lock\0"


def lock_key(kb: str, doc_id: str) -> int:
    """A signed 64-bit key for (kb, document): what ``pg_advisory_lock`` takes."""
    digest = hashlib.blake2b(_NAMESPACE + f"{kb}\0{doc_id}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


class PostgresDocumentLocks:
    """Document locks every process on one PostgreSQL database shares (see ``DocumentLocks``)."""

    def __init__(self, engine: Engine):
        self.engine = engine
        self._local = LocalDocumentLocks()  # threads of this process queue here, not on connections

    @contextmanager
    def hold(self, kb: str, doc_ids: Iterable[str]) -> Iterator[None]:
        ids = sorted(set(doc_ids))
        keys = sorted({lock_key(kb, d) for d in ids})
        with self._local.hold(kb, ids), self.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            taken: list[int] = []
            try:
                for key in keys:
                    conn.execute(text("SELECT pg_advisory_lock(:key)"), {"key": key})
                    taken.append(key)
                yield
            finally:
                for key in reversed(taken):
                    conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": key})


def document_locks(engine: Engine) -> LocalDocumentLocks | PostgresDocumentLocks:
    """The locks that fit the database: shared ones on PostgreSQL, this process's on SQLite."""
    return PostgresDocumentLocks(engine) if engine.dialect.name == "postgresql" else LocalDocumentLocks()
