"""The catalog: knowledge bases, documents and their live chunks, in SQLite (Postgres later, same code).

The catalog is the source of truth for what is *live*. The keyword and vector indexes are candidate
generators; every hit is resolved through the catalog before it is shown. So replacing a document is:
add the new chunks to both indexes, switch the catalog to them in one transaction, then purge the old
chunks from the indexes. A reader resolves hits in one catalog read and sees one version or the other.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone

from sqlalchemy import (
    Column,
    DateTime,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    delete,
    event,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.engine import Engine

from assistant.domain import Chunk, Document
from assistant.errors import AssistantError, InvalidName, UnknownKnowledgeBase

KB_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{1,62}$")

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
    Column("kb", String(64), nullable=False),
    Column("ordinal", Integer, nullable=False),
    Column("text", Text, nullable=False),
    Column("section", Text, nullable=False, default=""),
    Column("page", Integer),
    Column("kind", String(16), nullable=False, default="text"),
    Column("question", Text),
)


@dataclass(frozen=True)
class LiveChunk:
    """A chunk resolved through the catalog, with the document fields a citation needs."""

    chunk: Chunk
    title: str
    url: str | None
    version: str | None


@dataclass(frozen=True)
class Replacement:
    """What switching a document to a new chunk set changed, for the indexes to follow."""

    added: list[Chunk]
    removed_ids: list[str]


def validate_kb_name(name: str) -> str:
    if not KB_NAME.match(name):
        raise InvalidName(
            f"knowledge base name {name!r} is not valid: use 2-63 lower-case letters, digits, '-' or '_'"
        )
    return name


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")  # readers never block the writer
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


class Catalog:
    def __init__(self, url: str):
        self.engine: Engine = create_engine(url, future=True)
        if self.engine.dialect.name == "sqlite":
            event.listen(self.engine, "connect", _sqlite_pragmas)
        metadata.create_all(self.engine)

    # -- knowledge bases ------------------------------------------------------------------
    def create_kb(self, name: str, description: str = "") -> bool:
        """Create a knowledge base; returns False if it already existed."""
        validate_kb_name(name)
        with self.engine.begin() as conn:
            if conn.execute(select(kbs.c.name).where(kbs.c.name == name)).first():
                return False
            conn.execute(insert(kbs).values(name=name, description=description, created_at=_now()))
        return True

    def list_kbs(self) -> list[dict]:
        with self.engine.connect() as conn:
            counts = dict(
                conn.execute(select(documents.c.kb, func.count()).group_by(documents.c.kb)).all()
            )
            rows = conn.execute(select(kbs).order_by(kbs.c.name)).mappings().all()
        return [{**row, "documents": counts.get(row["name"], 0)} for row in rows]

    def kb_exists(self, name: str) -> bool:
        with self.engine.connect() as conn:
            return conn.execute(select(kbs.c.name).where(kbs.c.name == name)).first() is not None

    def require_kb(self, name: str) -> None:
        if not self.kb_exists(name):
            raise UnknownKnowledgeBase(name)

    def delete_kb(self, name: str) -> list[str]:
        """Delete a knowledge base and its documents; returns the chunk ids that were live."""
        self.require_kb(name)
        with self.engine.begin() as conn:
            ids = list(conn.execute(select(chunks.c.id).where(chunks.c.kb == name)).scalars())
            conn.execute(delete(chunks).where(chunks.c.kb == name))
            conn.execute(delete(documents).where(documents.c.kb == name))
            conn.execute(delete(kbs).where(kbs.c.name == name))
        return ids

    # -- documents ------------------------------------------------------------------------
    def get_document(self, doc_id: str) -> Document | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(documents).where(documents.c.id == doc_id)).mappings().first()
        return _document(row) if row else None

    def list_documents(self, kb: str | None = None) -> list[tuple[Document, int]]:
        query = select(documents).order_by(documents.c.kb, documents.c.id)
        if kb:
            query = query.where(documents.c.kb == kb)
        with self.engine.connect() as conn:
            rows = conn.execute(query).mappings().all()
        return [(_document(r), r["chunk_count"]) for r in rows]

    def chunk_ids(self, doc_id: str) -> list[str]:
        with self.engine.connect() as conn:
            return list(conn.execute(select(chunks.c.id).where(chunks.c.doc_id == doc_id)).scalars())

    def replace_document(self, doc: Document, new_chunks: Sequence[Chunk]) -> Replacement:
        """Make ``new_chunks`` the live content of ``doc`` in one transaction."""
        with self.engine.begin() as conn:
            if not conn.execute(select(kbs.c.name).where(kbs.c.name == doc.kb)).first():
                raise UnknownKnowledgeBase(doc.kb)
            existing = conn.execute(select(documents.c.kb).where(documents.c.id == doc.id)).first()
            if existing and existing.kb != doc.kb:
                raise AssistantError(
                    f"document id {doc.id!r} already belongs to knowledge base {existing.kb!r}; "
                    "delete it there or give this one another id"
                )
            old_ids = set(conn.execute(select(chunks.c.id).where(chunks.c.doc_id == doc.id)).scalars())
            new_ids = {c.id for c in new_chunks}
            values = _document_row(doc, len(new_chunks))
            if existing:
                conn.execute(update(documents).where(documents.c.id == doc.id).values(**values))
            else:
                conn.execute(insert(documents).values(id=doc.id, **values))
            gone = old_ids - new_ids
            if gone:
                conn.execute(delete(chunks).where(chunks.c.id.in_(gone)))
            added = [c for c in new_chunks if c.id not in old_ids]
            if added:
                conn.execute(insert(chunks), [_chunk_row(c) for c in added])
            # Unchanged chunks keep their id; their position or heading may still have moved.
            for c in new_chunks:
                if c.id in old_ids:
                    conn.execute(
                        update(chunks)
                        .where(chunks.c.id == c.id)
                        .values(ordinal=c.ordinal, section=c.section, page=c.page)
                    )
        return Replacement(added=added, removed_ids=sorted(gone))

    def delete_document(self, doc_id: str) -> list[str]:
        """Remove a document; returns the chunk ids that were live."""
        with self.engine.begin() as conn:
            ids = list(conn.execute(select(chunks.c.id).where(chunks.c.doc_id == doc_id)).scalars())
            conn.execute(delete(chunks).where(chunks.c.doc_id == doc_id))
            conn.execute(delete(documents).where(documents.c.id == doc_id))
        return ids

    # -- chunks ---------------------------------------------------------------------------
    def resolve(self, chunk_ids: Iterable[str]) -> dict[str, LiveChunk]:
        """Look up live chunks by id in one read; ids that are not live are simply absent."""
        ids = list(dict.fromkeys(chunk_ids))
        if not ids:
            return {}
        query = (
            select(chunks, documents.c.title, documents.c.url, documents.c.version)
            .join(documents, documents.c.id == chunks.c.doc_id)
            .where(chunks.c.id.in_(ids))
        )
        with self.engine.connect() as conn:
            rows = conn.execute(query).mappings().all()
        return {
            r["id"]: LiveChunk(chunk=_chunk(r), title=r["title"], url=r["url"], version=r["version"])
            for r in rows
        }

    def chunk_ids_of_kb(self, kb: str) -> list[str]:
        with self.engine.connect() as conn:
            return list(conn.execute(select(chunks.c.id).where(chunks.c.kb == kb)).scalars())

    def chunks_of_kb(self, kb: str) -> list[Chunk]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(chunks).where(chunks.c.kb == kb)).mappings().all()
        return [_chunk(r) for r in rows]

    def chunks_of(self, doc_id: str) -> list[Chunk]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(chunks).where(chunks.c.doc_id == doc_id).order_by(chunks.c.ordinal)
            ).mappings().all()
        return [_chunk(r) for r in rows]

    def all_tags(self) -> set[str]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(documents.c.tags)).scalars().all()
        return {t for row in rows for t in json.loads(row or "[]")}

    def count_chunks(self, kb_ids: Sequence[str] | None = None) -> int:
        query = select(func.count()).select_from(chunks)
        if kb_ids:
            query = query.where(chunks.c.kb.in_(list(kb_ids)))
        with self.engine.connect() as conn:
            return int(conn.execute(query).scalar_one())


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _document_row(doc: Document, chunk_count: int) -> dict:
    return {
        "kb": doc.kb,
        "title": doc.title,
        "source": doc.source,
        "version": doc.version,
        "effective_date": doc.effective_date,
        "owner": doc.owner,
        "tags": json.dumps(doc.tags, ensure_ascii=False),
        "url": doc.url,
        "content_hash": doc.content_hash,
        "chunk_count": chunk_count,
        "updated_at": _now(),
    }


def _document(row) -> Document:
    data = dict(row)
    data.pop("chunk_count", None)
    data["tags"] = json.loads(data.get("tags") or "[]")
    return Document(**data)


def _chunk_row(c: Chunk) -> dict:
    return c.model_dump()


def _chunk(row) -> Chunk:
    return Chunk(**{k: row[k] for k in Chunk.model_fields})
