"""Check the multi-turn demo eval set (stdlib only).

Usage: python data/eval/demo-multiturn/check.py [folder]

Verifies: corpus identical in ids to ../demo/corpus.jsonl (if present); query ids unique; every
query has a non-empty `conversation` (list of strings), a non-empty `text` and `standalone`;
answerable queries have 1-3 answers, each occurring verbatim in at least one gold document, and
each gold document contains at least one answer; every answerable query has qrels; qrels reference
known query and corpus ids. Prints counts; exits 1 on any failure.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path


def main() -> int:
    root = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parent
    errors: list[str] = []

    corpus: dict[str, str] = {}
    for line in (root / "corpus.jsonl").open(encoding="utf-8"):
        if line.strip():
            doc = json.loads(line)
            if doc["_id"] in corpus:
                errors.append(f"duplicate corpus id {doc['_id']}")
            corpus[doc["_id"]] = doc.get("text", "")
    single = root.parent / "demo" / "corpus.jsonl"
    if single.is_file():
        ids = [json.loads(l)["_id"] for l in single.open(encoding="utf-8") if l.strip()]
        if sorted(ids) != sorted(corpus):
            errors.append("corpus ids differ from data/eval/demo/corpus.jsonl")

    queries: list[dict] = []
    seen: set[str] = set()
    for n, line in enumerate((root / "queries.jsonl").open(encoding="utf-8"), 1):
        if not line.strip():
            continue
        q = json.loads(line)
        qid = q.get("_id")
        if not qid or qid in seen:
            errors.append(f"line {n}: missing or duplicate _id {qid!r}")
        seen.add(qid)
        conv = q.get("conversation")
        if not isinstance(conv, list) or not conv or not all(isinstance(t, str) and t.strip() for t in conv):
            errors.append(f"{qid}: conversation must be a non-empty list of non-empty strings")
        for key in ("text", "standalone"):
            if not isinstance(q.get(key), str) or not q[key].strip():
                errors.append(f"{qid}: empty {key}")
        queries.append(q)

    qrels: dict[str, set[str]] = {}
    with (root / "qrels" / "test.tsv").open(encoding="utf-8") as fh:
        header = fh.readline().rstrip("\n")
        if header != "query-id\tcorpus-id\tscore":
            errors.append(f"bad qrels header {header!r}")
        for n, line in enumerate(fh, 2):
            if not line.strip():
                continue
            parts = line.rstrip("\n").split("\t")
            if len(parts) != 3 or not parts[2].isdigit():
                errors.append(f"qrels line {n}: malformed")
                continue
            qid, did, _ = parts
            if qid not in seen:
                errors.append(f"qrels line {n}: unknown query {qid}")
            if did not in corpus:
                errors.append(f"qrels line {n}: unknown document {did}")
            qrels.setdefault(qid, set()).add(did)

    for q in queries:
        qid, answers, gold = q["_id"], q.get("answers", []), qrels.get(q["_id"], set())
        if q.get("is_impossible"):
            if answers or gold:
                errors.append(f"{qid}: unanswerable query has answers or qrels")
            continue
        if not gold:
            errors.append(f"{qid}: no qrels")
            continue
        if not 1 <= len(answers) <= 3:
            errors.append(f"{qid}: expected 1-3 answers, got {len(answers)}")
        texts = {d: corpus.get(d, "") for d in gold}
        for a in answers:
            if not any(a in t for t in texts.values()):
                errors.append(f"{qid}: answer {a!r} not verbatim in any gold doc {sorted(gold)}")
        for d, t in texts.items():
            if answers and not any(a in t for a in answers):
                errors.append(f"{qid}: gold doc {d} contains none of the answers")

    turns = Counter(len(q.get("conversation") or []) + 1 for q in queries)
    english = sum(1 for q in queries if q.get("text", "").isascii())
    print(f"corpus docs: {len(corpus)}")
    print(f"conversations: {len(queries)} (unanswerable: {sum(bool(q.get('is_impossible')) for q in queries)})")
    print("user turns per conversation: " + ", ".join(f"{k}: {v}" for k, v in sorted(turns.items())))
    print(f"English final turns: {english}")
    print(f"qrels rows: {sum(len(v) for v in qrels.values())} for {len(qrels)} queries")
    types = Counter(q.get("type", "-") for q in queries)
    print("types: " + ", ".join(f"{k}: {v}" for k, v in sorted(types.items())))
    for e in errors:
        print("ERROR:", e)
    print("OK" if not errors else f"FAILED: {len(errors)} error(s)")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
