"""Loading of evaluation sets stored in the shared BEIR-like layout.

A set is a folder holding::

    corpus.jsonl      {"_id", "title", "text"}                 one document per line
    queries.jsonl     {"_id", "text", "answers", "is_impossible", "conversation"?, "standalone"?, "category"?}
    qrels/test.tsv    query-id <TAB> corpus-id <TAB> score     (optional header line)

The loader is tolerant about optional fields (missing ``answers`` -> ``[]``, missing
``is_impossible`` -> ``False``, missing ``title`` -> ``""``, blank lines skipped) and strict about
structure: malformed JSON, a missing ``_id`` or a malformed qrels row raises :class:`DatasetError`
naming the file and the 1-based line number.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

CORPUS_FILE = "corpus.jsonl"
QUERIES_FILE = "queries.jsonl"
QRELS_FILE = Path("qrels") / "test.tsv"
DOCUMENTS_FILE = "documents.json"  # optional: the knowledge base as files (see Dataset.documents)
UNCATEGORISED = "(none)"  # the category of a question without one, in a set where others have one


class DatasetError(ValueError):
    """Raised when an evaluation set is missing a file or contains a malformed record."""


@dataclass(frozen=True)
class CorpusDoc:
    """One knowledge-base document."""

    id: str
    title: str
    text: str


@dataclass(frozen=True)
class Query:
    """One evaluation question.

    ``answers`` lists acceptable answer strings (may be empty); ``is_impossible`` marks questions
    the corpus cannot answer (the right behaviour is to refuse); ``conversation`` holds earlier
    user turns, oldest first, for multi-turn questions; ``category`` (optional, e.g. ``"table_lookup"``)
    groups questions for per-category figures.
    """

    id: str
    text: str
    answers: list[str] = field(default_factory=list)
    is_impossible: bool = False
    conversation: list[str] = field(default_factory=list)
    standalone: str | None = None  # multi-turn sets: the follow-up written out in full
    category: str | None = None


@dataclass
class Dataset:
    """An evaluation set: corpus, queries and graded relevance judgements.

    ``qrels`` maps query id -> {doc id -> relevance grade}; only grades > 0 are kept, so every
    entry is a relevant document. Queries without relevant documents are absent from ``qrels``.
    """

    name: str
    corpus: list[CorpusDoc]
    queries: list[Query]
    qrels: dict[str, dict[str, int]]
    # When set, the knowledge base is these files (a manifest like data/kb/manifest.json), ingested the
    # way a knowledge manager uploads them (tables, FAQ rows, headings), and ``corpus`` only names them.
    documents: Path | None = None

    def query(self, query_id: str) -> Query:
        """Return the query with this id (raises ``KeyError`` if unknown)."""
        return self._query_index()[query_id]

    def doc(self, doc_id: str) -> CorpusDoc:
        """Return the corpus document with this id (raises ``KeyError`` if unknown)."""
        index = self.__dict__.get("_doc_index")
        if index is None or len(index) != len(self.corpus):
            index = {d.id: d for d in self.corpus}
            self.__dict__["_doc_index"] = index
        return index[doc_id]

    def _query_index(self) -> dict[str, Query]:
        index = self.__dict__.get("_query_index_cache")
        if index is None or len(index) != len(self.queries):
            index = {q.id: q for q in self.queries}
            self.__dict__["_query_index_cache"] = index
        return index

    @property
    def categories(self) -> dict[str, int]:
        """Questions per category, in order of first appearance; empty when no question has one."""
        if not any(q.category for q in self.queries):
            return {}
        counts: dict[str, int] = {}
        for q in self.queries:
            name = q.category or UNCATEGORISED
            counts[name] = counts.get(name, 0) + 1
        return counts


def _require_file(path: Path) -> Path:
    if not path.is_file():
        raise DatasetError(f"{path}: file not found")
    return path


def _iter_json_lines(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield (line number, object) for each non-blank line of a JSON-lines file."""
    with _require_file(path).open(encoding="utf-8-sig") as handle:
        for lineno, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                raise DatasetError(f"{path}:{lineno}: malformed JSON: {exc.msg}") from exc
            if not isinstance(obj, dict):
                raise DatasetError(f"{path}:{lineno}: expected a JSON object, got {type(obj).__name__}")
            yield lineno, obj


def _get_id(obj: dict[str, Any], path: Path, lineno: int) -> str:
    raw = obj.get("_id", obj.get("id"))
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        raise DatasetError(f"{path}:{lineno}: missing '_id'")
    if not isinstance(raw, (str, int)):
        raise DatasetError(f"{path}:{lineno}: '_id' must be a string or integer")
    return str(raw)


def _get_str(obj: dict[str, Any], key: str, path: Path, lineno: int, *, required: bool) -> str:
    value = obj.get(key)
    if value is None:
        if required:
            raise DatasetError(f"{path}:{lineno}: missing '{key}'")
        return ""
    if not isinstance(value, str):
        raise DatasetError(f"{path}:{lineno}: '{key}' must be a string")
    return value


def _get_str_list(obj: dict[str, Any], key: str, path: Path, lineno: int) -> list[str]:
    value = obj.get(key)
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if not isinstance(value, list) or not all(isinstance(v, (str, int, float)) for v in value):
        raise DatasetError(f"{path}:{lineno}: '{key}' must be a list of strings")
    return [str(v) for v in value]


