"""BM25 over rjieba tokens in tantivy.

Texts are tokenised by us (Chinese and English in one pass, see ``assistant.text.tokenize``) and
handed to tantivy as space-joined terms with its ``whitespace`` tokenizer, so tantivy only counts
and scores. Adding and removing a document's chunks is one commit; commits are crash-safe. The index
lives in the data directory of the one process that owns it (see ``KeywordIndex`` for the contract).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from pathlib import Path

import tantivy

from assistant.domain import Chunk
from assistant.text.tokenize import Tokenizer, cjk_characters

WRITER_HEAP = 64_000_000
ANALYSIS_VERSION = 2  # bump when tokenization changes so existing indexes are rebuilt


def _schema() -> tantivy.Schema:
    builder = tantivy.SchemaBuilder()
    builder.add_text_field("chunk_id", stored=True, tokenizer_name="raw")
    builder.add_text_field("doc_id", stored=False, tokenizer_name="raw")
    builder.add_text_field("kb", stored=True, tokenizer_name="raw")
    builder.add_text_field("body", stored=False, tokenizer_name="whitespace")
    return builder.build()


def chunk_text(chunk: Chunk) -> str:
    """What a keyword index sees of a chunk: its heading path adds context; FAQ questions count twice."""
    parts = [chunk.section, chunk.text]
    if chunk.question:
        parts.append(chunk.question)
    return "\n".join(p for p in parts if p)


class TantivyKeywordIndex:
    def __init__(self, path: Path, tokenizer: Tokenizer, *, bigrams: bool = False):
        path.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.schema = _schema()
        self._index = tantivy.Index(self.schema, path=str(path), reuse=True)
        self._writer: tantivy.IndexWriter | None = None
        self._write_lock = threading.Lock()
        self._tokenizer = tokenizer
        self.bigrams = bigrams  # index Chinese character pairs beside the words

    def _analysis(self) -> str:
        return json.dumps({"bigrams": self.bigrams, "version": ANALYSIS_VERSION})

    def needs_rebuild(self) -> bool:
        """True when the index was built with other analysis settings than this process uses."""
        marker = self.path / "analysis.json"
        return not (marker.exists() and marker.read_text() == self._analysis())

    def query_terms(self, text: str) -> list[str]:
        terms = self._tokenizer.keyword_terms(text, bigrams=self.bigrams)
        if self.bigrams:  # a one-character word (开, 退, 改) also meets the compounds it is part of (开票)
            terms += cjk_characters(t for t in self._tokenizer.content_terms(text) if len(t) == 1)
        return terms

    def _body(self, chunk: Chunk) -> str:
        text = chunk_text(chunk)
        terms = self._tokenizer.keyword_terms(text, bigrams=self.bigrams)
        if self.bigrams:
            terms += cjk_characters(text)
        return " ".join(terms)

    def _writer_(self) -> tantivy.IndexWriter:
        if self._writer is None:
            self._writer = self._index.writer(heap_size=WRITER_HEAP, num_threads=1)
        return self._writer

    def apply(self, add: Sequence[Chunk] = (), remove_ids: Sequence[str] = ()) -> None:
        """Add and remove chunks in one commit: either all of it lands or none of it."""
        if not add and not remove_ids:
            return
        with self._write_lock:
            writer = self._writer_()
            try:
                for chunk_id in remove_ids:
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
            (self.path / "analysis.json").write_text(self._analysis())
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
