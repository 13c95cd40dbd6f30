"""BM25 in PostgreSQL: one keyword index that every replica shares, next to the catalog.

PostgreSQL has no Chinese segmenter here, so the database never analyses text: chunks and questions
go through the same ``KeywordAnalysis`` as the tantivy index (rjieba words, ``#`` character pairs,
``@`` characters) and only terms reach the tables. Scores are BM25 as tantivy computes them
(k1 = 1.2, b = 0.75, idf = ln(1 + (N - df + 0.5) / (df + 0.5)), N and the average chunk length over
the whole index, chunk lengths rounded as tantivy's field norms are), exact: no posting is skipped.

Tables (``assistant/storage/sql/schema.py``): ``keyword_blocks`` holds a term's postings in one
knowledge base, in blocks of consecutive chunk numbers (``keyword_pg_postings``); ``keyword_terms``
counts the chunks holding each term (its document frequency, kept exact by every write);
``keyword_kbs`` holds the chunk count and total length per knowledge base; ``keyword_chunks`` numbers
the chunks and keeps the terms each one added, so removing it takes exactly those away.

Why blocks, measured at 100k chunks (``benchmarks/keyword_pg.py``, 2 cores): a question's terms have
~120k postings at the median (character pairs and characters of common words), and PostgreSQL spends
about a microsecond on each row it scans and aggregates. One row per posting took 0.9 s at the median
(2.2 s p95), 180 / 395 ms as index-only scans; reading only the best postings of common terms and
rescoring a few hundred candidates exactly still took 60-90 ms at p95 and lost 3-7 % of the top ten.
In blocks, a question reads a few hundred rows in one statement and the arithmetic runs in numpy:
9 ms at the median, 18 ms p95, the top ten the same as tantivy's. The price is paid by writes:
replacing a 20-chunk document rewrites its terms' blocks (~1 s at 100k chunks, tantivy 20 ms).

Reads see one snapshot (``REPEATABLE READ``: the postings, the counts and the chunk ids agree). Writes
hold a transaction-level advisory lock: writers of all processes take turns (as tantivy's one writer
does), chunk numbers grow in commit order so new postings always extend a term's last block, counts
never deadlock, and a reader sees each write whole or not at all.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from itertools import islice

import numpy as np
from sqlalchemy import text
from sqlalchemy.engine import Engine

from assistant.domain import Chunk
from assistant.errors import ConfigError
from assistant.storage.keyword_analysis import KeywordAnalysis
from assistant.storage.keyword_pg_postings import (
    POSTING,
    Analysed,
    add_chunks,
    bm25_top,
    doc_freq,
    insert_blocks,
    remove_chunks,
    write_lock,
)
from assistant.text.tokenize import Tokenizer

REBUILD_BATCH = 10_000  # chunks analysed and written per step of a rebuild
ANALYSIS = "analysis"  # keyword_meta row naming the analysis the index holds

_POSTINGS = text("""
WITH stats AS (
    SELECT COALESCE(SUM(chunks), 0) AS n, COALESCE(SUM(length), 0) AS total FROM keyword_kbs
), scope AS (
    SELECT id FROM keyword_kbs WHERE CAST(:all_kbs AS boolean) OR name = ANY(CAST(:kbs AS text[]))
)
SELECT t.df, s.n, s.total, string_agg(b.postings, ''::bytea) AS postings
FROM keyword_terms t CROSS JOIN stats s
JOIN keyword_blocks b ON b.term_id = t.id AND b.kb_id = ANY(ARRAY(SELECT id FROM scope))
WHERE t.term = ANY(CAST(:terms AS text[])) AND t.df > 0
GROUP BY t.id, t.df, s.n, s.total
""")


class PostgresKeywordIndex:
    """The ``KeywordIndex`` contract over PostgreSQL tables, shared by every process of a deployment."""

    def __init__(self, engine: Engine, tokenizer: Tokenizer, *, bigrams: bool = False):
        if engine.dialect.name != "postgresql":
            raise ConfigError(
                "the PostgreSQL keyword index needs ASSISTANT_DATABASE_URL to name a PostgreSQL database; "
                "set ASSISTANT_STORAGE__KEYWORD=tantivy for the embedded index"
            )
        self.engine = engine
        self._snapshot = engine.execution_options(isolation_level="REPEATABLE READ")
        self.bigrams = bigrams
        self._analysis = KeywordAnalysis(tokenizer, bigrams=bigrams)

    # -- analysis -----------------------------------------------------------------------------
    def query_terms(self, text_: str) -> list[str]:
        return self._analysis.query_terms(text_)

    def _analyse(self, chunk: Chunk) -> Analysed:
        terms = self._analysis.chunk_terms(chunk)
        return Analysed(chunk.id, chunk.kb, Counter(terms), len(terms))

    def needs_rebuild(self) -> bool:
        """True when the tables hold another analysis than this process uses (or none yet)."""
        with self.engine.connect() as conn:
            held = conn.execute(text("SELECT value FROM keyword_meta WHERE name = :name"), {"name": ANALYSIS}).scalar()
        return held != self._analysis.marker()

    # -- writing ------------------------------------------------------------------------------
    def apply(self, add: Sequence[Chunk] = (), remove_ids: Sequence[str] = ()) -> None:
        """Remove, then add (replacing ids already present), in one transaction: all of it or none."""
        if not add and not remove_ids:
            return
        # Analysed before taking the lock (the slow part); an id given twice is added once, as last given.
        analysed = list({a.chunk_id: a for a in map(self._analyse, add)}.values())
        with self.engine.begin() as conn:
            write_lock(conn)
            remove_chunks(conn, list(dict.fromkeys([*remove_ids, *(a.chunk_id for a in analysed)])))
            add_chunks(conn, analysed)

    def delete_kb(self, kb: str) -> None:
        with self.engine.begin() as conn:
            write_lock(conn)
            kb_id = conn.execute(text("SELECT id FROM keyword_kbs WHERE name = :kb"), {"kb": kb}).scalar()
            if kb_id is None:
                return
            conn.execute(text("""
                UPDATE keyword_terms t SET df = t.df - d.n
                FROM (SELECT term_id, SUM(length(postings)) / :size AS n FROM keyword_blocks
                      WHERE kb_id = :kb GROUP BY term_id) d
                WHERE t.id = d.term_id"""), {"kb": kb_id, "size": POSTING.itemsize})
            conn.execute(text("DELETE FROM keyword_terms WHERE df <= 0"))
            for table in ("keyword_blocks", "keyword_chunks"):
                conn.execute(text(f"DELETE FROM {table} WHERE kb_id = :kb"), {"kb": kb_id})
            conn.execute(text("DELETE FROM keyword_kbs WHERE id = :kb"), {"kb": kb_id})

    def rebuild(self, chunks: Iterable[Chunk]) -> int:
        """Replace the whole index with these chunks in one transaction (the catalog is the source).
        Readers wait for it (TRUNCATE): it runs when the analysis changed, and the old terms would
        not meet new questions anyway."""
        count = 0
        with self.engine.begin() as conn:
            write_lock(conn)
            conn.execute(text("TRUNCATE keyword_blocks, keyword_chunks, keyword_terms, keyword_kbs RESTART IDENTITY"))
            items, tails = iter(chunks), {}
            while batch := list(islice(items, REBUILD_BATCH)):
                add_chunks(conn, [self._analyse(c) for c in batch], tails)
                count += len(batch)
            insert_blocks(conn, [(t, kb, int(tail["chunk"][0]), tail.tobytes()) for (t, kb), tail in tails.items()])
            conn.execute(text("""
                INSERT INTO keyword_meta (name, value) VALUES (:name, :value)
                ON CONFLICT (name) DO UPDATE SET value = EXCLUDED.value"""),
                {"name": ANALYSIS, "value": self._analysis.marker()})
        with self.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE keyword_blocks, keyword_terms, keyword_chunks, keyword_kbs"))
        return count

    # -- reading ------------------------------------------------------------------------------
    def search(self, terms: Sequence[str], kb_ids: Sequence[str] | None, k: int) -> list[tuple[str, float]]:
        """Top ``k`` (chunk id, BM25 score) for the query terms, optionally within some KBs."""
        unique = list(dict.fromkeys(t for t in terms if t))
        if not unique or k <= 0:
            return []
        params = {"terms": unique, "all_kbs": not kb_ids, "kbs": list(kb_ids or [])}
        with self._snapshot.begin() as conn:
            rows = conn.execute(_POSTINGS, params).all()
            if not rows:
                return []
            numbers, scores = bm25_top(rows, k)
            chunk_ids = dict(conn.execute(text("SELECT id, chunk_id FROM keyword_chunks WHERE id = ANY(CAST(:ids AS int[]))"),
                                          {"ids": numbers.tolist()}).all())
        return [(chunk_ids[n], float(s)) for n, s in zip(numbers.tolist(), scores.tolist())]

    def idf(self, terms: Sequence[str]) -> dict[str, float]:
        """BM25 inverse document frequency of each term (unknown terms get the maximum)."""
        wanted = list(dict.fromkeys(terms))
        with self._snapshot.begin() as conn:
            n = conn.execute(text("SELECT COALESCE(SUM(chunks), 0) FROM keyword_kbs")).scalar()
            df = doc_freq(conn, wanted)
        n = max(int(n), 1)
        return {t: float(np.log(1 + (n - df[t] + 0.5) / (df[t] + 0.5))) for t in wanted}

    def doc_freq(self, terms: Sequence[str]) -> dict[str, int]:
        """Chunks holding each term, exact (every write keeps the counts), in one read for all the terms."""
        with self.engine.connect() as conn:
            return doc_freq(conn, list(dict.fromkeys(terms)))

    def count(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(text("SELECT COALESCE(SUM(chunks), 0) FROM keyword_kbs")).scalar())

    def ids_by_kb(self) -> dict[str, set[str]]:
        """Every indexed chunk id, grouped by knowledge base (for the orphan sweep)."""
        out: dict[str, set[str]] = {}
        with self.engine.connect() as conn:
            rows = conn.execute(text("SELECT k.name, c.chunk_id FROM keyword_chunks c JOIN keyword_kbs k ON k.id = c.kb_id"))
            for kb, chunk_id in rows:
                out.setdefault(kb, set()).add(chunk_id)
        return out
