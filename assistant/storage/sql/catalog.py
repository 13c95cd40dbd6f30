"""The catalog: knowledge bases, documents and their live chunks, in SQLite or PostgreSQL (same code).

The catalog is the source of truth for what is *live*. The keyword and vector indexes are candidate
generators; every hit is resolved through the catalog before it is shown. So replacing a document is:
add the new chunks to both indexes, switch the catalog to them in one transaction, then purge the old
chunks from the indexes. A reader resolves hits in one catalog read and sees one version or the other.

Across processes the read and the switch cannot be kept apart by a lock, so the catalog keeps time
instead. Every switch advances ``catalog_clock`` in its own transaction (the row lock orders switches,
so a clock value a reader sees has every earlier switch committed), stamps the chunks it makes live with
that number (``born``) and copies the chunks it retires, with their document's fields, to
``chunk_history``. A reader takes the clock (``snapshot``) *before* it searches the indexes, and resolves
as of it: the version live at that moment had all its chunks in the indexes already (they are written
before the switch) and none purged yet (purges wait for a grace period longer than any search), so the
reader gets exactly that version, whoever switched the document since.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime, timedelta, timezone

from sqlalchemy import and_, delete, false, func, insert, literal, or_, select, union_all, update
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError

from assistant.domain import Chunk, Document, DocumentAction, DocumentVersion, KnowledgeBase
from assistant.errors import AssistantError, InvalidName, UnknownKnowledgeBase
from assistant.storage.interfaces import WHOLE_KB, ChunkPage, DocumentPage, Leftover, LiveChunk, Replacement
from assistant.storage.sql.schema import (
    catalog_clock,
    chunk_history,
    chunks,
    document_versions,
    documents,
    index_ledger,
    kb_readers,
    kbs,
)

KB_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{1,62}$")


def validate_kb_name(name: str) -> str:
    if not KB_NAME.match(name):
        raise InvalidName(
            f"knowledge base name {name!r} is not valid: use 2-63 lower-case letters, digits, '-' or '_'"
        )
    return name


class SqlCatalog:
    """The catalog in SQL (see ``Catalog`` for the contract); tables come from the migrations."""

    def __init__(self, engine: Engine):
        self.engine = engine

    # -- knowledge bases ------------------------------------------------------------------
    def create_kb(self, name: str, description: str = "", department: str | None = None) -> bool:
        """Create a knowledge base; returns False if it already existed."""
        validate_kb_name(name)
        try:
            with self.engine.begin() as conn:
                if conn.execute(select(kbs.c.name).where(kbs.c.name == name)).first():
                    return False
                conn.execute(insert(kbs).values(name=name, description=description, created_at=_now(),
                                                department=department))
        except IntegrityError:  # another process created it between the check and the insert
            return False
        return True

    def list_kbs(self) -> list[KnowledgeBase]:
        with self.engine.connect() as conn:
            counts = dict(
                conn.execute(select(documents.c.kb, func.count()).group_by(documents.c.kb)).all()
            )
            rows = conn.execute(select(kbs).order_by(kbs.c.name)).mappings().all()
            readers: dict[str, list[str]] = {}
            for kb, department in conn.execute(select(kb_readers.c.kb, kb_readers.c.department)):
                readers.setdefault(kb, []).append(department)
        return [KnowledgeBase(**row, documents=counts.get(row["name"], 0), readers=sorted(readers.get(row["name"], [])))
                for row in rows]

    def set_kb_access(self, name: str, department: str | None, readers: Sequence[str] = ()) -> None:
        """Give a knowledge base an owning department (None: open to all) and its reading departments."""
        self.require_kb(name)
        with self.engine.begin() as conn:
            conn.execute(update(kbs).where(kbs.c.name == name).values(department=department))
            conn.execute(delete(kb_readers).where(kb_readers.c.kb == name))
            others = [d for d in dict.fromkeys(readers) if d != department]
            if others:
                conn.execute(insert(kb_readers), [{"kb": name, "department": d} for d in others])

    def kb_exists(self, name: str) -> bool:
        with self.engine.connect() as conn:
            return conn.execute(select(kbs.c.name).where(kbs.c.name == name)).first() is not None

    def require_kb(self, name: str) -> None:
        if not self.kb_exists(name):
            raise UnknownKnowledgeBase(name)

    def delete_kb(self, name: str, *, by: str = "") -> list[str]:
        """Delete a knowledge base and its documents; returns the chunk ids that were live."""
        self.require_kb(name)
        with self.engine.begin() as conn:
            ids = list(conn.execute(select(chunks.c.id).where(chunks.c.kb == name)).scalars())
            _record_deleted(conn, documents.c.kb == name, by)
            conn.execute(delete(chunks).where(chunks.c.kb == name))
            conn.execute(delete(documents).where(documents.c.kb == name))
            conn.execute(delete(kbs).where(kbs.c.name == name))
            _retire(conn, name, [WHOLE_KB])
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

    def page_documents(self, kb: str, *, search: str = "", offset: int = 0, limit: int = 50,
                       disabled: bool | None = None) -> DocumentPage:
        matching = documents.c.kb == kb
        if disabled is not None:
            matching = and_(matching, documents.c.disabled == disabled)
        if search.strip():
            pattern = "%" + _escape_like(search.strip().lower()) + "%"
            matching = and_(matching, or_(*(func.lower(column).like(pattern, escape="\\") for column in (
                documents.c.id, documents.c.title, documents.c.owner, documents.c.source, documents.c.tags))))
        page = (select(documents).where(matching).order_by(documents.c.updated_at.desc(), documents.c.id.desc())
                .offset(max(0, offset)).limit(max(1, limit)))
        with self.engine.connect() as conn:
            total = int(conn.execute(select(func.count()).select_from(documents).where(matching)).scalar_one())
            rows = conn.execute(page).mappings().all()
        return DocumentPage([(_document(r), r["chunk_count"]) for r in rows], total)

    def chunk_counts(self) -> dict[str, int]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(documents.c.kb, func.sum(documents.c.chunk_count)).group_by(documents.c.kb))
            return {kb: int(n or 0) for kb, n in rows}

    def chunk_ids(self, doc_id: str) -> list[str]:
        with self.engine.connect() as conn:
            return list(conn.execute(select(chunks.c.id).where(chunks.c.doc_id == doc_id)).scalars())

    def replace_document(self, doc: Document, new_chunks: Sequence[Chunk], *, by: str = "") -> Replacement:
        """Make ``new_chunks`` the live content of ``doc`` in one transaction (a disabled one stays disabled)."""
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
            seq = _tick(conn)
            if old_ids:  # readers resolving as of an earlier clock still see the old version whole
                _keep_history(conn, doc.id, seq)
            values = _document_row(doc, len(new_chunks))
            if existing:
                conn.execute(update(documents).where(documents.c.id == doc.id).values(**values))
            else:
                conn.execute(insert(documents).values(id=doc.id, **values))
            _record(conn, doc.id, "replaced" if existing else "added", values, by)
            gone = old_ids - new_ids
            if gone:
                conn.execute(delete(chunks).where(chunks.c.id.in_(gone)))
                _retire(conn, doc.kb, sorted(gone))
            added = [c for c in new_chunks if c.id not in old_ids]
            if added:
                conn.execute(insert(chunks), [{**_chunk_row(c), "born": seq} for c in added])
            # Unchanged chunks keep their id; their position or heading may still have moved.
            for c in new_chunks:
                if c.id in old_ids:
                    conn.execute(
                        update(chunks)
                        .where(chunks.c.id == c.id)
                        .values(ordinal=c.ordinal, section=c.section, page=c.page, born=seq)
                    )
        return Replacement(added=added, removed_ids=sorted(gone))

    def delete_document(self, doc_id: str, *, by: str = "") -> list[str]:
        """Remove a document; returns the chunk ids that were live."""
        with self.engine.begin() as conn:
            kb = conn.execute(select(documents.c.kb).where(documents.c.id == doc_id)).scalar()
            _record_deleted(conn, documents.c.id == doc_id, by)
            ids = list(conn.execute(select(chunks.c.id).where(chunks.c.doc_id == doc_id)).scalars())
            conn.execute(delete(chunks).where(chunks.c.doc_id == doc_id))
            conn.execute(delete(documents).where(documents.c.id == doc_id))
            if kb is not None:
                _retire(conn, kb, ids)
        return ids

    def set_disabled(self, doc_id: str, disabled: bool, *, by: str = "") -> Document | None:
        """Disable or enable a document; records the change in its history when the state changes."""
        with self.engine.begin() as conn:
            changed = conn.execute(
                update(documents).where(documents.c.id == doc_id, documents.c.disabled == (not disabled))
                .values(disabled=disabled)
            ).rowcount
            row = conn.execute(select(documents).where(documents.c.id == doc_id)).mappings().first()
            if row is None:
                return None
            if changed:
                _record(conn, doc_id, "disabled" if disabled else "enabled", row, by)
        return _document(row)

    def versions(self, doc_id: str) -> list[DocumentVersion]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(document_versions).where(document_versions.c.doc_id == doc_id).order_by(document_versions.c.id)
            ).mappings().all()
        return [DocumentVersion(**{**r, "at": _aware(r["at"])}) for r in rows]

    # -- chunks ---------------------------------------------------------------------------
    def snapshot(self) -> int:
        """The clock of the latest committed switch: resolve as of it to see what was live now."""
        with self.engine.connect() as conn:
            return int(conn.execute(select(catalog_clock.c.seq).where(catalog_clock.c.id == 1)).scalar_one())

    def resolve(self, chunk_ids: Iterable[str], *, as_of: int | None = None) -> dict[str, LiveChunk]:
        """Look up live chunks by id in one read; ids that are not live are simply absent.

        With ``as_of`` (a ``snapshot``), the chunks live at that clock: those live now that were born by
        then, and retired ones that were live then (kept for a grace period), in one statement."""
        ids = list(dict.fromkeys(chunk_ids))
        if not ids:
            return {}
        fields = [chunks.c[name] for name in Chunk.model_fields]
        query = (
            select(*fields, documents.c.title, documents.c.url, documents.c.version, documents.c.curated_by)
            .join(documents, documents.c.id == chunks.c.doc_id)
            .where(chunks.c.id.in_(ids), documents.c.disabled == false())  # disabled: kept, never retrieved
        )
        if as_of is not None:
            h = chunk_history.c
            earlier = (
                select(*(h[name] for name in Chunk.model_fields), h.title, h.url, h.version, h.curated_by)
                .join(documents, documents.c.id == h.doc_id)
                .where(h.id.in_(ids), h.born <= as_of, h.retired > as_of, documents.c.disabled == false())
            )
            query = union_all(query.where(chunks.c.born <= as_of), earlier)
        with self.engine.connect() as conn:
            rows = conn.execute(query).mappings().all()
        return {
            r["id"]: LiveChunk(chunk=_chunk(r), title=r["title"], url=r["url"], version=r["version"],
                               curated_by=r["curated_by"])
            for r in rows
        }

    def page_chunks(self, doc_id: str, *, offset: int = 0, limit: int = 50) -> ChunkPage:
        mine = chunks.c.doc_id == doc_id
        with self.engine.connect() as conn:
            total = int(conn.execute(select(func.count()).select_from(chunks).where(mine)).scalar_one())
            rows = conn.execute(
                select(chunks).where(mine).order_by(chunks.c.ordinal).offset(max(0, offset)).limit(max(1, limit))
            ).mappings().all()
        return ChunkPage([_chunk(r) for r in rows], total)

    def chunk_ids_of_kb(self, kb: str) -> list[str]:
        with self.engine.connect() as conn:
            return list(conn.execute(select(chunks.c.id).where(chunks.c.kb == kb)).scalars())

    def iter_chunks(self, batch: int = 2000) -> Iterator[Chunk]:
        """Every live chunk, by id, a page at a time (keyset paging: stable under concurrent writes)."""
        after = ""
        while True:
            with self.engine.connect() as conn:
                rows = conn.execute(
                    select(chunks).where(chunks.c.id > after).order_by(chunks.c.id).limit(batch)
                ).mappings().all()
            yield from (_chunk(r) for r in rows)
            if len(rows) < batch:
                return
            after = rows[-1]["id"]

    def chunks_of(self, doc_id: str) -> list[Chunk]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(chunks).where(chunks.c.doc_id == doc_id).order_by(chunks.c.ordinal)
            ).mappings().all()
        return [_chunk(r) for r in rows]

    # -- vocabulary ---------------------------------------------------------------------------
    def vocabulary_version(self) -> str:
        with self.engine.connect() as conn:
            count, latest = conn.execute(select(func.count(), func.max(documents.c.updated_at))).one()
        return f"{count}:{latest}"

    def vocabulary(self) -> set[str]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(documents.c.tags)).scalars().all()
        return {t for row in rows for t in json.loads(row or "[]")}

    def count_chunks(self, kb_ids: Sequence[str] | None = None) -> int:
        query = select(func.count()).select_from(chunks)
        if kb_ids:
            query = query.where(chunks.c.kb.in_(list(kb_ids)))
        with self.engine.connect() as conn:
            return int(conn.execute(query).scalar_one())


    def drop_history(self, before: datetime) -> int:
        """Forget versions retired before ``before`` (no reader resolves that far back any more)."""
        with self.engine.begin() as conn:
            return conn.execute(delete(chunk_history).where(chunk_history.c.retired_at < before)).rowcount

    # -- ledger -------------------------------------------------------------------------------
    def stage(self, kb: str, chunk_ids: Sequence[str], *, ttl_seconds: float) -> None:
        if not chunk_ids:
            return
        now = _now()
        until = now + timedelta(seconds=ttl_seconds)
        rows = [{"kb": kb, "chunk_id": cid, "state": "staged", "expires_at": until, "created_at": now} for cid in chunk_ids]
        with self.engine.begin() as conn:
            conn.execute(insert(index_ledger), rows)

    def settle(self, kb: str, chunk_ids: Sequence[str]) -> None:
        ids = list(dict.fromkeys(chunk_ids))
        with self.engine.begin() as conn:
            for start in range(0, len(ids), 500):
                conn.execute(
                    delete(index_ledger).where(index_ledger.c.kb == kb, index_ledger.c.chunk_id.in_(ids[start : start + 500]))
                )

    def leftovers(self, *, now: datetime | None = None, limit: int = 10_000, grace_seconds: float = 0) -> list[Leftover]:
        now = now or _now()
        stale = or_(  # retired ones once readers resolving as of before their switch are done
            and_(index_ledger.c.state == "retired", index_ledger.c.created_at <= now - timedelta(seconds=grace_seconds)),
            index_ledger.c.expires_at < now,
        )
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(index_ledger.c.kb, index_ledger.c.chunk_id).where(stale).distinct().limit(limit)
            ).all()
            ids = [cid for _, cid in rows if cid != WHOLE_KB]
            live, in_flight = set(), set()
            for start in range(0, len(ids), 500):
                part = ids[start : start + 500]
                live |= set(conn.execute(select(chunks.c.id).where(chunks.c.id.in_(part))).scalars())
                in_flight |= set(conn.execute(
                    select(index_ledger.c.chunk_id).where(
                        index_ledger.c.chunk_id.in_(part), index_ledger.c.state == "staged", index_ledger.c.expires_at >= now
                    )
                ).scalars())
        # A live chunk is never a leftover, nor one a writer has staged again and is still writing.
        found = [Leftover(kb, cid) for kb, cid in rows if cid not in live and cid not in in_flight]
        if live:  # staged chunks that did become live: nothing to purge, forget them
            with self.engine.begin() as conn:
                conn.execute(delete(index_ledger).where(index_ledger.c.chunk_id.in_(sorted(live)), stale))
        return found


def _tick(conn: Connection) -> int:
    """Advance the clock in this transaction; its row lock orders the switches of every process."""
    conn.execute(update(catalog_clock).where(catalog_clock.c.id == 1).values(seq=catalog_clock.c.seq + 1))
    return int(conn.execute(select(catalog_clock.c.seq).where(catalog_clock.c.id == 1)).scalar_one())


def _keep_history(conn: Connection, doc_id: str, seq: int) -> None:
    """Copy the document's live chunks, as they read before this switch, to the history (one statement)."""
    names = list(Chunk.model_fields)
    columns = [chunks.c[name] for name in names]
    conn.execute(insert(chunk_history).from_select(
        [*names, "born", "retired", "retired_at", "title", "url", "version", "curated_by"],
        select(*columns, chunks.c.born, literal(seq), literal(_now(), type_=chunk_history.c.retired_at.type),
               documents.c.title, documents.c.url, documents.c.version, documents.c.curated_by)
        .join(documents, documents.c.id == chunks.c.doc_id)
        .where(chunks.c.doc_id == doc_id),
    ))


