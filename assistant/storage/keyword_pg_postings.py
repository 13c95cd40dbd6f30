"""Posting blocks of the PostgreSQL keyword index: their format, BM25 over them, and the writes.

A block holds one term's postings in one knowledge base for consecutive chunk numbers, as packed
little-endian records (chunk number int32, term frequency uint16, chunk length uint16), at most
``BLOCK`` of them: small enough to be stored inline in its row, large enough that a question's
terms are a few hundred rows. Chunk numbers grow in commit order (writers hold ``write_lock``), so new
postings always extend a term's last block; removing a chunk rewrites the blocks that hold it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from sqlalchemy import Connection, text

K1, B = 1.2, 0.75
BLOCK = 240  # postings per block: 1,920 bytes, under PostgreSQL's 2 kB, so a block is stored inline
POSTING = np.dtype([("chunk", "<i4"), ("tf", "<u2"), ("length", "<u2")])  # length: as tantivy rounds it
WRITE_LOCK = 733_820_241  # pg_advisory_xact_lock key of keyword writers (the migration lock is ...240)


def _fieldnorms() -> np.ndarray:
    """The chunk lengths tantivy can tell apart (Lucene's one-byte ``SmallFloat``: exact up to 40,
    then 3 bits of precision); lengths are rounded down to one of these, so both engines rank alike."""
    out = []
    for i in range(256):
        j = i - 24
        out.append(i if j < 0 else 24 + ((j & 7) if j < 8 else ((j & 7) | 8) << ((j >> 3) - 1)))
    return np.array(out, dtype=np.int64)


FIELDNORMS = _fieldnorms()


@dataclass(frozen=True)
class Analysed:
    """A chunk as the index keeps it: its terms with their frequencies, and its length in terms."""

    chunk_id: str
    kb: str
    tf: Counter[str]
    length: int


# ---------------------------------------------------------------------------------------- scoring
def bm25_top(rows: Sequence, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` best chunk numbers and their scores, from each term's (df, N, total length, postings)."""
    n, total = int(rows[0].n), int(rows[0].total)
    avgdl = total / max(n, 1)
    blobs = [r.postings for r in rows]
    postings = np.frombuffer(b"".join(blobs), dtype=POSTING)
    df = np.array([r.df for r in rows], dtype=np.float64)
    idf = np.log(1 + (n - df + 0.5) / (df + 0.5))
    weights = np.repeat(idf, [len(b) // POSTING.itemsize for b in blobs])
    tf = postings["tf"].astype(np.float64)
    contribution = weights * tf * (K1 + 1) / (tf + K1 * (1 - B + B * postings["length"] / avgdl))
    chunks = postings["chunk"]
    low, high = int(chunks.min()), int(chunks.max())
    if high - low < 4 * len(chunks) + 1_000_000:  # dense: one pass, no sort
        summed = np.bincount(chunks - low, weights=contribution)
        present = np.flatnonzero(summed > 0)
        numbers, scores = present + low, summed[present]
    else:
        numbers, inverse = np.unique(chunks, return_inverse=True)
        scores = np.bincount(inverse, weights=contribution)
    if len(numbers) > k:
        keep = np.argpartition(-scores, k - 1)[:k]
        numbers, scores = numbers[keep], scores[keep]
    order = np.lexsort((numbers, -scores))  # best first; ties by chunk number (older first)
    return numbers[order], scores[order]


# ---------------------------------------------------------------------------------------- writing
def write_lock(conn: Connection) -> None:
    """Take the writers' turn. Writes join a few thousand keys to tables of millions of rows: the
    planner, guessing 100 rows from ``unnest``, would hash-join them by scanning the whole table
    (150 ms for the terms at 100k chunks); probing their index takes 40 ms."""
    conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": WRITE_LOCK})
    conn.execute(text("SET LOCAL enable_hashjoin = off"))
    conn.execute(text("SET LOCAL enable_mergejoin = off"))


def doc_freq(conn: Connection, terms: list[str]) -> dict[str, int]:
    rows = conn.execute(text("SELECT term, df FROM keyword_terms WHERE term = ANY(CAST(:terms AS text[]))"),
                        {"terms": terms})
    found = dict(rows.all())
    return {t: int(found.get(t, 0)) for t in terms}


def remove_chunks(conn: Connection, chunk_ids: list[str]) -> None:
    """Take removed chunks out of their blocks, the term counts and the statistics."""
    if not chunk_ids:
        return
    removed = conn.execute(text(
        "DELETE FROM keyword_chunks WHERE chunk_id = ANY(CAST(:ids AS text[])) RETURNING id, kb_id, length, terms"
    ), {"ids": chunk_ids}).all()
    if not removed:
        return
    forward = [np.frombuffer(packed, dtype="<i4").reshape(-1, 2)[:, 0] for _, _, _, packed in removed]
    term_ids = np.concatenate(forward)
    kb_ids = np.repeat([r.kb_id for r in removed], [len(f) for f in forward])
    numbers = np.repeat([r.id for r in removed], [len(f) for f in forward])
    blocks = conn.execute(text("""
        SELECT DISTINCT ON (d.term_id, d.kb_id, b.start) d.term_id, d.kb_id, b.start, b.postings
        FROM unnest(CAST(:terms AS int[]), CAST(:kbs AS int[]), CAST(:chunks AS int[])) AS d(term_id, kb_id, chunk)
        CROSS JOIN LATERAL (
            SELECT start, postings FROM keyword_blocks b
            WHERE b.term_id = d.term_id AND b.kb_id = d.kb_id AND b.start <= d.chunk
            ORDER BY b.start DESC LIMIT 1) b"""),
        {"terms": term_ids.tolist(), "kbs": kb_ids.tolist(), "chunks": numbers.tolist()}).all()
    gone = np.array([r.id for r in removed], dtype=np.int32)
    emptied, kept = [], []
    for term_id, kb_id, start, packed in blocks:
        postings = np.frombuffer(packed, dtype=POSTING)
        left = postings[~np.isin(postings["chunk"], gone)]
        (kept if len(left) else emptied).append((term_id, kb_id, start, left.tobytes()))
    if emptied:
        conn.execute(text("""
            DELETE FROM keyword_blocks b USING unnest(CAST(:terms AS int[]), CAST(:kbs AS int[]), CAST(:starts AS int[]))
                AS d(term_id, kb_id, start)
            WHERE b.term_id = d.term_id AND b.kb_id = d.kb_id AND b.start = d.start"""), _columns(emptied))
    _update_blocks(conn, kept)
    df = Counter(term_ids.tolist())
    unused = conn.execute(text("""
        UPDATE keyword_terms t SET df = t.df - d.n
        FROM unnest(CAST(:ids AS int[]), CAST(:ns AS int[])) AS d(id, n) WHERE t.id = d.id
        RETURNING t.id, t.df"""), {"ids": list(df), "ns": list(df.values())}).all()
    unused = [term_id for term_id, left in unused if left <= 0]
    if unused:
        conn.execute(text("DELETE FROM keyword_terms WHERE id = ANY(CAST(:ids AS int[]))"), {"ids": unused})
    per_kb: dict[int, list[int]] = {}
    for r in removed:
        stats = per_kb.setdefault(r.kb_id, [0, 0])
        stats[0] -= 1
        stats[1] -= r.length
    _count_chunks(conn, per_kb)


def add_chunks(conn: Connection, analysed: list[Analysed], tails: dict | None = None) -> None:
    """Write analysed chunks (none of them present): number them, extend their terms' blocks, count them.
    With ``tails`` (a rebuild), each term's last, unfilled block stays there until the caller writes it."""
    if not analysed:
        return
    kb_ids = _kb_ids(conn, sorted({a.kb for a in analysed}))
    term_ids = _term_ids(conn, Counter(t for a in analysed for t in a.tf))
    forward = [np.array([(term_ids[t], n) for t, n in a.tf.items()], dtype="<i4").reshape(-1, 2) for a in analysed]
    numbered = dict(conn.execute(text("""
        INSERT INTO keyword_chunks (chunk_id, kb_id, length, terms)
        SELECT * FROM unnest(CAST(:ids AS text[]), CAST(:kbs AS int[]), CAST(:lengths AS int[]), CAST(:terms AS bytea[]))
        RETURNING chunk_id, id"""),
        {"ids": [a.chunk_id for a in analysed], "kbs": [kb_ids[a.kb] for a in analysed],
         "lengths": [a.length for a in analysed], "terms": [f.tobytes() for f in forward]}).all())
    sizes = [len(f) for f in forward]
    terms = np.concatenate([f[:, 0] for f in forward])
    kbs = np.repeat([kb_ids[a.kb] for a in analysed], sizes)
    postings = np.empty(len(terms), dtype=POSTING)
    postings["chunk"] = np.repeat([numbered[a.chunk_id] for a in analysed], sizes)
    postings["tf"] = np.minimum(np.concatenate([f[:, 1] for f in forward]), 65_535)
    norms = FIELDNORMS[np.searchsorted(FIELDNORMS, [a.length for a in analysed], side="right") - 1]
    postings["length"] = np.repeat(np.minimum(norms, 65_535), sizes)
    order = np.lexsort((postings["chunk"], kbs, terms))
    terms, kbs, postings = terms[order], kbs[order], postings[order]
    _extend_blocks(conn, terms, kbs, postings, tails)
    per_kb: dict[int, list[int]] = {}
    for a in analysed:
        stats = per_kb.setdefault(kb_ids[a.kb], [0, 0])
        stats[0] += 1
        stats[1] += a.length
    _count_chunks(conn, per_kb)


def _extend_blocks(conn: Connection, terms: np.ndarray, kbs: np.ndarray, postings: np.ndarray,
                   tails: dict | None) -> None:
    """Append postings (sorted by term, KB, chunk; numbered after every chunk held) to their terms'
    last blocks, filling them up to ``BLOCK`` and starting new blocks for the rest."""
    if not len(terms):  # chunks without a single term
        return
    starts = np.flatnonzero(np.r_[True, (terms[1:] != terms[:-1]) | (kbs[1:] != kbs[:-1])])
    ends = np.r_[starts[1:], len(terms)]
    pairs = list(zip(terms[starts].tolist(), kbs[starts].tolist()))
    updated, inserted = [], []
    if tails is None:
        last = {(t, kb): (start, np.frombuffer(packed, dtype=POSTING)) for t, kb, start, packed in conn.execute(text("""
            SELECT d.term_id, d.kb_id, b.start, b.postings
            FROM unnest(CAST(:terms AS int[]), CAST(:kbs AS int[])) AS d(term_id, kb_id)
            CROSS JOIN LATERAL (
                SELECT start, postings FROM keyword_blocks b WHERE b.term_id = d.term_id AND b.kb_id = d.kb_id
                ORDER BY b.start DESC LIMIT 1) b"""), {"terms": [p[0] for p in pairs], "kbs": [p[1] for p in pairs]})}
        for (t, kb), lo, hi in zip(pairs, starts.tolist(), ends.tolist()):
            fresh = postings[lo:hi]
            if (t, kb) in last and len(last[t, kb][1]) < BLOCK:
                start, held = last[t, kb]
                room = BLOCK - len(held)
                updated.append((t, kb, start, held.tobytes() + fresh[:room].tobytes()))
                fresh = fresh[room:]
            inserted += [(t, kb, int(fresh["chunk"][i]), fresh[i:i + BLOCK].tobytes()) for i in range(0, len(fresh), BLOCK)]
    else:
        for (t, kb), lo, hi in zip(pairs, starts.tolist(), ends.tolist()):
            fresh = postings[lo:hi]
            held = tails.pop((t, kb), None)
            if held is not None:
                fresh = np.concatenate([held, fresh])
            full = len(fresh) - len(fresh) % BLOCK
            inserted += [(t, kb, int(fresh["chunk"][i]), fresh[i:i + BLOCK].tobytes()) for i in range(0, full, BLOCK)]
            if full < len(fresh):
                tails[t, kb] = fresh[full:]
    _update_blocks(conn, updated)
    insert_blocks(conn, inserted)


def insert_blocks(conn: Connection, blocks: list[tuple]) -> None:
    if blocks:
        conn.execute(text("""
            INSERT INTO keyword_blocks (term_id, kb_id, start, postings)
            SELECT * FROM unnest(CAST(:terms AS int[]), CAST(:kbs AS int[]), CAST(:starts AS int[]),
                                 CAST(:postings AS bytea[]))"""), _columns(blocks))


def _update_blocks(conn: Connection, blocks: list[tuple]) -> None:
    if blocks:
        conn.execute(text("""
            UPDATE keyword_blocks b SET postings = d.postings
            FROM unnest(CAST(:terms AS int[]), CAST(:kbs AS int[]), CAST(:starts AS int[]), CAST(:postings AS bytea[]))
                AS d(term_id, kb_id, start, postings)
            WHERE b.term_id = d.term_id AND b.kb_id = d.kb_id AND b.start = d.start"""), _columns(blocks))


def _columns(blocks: list[tuple]) -> dict[str, list]:
    terms, kbs, starts, *rest = zip(*blocks)
    out = {"terms": list(terms), "kbs": list(kbs), "starts": list(starts)}
    if rest:
        out["postings"] = list(rest[0])
    return out


def _count_chunks(conn: Connection, per_kb: dict[int, list[int]]) -> None:
    """Add (or, negative, take away) chunks and their length to each knowledge base's statistics."""
    conn.execute(text("""
        UPDATE keyword_kbs k SET chunks = k.chunks + d.n, length = k.length + d.l
        FROM unnest(CAST(:ids AS int[]), CAST(:ns AS int[]), CAST(:ls AS bigint[])) AS d(id, n, l) WHERE k.id = d.id"""),
        {"ids": list(per_kb), "ns": [v[0] for v in per_kb.values()], "ls": [v[1] for v in per_kb.values()]})


def _kb_ids(conn: Connection, names: list[str]) -> dict[str, int]:
    conn.execute(text("""
        INSERT INTO keyword_kbs (name, chunks, length) SELECT unnest(CAST(:names AS text[])), 0, 0
        ON CONFLICT (name) DO NOTHING"""), {"names": names})
    rows = conn.execute(text("SELECT name, id FROM keyword_kbs WHERE name = ANY(CAST(:names AS text[]))"),
                        {"names": names})
    return dict(rows.all())


def _term_ids(conn: Connection, df: Counter[str]) -> dict[str, int]:
    """Ids of the terms, counting ``df`` more chunks for each (new terms are inserted)."""
    terms = sorted(df)
    known = dict(conn.execute(text("""
        UPDATE keyword_terms t SET df = t.df + d.n
        FROM unnest(CAST(:terms AS text[]), CAST(:ns AS int[])) AS d(term, n) WHERE t.term = d.term
        RETURNING t.term, t.id"""), {"terms": terms, "ns": [df[t] for t in terms]}).all())
    fresh = [t for t in terms if t not in known]
    if fresh:
        known.update(conn.execute(text("""
            INSERT INTO keyword_terms (term, df)
            SELECT * FROM unnest(CAST(:terms AS text[]), CAST(:ns AS int[]))
            RETURNING term, id"""), {"terms": fresh, "ns": [df[t] for t in fresh]}).all())
    return known