def _get_bool(obj: dict[str, Any], key: str, path: Path, lineno: int) -> bool:
    value = obj.get(key, False)
    if value is None:
        return False
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in ("true", "false", "1", "0", ""):
        return value.strip().lower() in ("true", "1")
    raise DatasetError(f"{path}:{lineno}: '{key}' must be a boolean")


def load_corpus(path: Path) -> list[CorpusDoc]:
    """Read ``corpus.jsonl``; raises :class:`DatasetError` on duplicates or malformed lines."""
    docs: list[CorpusDoc] = []
    seen: set[str] = set()
    for lineno, obj in _iter_json_lines(path):
        doc_id = _get_id(obj, path, lineno)
        if doc_id in seen:
            raise DatasetError(f"{path}:{lineno}: duplicate document id {doc_id!r}")
        seen.add(doc_id)
        title = _get_str(obj, "title", path, lineno, required=False)
        text = _get_str(obj, "text", path, lineno, required=False)
        docs.append(CorpusDoc(id=doc_id, title=title, text=text))
    return docs


def load_queries(path: Path, limit: int | None = None) -> list[Query]:
    """Read ``queries.jsonl`` (first ``limit`` queries in file order if given)."""
    queries: list[Query] = []
    seen: set[str] = set()
    for lineno, obj in _iter_json_lines(path):
        if limit is not None and len(queries) >= limit:
            break
        query_id = _get_id(obj, path, lineno)
        if query_id in seen:
            raise DatasetError(f"{path}:{lineno}: duplicate query id {query_id!r}")
        seen.add(query_id)
        queries.append(
            Query(
                id=query_id,
                text=_get_str(obj, "text", path, lineno, required=True),
                answers=_get_str_list(obj, "answers", path, lineno),
                is_impossible=_get_bool(obj, "is_impossible", path, lineno),
                conversation=_get_str_list(obj, "conversation", path, lineno),
                standalone=_get_str(obj, "standalone", path, lineno, required=False) or None,
                category=_get_str(obj, "category", path, lineno, required=False).strip() or None,
            )
        )
    return queries


def load_qrels(path: Path) -> dict[str, dict[str, int]]:
    """Read a qrels TSV: ``query-id TAB corpus-id TAB score``.

    A first line whose score column is not a number is taken as the header. Rows may also be
    whitespace separated. Grades <= 0 (not relevant) are dropped; if a pair repeats, the last
    grade wins.
    """
    qrels: dict[str, dict[str, int]] = {}
    with _require_file(path).open(encoding="utf-8-sig") as handle:
        for lineno, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            parts = line.rstrip("\r\n").split("\t")
            if len(parts) != 3:
                parts = line.split()
            if len(parts) != 3:
                if lineno == 1:
                    continue  # header of unexpected shape
                raise DatasetError(f"{path}:{lineno}: expected 3 columns (query-id, corpus-id, score)")
            query_id, doc_id, raw_score = (p.strip() for p in parts)
            try:
                score_f = float(raw_score)
            except ValueError:
                if lineno == 1:
                    continue  # header line
                raise DatasetError(f"{path}:{lineno}: score {raw_score!r} is not a number") from None
            if not query_id or not doc_id:
                raise DatasetError(f"{path}:{lineno}: empty query id or corpus id")
            score = int(round(score_f))
            if score <= 0:
                qrels.get(query_id, {}).pop(doc_id, None)
                continue
            qrels.setdefault(query_id, {})[doc_id] = score
    return {qid: docs for qid, docs in qrels.items() if docs}


def load_dataset(path: str | Path, limit: int | None = None) -> Dataset:
    """Load the evaluation set stored in folder ``path``.

    ``limit`` keeps only the first ``limit`` queries (in file order) and their qrels. The dataset
    name is the folder name. Raises :class:`DatasetError` for a missing folder or file, malformed
    records, or a negative ``limit``.
    """
    root = Path(path)
    if limit is not None and limit < 0:
        raise DatasetError(f"limit must be >= 0, got {limit}")
    if not root.is_dir():
        raise DatasetError(f"{root}: dataset folder not found")
    corpus = load_corpus(root / CORPUS_FILE)
    queries = load_queries(root / QUERIES_FILE, limit=limit)
    all_qrels = load_qrels(root / QRELS_FILE)
    kept = {q.id for q in queries}
    qrels = {qid: docs for qid, docs in all_qrels.items() if qid in kept}
    return Dataset(name=root.resolve().name, corpus=corpus, queries=queries, qrels=qrels,
                   documents=_documents(root, {d.id for d in corpus}))


def _documents(root: Path, corpus_ids: set[str]) -> Path | None:
    """The manifest named by ``documents.json`` (``{"manifest": "../../kb/manifest.json"}``), checked."""
    pointer = root / DOCUMENTS_FILE
    if not pointer.is_file():
        return None
    try:
        manifest = (root / json.loads(pointer.read_text(encoding="utf-8"))["manifest"]).resolve()
        entries = json.loads(manifest.read_text(encoding="utf-8"))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise DatasetError(f"{pointer}: must name a readable manifest as {{\"manifest\": PATH}} ({exc.__class__.__name__})") from None
    missing = corpus_ids - {e.get("id") for e in entries}
    if missing:
        raise DatasetError(f"{manifest}: no file for corpus documents {sorted(missing)}")
    return manifest
