"""The keyword stage at scale: BM25 in PostgreSQL against the embedded tantivy index, same chunks, same questions.

    python benchmarks/keyword_pg.py [--chunks 100000] [--queries 300] [--database-url URL]

Fills both engines with the same realistic chunks: Chinese SOP, FAQ, news and encyclopedia text and
English abstracts and articles (the demo knowledge base, ``data/eval`` and ``../shared/eval`` corpora),
cut into sentences, shuffled, recombined into chunks of the ingestion's size with numbers varied,
spread over ten knowledge bases of uneven size. Then times ``search(query_terms(q))`` (the retriever's
keyword stage) for real questions of those sets (Chinese, English, mixed), with the candidates the
retriever asks for (50) over all knowledge bases, and over one. PostgreSQL runs in a database made
for the run (``kw_bench_<pid>``, dropped afterwards) on the server of ``--database-url``.
The last line is ``pg_p95_ms=N tantivy_p95_ms=N chunks=N``.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from assistant.domain import Chunk
from assistant.storage.keyword_pg import PostgresKeywordIndex
from assistant.storage.keyword_tantivy import TantivyKeywordIndex
from assistant.storage.sql.engine import make_engine, migrate
from assistant.text.tokenize import Tokenizer
from benchmarks.synthetic import PRODUCTS, TOPICS

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "eval"
ZH_SETS = ["rgb-zh", "cmrc2018", "afqmc-faq"]
EN_SETS = ["scifact", "squad2"]
KB_WEIGHTS = [30, 20, 12, 10, 8, 6, 5, 4, 3, 2]  # ten knowledge bases of uneven size
CANDIDATES = 50  # RetrievalSettings.bm25_candidates
_SENTENCE_END = re.compile(r"(?<=[。！？；!?;\n])|(?<=\.)\s+")
_NUMBER = re.compile(r"\d+")


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    k = (len(ordered) - 1) * p / 100
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def _jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _sentences(texts: list[str]) -> list[str]:
    return [s.strip() for t in texts for s in _SENTENCE_END.split(t) if len(s.strip()) >= 6]


def sentence_pools() -> tuple[list[str], list[str], list[str]]:
    """SOP sentences (the demo knowledge base and the hard set), other Chinese, English."""
    sop = _sentences([d["text"] for name in ("demo", "hard") for d in _jsonl(REPO / "data" / "eval" / name / "corpus.jsonl")])
    zh = _sentences([d["text"] for name in ZH_SETS for d in _jsonl(SHARED / name / "corpus.jsonl")])
    en = _sentences([d["text"] for name in EN_SETS for d in _jsonl(SHARED / name / "corpus.jsonl")])
    return sop, zh, en


def make_chunks(n: int, seed: int = 7) -> list[Chunk]:
    """``n`` chunks of 150-400 characters (English: 400-1,200), 75 % Chinese, a third of those SOP text."""
    rng = random.Random(seed)
    sop, zh, en = sentence_pools()
    kbs = [f"kb{i}" for i in range(len(KB_WEIGHTS))]
    out = []
    for i in range(n):
        english = rng.random() < 0.25
        pool = en if english else (sop if rng.random() < 0.35 else zh)
        budget = rng.randint(400, 1200) if english else rng.randint(150, 400)
        start = rng.randrange(len(pool))
        parts, size = [], 0
        while size < budget:  # a run of neighbouring sentences, sometimes jumping elsewhere
            if rng.random() < 0.3:
                start = rng.randrange(len(pool))
            s = pool[start % len(pool)]
            start += 1
            s = _NUMBER.sub(lambda m: str(rng.randint(1, 10 ** len(m.group())) - 1), s) if rng.random() < 0.5 else s
            if not english and rng.random() < 0.1:
                s = rng.choice(PRODUCTS) + "的" + rng.choice(TOPICS) + "：" + s
            parts.append(s)
            size += len(s)
        kb = rng.choices(kbs, KB_WEIGHTS)[0]
        section = "" if english else f"{rng.randint(1, 9)}. {rng.choice(TOPICS)}{rng.choice(['流程', '时效', '规则', '说明'])}"
        out.append(Chunk(id=f"c{i:06d}", doc_id=f"d{i // 20}", kb=kb, ordinal=i % 20, text=" ".join(parts) if english
                         else "".join(parts), section=section))
    return out


def questions(n: int, seed: int = 3) -> list[str]:
    """Real questions: the demo and hard sets, the shared sets, and mixed Chinese-English ones."""
    rng = random.Random(seed)
    own = [q["text"] for name in ("demo", "hard") for q in _jsonl(REPO / "data" / "eval" / name / "queries.jsonl")]
    zh = [q["text"] for name in ZH_SETS for q in _jsonl(SHARED / name / "queries.jsonl")]
    en = [q["text"] for name in EN_SETS for q in _jsonl(SHARED / name / "queries.jsonl")]
    mixed = [f"{rng.choice(PRODUCTS)} {rng.choice(TOPICS)}{rng.choice(['怎么申请', '多久', '要什么条件', '规则是什么'])}"
             for _ in range(n)]
    picks = (rng.sample(own, min(len(own), n * 3 // 10)) + rng.sample(zh, n * 3 // 10)
             + rng.sample(en, n * 2 // 10) + mixed[: n * 2 // 10])
    rng.shuffle(picks)
    return picks[:n]


def time_engine(index, queries: list[str], kb_ids: list[str]) -> tuple[list[float], list[list[str]]]:
    for q in queries[:10]:  # warm-up
        index.search(index.query_terms(q), kb_ids, CANDIDATES)
    times, ranked = [], []
    for q in queries:
        t0 = time.perf_counter()
        hits = index.search(index.query_terms(q), kb_ids, CANDIDATES)
        times.append((time.perf_counter() - t0) * 1000)
        ranked.append([cid for cid, _ in hits])
    return times, ranked


def overlap_at_10(a: list[list[str]], b: list[list[str]]) -> float:
    shares = [len(set(x[:10]) & set(y[:10])) / max(min(len(x), 10), 1) for x, y in zip(a, b) if x or y]
    return statistics.mean(shares) if shares else 1.0


def scratch_database(admin_url: str, name: str) -> str:
    import psycopg

    plain = admin_url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(plain, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    return admin_url.rsplit("/", 1)[0] + f"/{name}"


def drop_database(admin_url: str, name: str) -> None:
    import psycopg

    with psycopg.connect(admin_url.replace("postgresql+psycopg://", "postgresql://"), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--chunks", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--database-url", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    parser.add_argument("--keep", action="store_true", help="keep the database (kw_bench) for another run")
    args = parser.parse_args()

    name = "kw_bench" if args.keep else f"kw_bench_{os.getpid()}"
    t0 = time.perf_counter()
    chunks = make_chunks(args.chunks)
    queries = questions(args.queries)
    print(f"corpus: {len(chunks)} chunks, {sum(len(c.text) for c in chunks) / len(chunks):.0f} characters on average "
          f"({time.perf_counter() - t0:.1f} s)", file=sys.stderr)
    tokenizer = Tokenizer()
    all_kbs = [f"kb{i}" for i in range(len(KB_WEIGHTS))]
    rows, results = [], {}
    with tempfile.TemporaryDirectory() as tmp:
        tantivy = TantivyKeywordIndex(Path(tmp) / "keyword", tokenizer, bigrams=True)
        t0 = time.perf_counter()
        tantivy.rebuild(chunks)
        build = {"tantivy": time.perf_counter() - t0}

        reuse = args.keep and _has_index(args.database_url, name, len(chunks))
        url = args.database_url.rsplit("/", 1)[0] + f"/{name}" if reuse else scratch_database(args.database_url, name)
        engine = make_engine(url)
        try:
            migrate(engine)
            pg = PostgresKeywordIndex(engine, tokenizer, bigrams=True)
            t0 = time.perf_counter()
            if not reuse:
                pg.rebuild(chunks)
            build["postgres"] = time.perf_counter() - t0
            print(f"built: tantivy {build['tantivy']:.1f} s, postgres {build['postgres']:.1f} s", file=sys.stderr)
            size = _size_mb(engine)
            for label, kb_ids in (("all KBs", all_kbs), ("one KB", ["kb3"])):
                for engine_name, index in (("tantivy", tantivy), ("postgres", pg)):
                    times, ranked = time_engine(index, queries, kb_ids)
                    results[(engine_name, label)] = ranked
                    rows.append((engine_name, label, statistics.median(times), percentile(times, 95), max(times)))
            write = _time_replace(pg, tantivy, chunks)
        finally:
            engine.dispose()
            if not args.keep:
                drop_database(args.database_url, name)

    print(f"{'engine':<10} {'scope':<8} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8}")
    for engine_name, label, p50, p95, worst in rows:
        print(f"{engine_name:<10} {label:<8} {p50:>8.2f} {p95:>8.2f} {worst:>8.2f}")
    for label in ("all KBs", "one KB"):
        print(f"top-10 overlap, {label}: {overlap_at_10(results[('tantivy', label)], results[('postgres', label)]):.3f}")
    print(f"build s: tantivy {build['tantivy']:.1f}, postgres {build['postgres']:.1f}; postgres tables {size:.0f} MB")
    print(f"replace one document (20 chunks) ms: tantivy {write['tantivy']:.1f}, postgres {write['postgres']:.1f}")
    pg_p95 = next(p95 for e, label, _, p95, _ in rows if e == "postgres" and label == "all KBs")
    tv_p95 = next(p95 for e, label, _, p95, _ in rows if e == "tantivy" and label == "all KBs")
    print(f"pg_p95_ms={pg_p95:.1f} tantivy_p95_ms={tv_p95:.1f} chunks={len(chunks)}")


def _time_replace(pg: PostgresKeywordIndex, tantivy: TantivyKeywordIndex, chunks: list[Chunk]) -> dict[str, float]:
    """Median time to replace one document's 20 chunks (remove the old ids, add new ones)."""
    out = {}
    for name, index in (("tantivy", tantivy), ("postgres", pg)):
        times = []
        for d in range(5):
            old = chunks[d * 20:(d + 1) * 20]
            new = [Chunk(id=c.id + "-v2", doc_id=c.doc_id, kb=c.kb, ordinal=c.ordinal, text=c.text + " 已更新。", section=c.section)
                   for c in old]
            t0 = time.perf_counter()
            index.apply(add=new, remove_ids=[c.id for c in old])
            times.append((time.perf_counter() - t0) * 1000)
            index.apply(add=old, remove_ids=[c.id for c in new])
        out[name] = statistics.median(times)
    return out


def _has_index(admin_url: str, name: str, chunks: int) -> bool:
    """True when ``--keep`` left a database holding this many chunks (reused instead of rebuilt)."""
    from sqlalchemy import text
    from sqlalchemy.exc import DBAPIError

    engine = make_engine(admin_url.rsplit("/", 1)[0] + f"/{name}")
    try:
        with engine.connect() as conn:
            return conn.execute(text("SELECT COALESCE(SUM(chunks), 0) FROM keyword_kbs")).scalar() == chunks
    except DBAPIError:  # no such database yet, or no tables
        return False
    finally:
        engine.dispose()


def _size_mb(engine) -> float:
    from sqlalchemy import text

    with engine.connect() as conn:
        return conn.execute(text(
            "SELECT SUM(pg_total_relation_size(c.oid)) / 1e6 FROM pg_class c WHERE c.relname LIKE 'keyword_%' AND c.relkind = 'r'"
        )).scalar()


if __name__ == "__main__":
    main()