def _retire(conn: Connection, kb: str, chunk_ids: Sequence[str]) -> None:
    """Record in the switch's own transaction that these ids left the live set (purge them later)."""
    if chunk_ids:
        now = _now()
        conn.execute(
            insert(index_ledger),
            [{"kb": kb, "chunk_id": cid, "state": "retired", "expires_at": None, "created_at": now} for cid in chunk_ids],
        )


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


_HISTORY_FIELDS = ("kb", "version", "title", "source", "content_hash", "chunk_count")


def _record(conn: Connection, doc_id: str, action: DocumentAction, row, by: str) -> None:
    """One line of the document's history, in the transaction of the change it records."""
    conn.execute(insert(document_versions).values(
        doc_id=doc_id, action=action, at=_now(), by=by, **{f: row[f] for f in _HISTORY_FIELDS}))


def _record_deleted(conn: Connection, which, by: str) -> None:
    """A "deleted" line for every document ``which`` selects, as it was just before (one statement)."""
    columns = [documents.c.id, *(documents.c[f] for f in _HISTORY_FIELDS)]
    conn.execute(insert(document_versions).from_select(
        ["doc_id", *_HISTORY_FIELDS, "action", "at", "by"],
        select(*columns, literal("deleted"), literal(_now()), literal(by)).where(which),
    ))


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


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
        "curated_by": doc.curated_by,
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
