"""BM25 over rjieba tokens in tantivy.

Texts are tokenised by us (Chinese and English in one pass, see ``assistant.text.tokenize``) and
handed to tantivy as space-joined terms with its ``whitespace`` tokenizer, so tantivy only counts
and scores. Adding and removing a document's chunks is one commit; commits are crash-safe. The index
lives in the data directory of the one process that owns it (see ``KeywordIndex`` for the contract).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path

import tantivy

from assistant.domain import Chunk
from assistant.storage.keyword_analysis import KeywordAnalysis, chunk_text
from assistant.text.tokenize import Tokenizer

__all__ = ["TantivyKeywordIndex", "chunk_text"]

WRITER_HEAP = 64_000_000


def _schema() -> tantivy.Schema:
    builder = tantivy.SchemaBuilder()
    builder.add_text_field("chunk_id", stored=True, tokenizer_name="raw")
    builder.add_text_field("doc_id", stored=False, tokenizer_name="raw")
    builder.add_text_field("kb", stored=True, tokenizer_name="raw")
    builder.add_text_field("body", stored=False, tokenizer_name="whitespace")
    return builder.build()


class TantivyKeywordIndex:
    def __init__(self, path: Path, tokenizer: Tokenizer, *, bigrams: bool = False):
        path.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.schema = _schema()
        self._index = tantivy.Index(self.schema, path=str(path), reuse=True)
        self._writer: tantivy.IndexWriter | None = None
        self._write_lock = threading.Lock()
        self._analysis = KeywordAnalysis(tokenizer, bigrams=bigrams)
        self.bigrams = bigrams  # index Chinese character pairs beside the words

    def needs_rebuild(self) -> bool:
        """True when the index was built with other analysis settings than this process uses."""
        marker = self.path / "analysis.json"
        return not (marker.exists() and marker.read_text() == self._analysis.marker())

    def query_terms(self, text: str) -> list[str]:
        return self._analysis.query_terms(text)

    def _body(self, chunk: Chunk) -> str:
        return " ".join(self._analysis.chunk_terms(chunk))

    def _writer_(self) -> tantivy.IndexWriter:
        if self._writer is None:
            self._writer = self._index.writer(heap_size=WRITER_HEAP, num_threads=1)
            # A writer killed inside a commit leaves files its meta.json never named (a deletion
            # file, say); the next commit would want the same names and fail. tantivy removes such
            # files only after a commit succeeds, so remove them before the first one.
            self._writer.garbage_collect_files()
        return self._writer

    def apply(self, add: Sequence[Chunk] = (), remove_ids: Sequence[str] = ()) -> None:
        """Add and remove chunks in one commit: either all of it lands or none of it."""
        if not add and not remove_ids:
            return
        with self._write_lock:
            writer = self._writer_()
            try:
                for chunk_id in dict.fromkeys([*remove_ids, *(c.id for c in add)]):  # adding replaces
                    writer.delete_documents_by_term("chunk_id", chunk_id)
                for chunk in add:
                    writer.add_document(
                        tantivy.Document(chunk_id=chunk.id, doc_id=chunk.doc_id, kb=chunk.kb, body=self._body(chunk))
                    )
                writer.commit()
            except Exception:
                writer.rollback()
                raise
            writer.wait_merging_threads()
            self._writer = None  # wait_merging_threads consumes the writer
        self._index.reload()

    def delete_kb(self, kb: str) -> None:
        with self._write_lock:
            writer = self._writer_()
            writer.delete_documents_by_term("kb", kb)
            writer.commit()
            writer.wait_merging_threads()
            self._writer = None
        self._index.reload()

    def search(self, terms: Sequence[str], kb_ids: Sequence[str] | None, k: int) -> list[tuple[str, float]]:
        """Top ``k`` (chunk id, BM25 score) for the query terms, optionally within some KBs."""
        unique = list(dict.fromkeys(t for t in terms if t))
        if not unique or k <= 0:
            return []
        should = [
            (tantivy.Occur.Should, tantivy.Query.term_query(self.schema, "body", t)) for t in unique
        ]
        query = tantivy.Query.boolean_query(should)
        if kb_ids:
            kb_filter = tantivy.Query.term_set_query(self.schema, "kb", list(kb_ids))
            query = tantivy.Query.boolean_query(
                [
                    (tantivy.Occur.Must, query),
                    (tantivy.Occur.Must, tantivy.Query.const_score_query(kb_filter, 0.0)),
                ]
            )
        searcher = self._index.searcher()
        result = searcher.search(query, limit=k, count=False)
        out = []
        for score, address in result.hits:
            doc = searcher.doc(address)
            out.append((doc["chunk_id"][0], float(score)))
        return out

    def count(self) -> int:
        return self._index.searcher().num_docs

    def ids_by_kb(self) -> dict[str, set[str]]:
        """Every indexed chunk id, grouped by knowledge base (for the orphan sweep)."""
        searcher = self._index.searcher()
        out: dict[str, set[str]] = {}
        total = searcher.num_docs
        if total == 0:
            return out
        result = searcher.search(tantivy.Query.all_query(), limit=total, count=False)
        for _score, address in result.hits:
            doc = searcher.doc(address)
            out.setdefault(doc["kb"][0], set()).add(doc["chunk_id"][0])
        return out

    def rebuild(self, chunks) -> int:
        """Replace the whole index with these chunks in one commit (the catalog is the source)."""
        with self._write_lock:
            writer = self._writer_()
            writer.delete_all_documents()
            count = 0
            for chunk in chunks:
                writer.add_document(
                    tantivy.Document(chunk_id=chunk.id, doc_id=chunk.doc_id, kb=chunk.kb, body=self._body(chunk))
                )
                count += 1
            writer.commit()
            writer.wait_merging_threads()
            self._writer = None
            (self.path / "analysis.json").write_text(self._analysis.marker())
        self._index.reload()
        return count

    def idf(self, terms: Sequence[str]) -> dict[str, float]:
        """BM25-style inverse document frequency of each term (unknown terms get the maximum)."""
        import math

        searcher = self._index.searcher()
        n = max(searcher.num_docs, 1)
        out = {}
        for term in dict.fromkeys(terms):
            df = searcher.doc_freq("body", term)
            out[term] = math.log(1 + (n - df + 0.5) / (df + 0.5))
        return out

    def doc_freq(self, terms: Sequence[str]) -> dict[str, int]:
        """Chunks holding each term (one searcher for all; counts include chunks deleted since the last merge)."""
        searcher = self._index.searcher()
        return {term: searcher.doc_freq("body", term) for term in dict.fromkeys(terms)}
