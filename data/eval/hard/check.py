"""Check the hard-questions eval set for the demo knowledge base (stdlib only).

Usage: python data/eval/hard/check.py [folder]

Verifies:
- corpus.jsonl has the same documents (ids and text) as ../demo/corpus.jsonl (if present);
- query ids are unique and numbered hard-001, hard-002, ... in file order;
- every query has a non-empty `text` and a known `category`; every category has at least its
  minimum count (MIN_COUNTS), order_intent has at least MIN_NOT_FOUND not-found questions;
- unanswerable queries (is_impossible=true; required for unanswerable_related and off_topic)
  have empty answers and no qrels; answerable queries have 1-4 answers and qrels;
- kb answers occur verbatim in at least one gold document, and each gold document contains at
  least one answer; for order_intent, `answer_source` is erp / kb / both: erp answers occur
  verbatim in data/erp/orders.json or are the not-found phrase, both = either of the two places;
- order_intent questions name an order number (full-width digits allowed); not-found questions
  name one that is absent from orders.json, the others one that is present;
- multi_turn queries have a non-empty `conversation` (list of strings) and a `standalone`; other
  categories have neither;
- cross_lingual queries are written in a different language (ASCII vs Chinese) from a gold document;
- qrels have the header "query-id<TAB>corpus-id<TAB>score" and reference known queries and documents.
Prints counts per category; exits 1 on any failure.
"""

from __future__ import annotations

import json
import re
import sys
import unicodedata
from collections import Counter
from pathlib import Path

MIN_COUNTS = {
    "unanswerable_related": 20,
    "off_topic": 8,
    "cross_lingual": 15,
    "table_lookup": 15,
    "rule_condition": 10,
    "colloquial": 12,
    "multi_turn": 15,
    "order_intent": 10,
}
IMPOSSIBLE_CATEGORIES = {"unanswerable_related", "off_topic"}
MIN_NOT_FOUND = 2
NOT_FOUND = "没有查到这个订单号"
ANSWER_SOURCES = {"erp", "kb", "both"}
ORDER_NO = re.compile(r"\d{8}-\d{4}")


def _is_english(text: str) -> bool:
    """A question is English when it has no Chinese characters at all."""
    return not any("\u4e00" <= ch <= "\u9fff" for ch in text)


def _doc_is_english(text: str) -> bool:
    """A document is English when under 5 % of its characters are Chinese (names in brackets allowed)."""
    cjk = sum(1 for ch in text if "\u4e00" <= ch <= "\u9fff")
    return cjk < 0.05 * max(len(text), 1)


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
    demo = root.parent / "demo" / "corpus.jsonl"
    if demo.is_file():
        demo_docs = {}
        for line in demo.open(encoding="utf-8"):
            if line.strip():
                d = json.loads(line)
                demo_docs[d["_id"]] = d.get("text", "")
        if demo_docs != corpus:
            errors.append("corpus.jsonl differs from data/eval/demo/corpus.jsonl")

    erp_path = root.parents[1] / "erp" / "orders.json"
    erp_text = erp_path.read_text(encoding="utf-8") if erp_path.is_file() else ""
    if not erp_text:
        errors.append(f"cannot read {erp_path}")
    erp_orders = {o["order_no"] for o in json.loads(erp_text)["orders"]} if erp_text else set()

    queries: list[dict] = []
    seen: set[str] = set()
    for n, line in enumerate((root / "queries.jsonl").open(encoding="utf-8"), 1):
        if not line.strip():
            continue
        q = json.loads(line)
        qid = q.get("_id")
        expected = f"hard-{len(queries) + 1:03d}"
        if qid in seen:
            errors.append(f"line {n}: duplicate _id {qid!r}")
        elif qid != expected:
            errors.append(f"line {n}: _id {qid!r}, expected {expected!r} (ids in order)")
        seen.add(qid)
        if not isinstance(q.get("text"), str) or not q["text"].strip():
            errors.append(f"{qid}: empty text")
        if q.get("category") not in MIN_COUNTS:
            errors.append(f"{qid}: unknown category {q.get('category')!r}")
        if not isinstance(q.get("answers"), list) or not all(isinstance(a, str) and a for a in q["answers"]):
            errors.append(f"{qid}: answers must be a list of non-empty strings")
            q["answers"] = []
        if not isinstance(q.get("is_impossible"), bool):
            errors.append(f"{qid}: is_impossible must be true or false")
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
            if did in qrels.get(qid, set()):
                errors.append(f"qrels line {n}: duplicate row {qid} {did}")
            qrels.setdefault(qid, set()).add(did)

    not_found = 0
    for q in queries:
        qid, cat, answers = q["_id"], q.get("category"), q["answers"]
        gold = qrels.get(qid, set())
        conv = q.get("conversation")

        # multi-turn fields
        if cat == "multi_turn":
            if not isinstance(conv, list) or not conv or not all(isinstance(t, str) and t.strip() for t in conv):
                errors.append(f"{qid}: multi_turn needs a non-empty conversation (list of non-empty strings)")
            if not isinstance(q.get("standalone"), str) or not q["standalone"].strip():
                errors.append(f"{qid}: multi_turn needs a standalone question")
        elif conv or q.get("standalone"):
            errors.append(f"{qid}: conversation/standalone only belong to multi_turn queries")

        # unanswerable
        if cat in IMPOSSIBLE_CATEGORIES and not q.get("is_impossible"):
            errors.append(f"{qid}: {cat} queries must be is_impossible=true")
        if q.get("is_impossible"):
            if answers or gold:
                errors.append(f"{qid}: unanswerable query has answers or qrels")
            if cat not in IMPOSSIBLE_CATEGORIES | {"multi_turn"}:
                errors.append(f"{qid}: {cat} queries must be answerable")
            continue
        if not gold:
            errors.append(f"{qid}: answerable query without qrels")
        if not 1 <= len(answers) <= 4:
            errors.append(f"{qid}: expected 1-4 answers, got {len(answers)}")

        texts = {d: corpus.get(d, "") for d in gold}
        source = q.get("answer_source")
        if cat == "order_intent":
            if source not in ANSWER_SOURCES:
                errors.append(f"{qid}: answer_source must be one of {sorted(ANSWER_SOURCES)}, got {source!r}")
            numbers = ORDER_NO.findall(unicodedata.normalize("NFKC", q.get("text", "")))
            if not numbers:
                errors.append(f"{qid}: order_intent question names no order number")
            is_nf = NOT_FOUND in answers
            if is_nf:
                not_found += 1
                if answers != [NOT_FOUND] or source != "erp":
                    errors.append(f"{qid}: a not-found question has only the not-found phrase, answer_source erp")
                if any(n in erp_orders for n in numbers):
                    errors.append(f"{qid}: not-found question names an order that exists in orders.json")
            elif numbers and not all(n in erp_orders for n in numbers):
                errors.append(f"{qid}: order {numbers} is not in orders.json (expected a not-found answer)")
        elif source is not None:
            errors.append(f"{qid}: answer_source only belongs to order_intent queries")

        kb_answers = []
        for a in answers:
            in_kb = any(a in t for t in texts.values())
            in_erp = a in erp_text or a == NOT_FOUND
            if source == "erp":
                ok = in_erp
            elif source == "both":
                ok = in_kb or in_erp
            else:
                ok = in_kb
            if not ok:
                where = {"erp": "orders.json", "both": "a gold doc or orders.json"}.get(source, f"any gold doc {sorted(gold)}")
                errors.append(f"{qid}: answer {a!r} not verbatim in {where}")
            if in_kb:
                kb_answers.append(a)
        if source in (None, "kb", "both"):
            for d, t in texts.items():
                if not any(a in t for a in kb_answers):
                    errors.append(f"{qid}: gold doc {d} contains none of the answers")
            if source == "both" and not (kb_answers and any(a in erp_text for a in answers)):
                errors.append(f"{qid}: answer_source both needs an answer from a gold doc and one from orders.json")

        if cat == "cross_lingual":
            q_en = _is_english(q.get("text", ""))
            if not any(_doc_is_english(corpus.get(d, "")) != q_en for d in gold):
                errors.append(f"{qid}: cross_lingual question is in the same language as all its gold documents")

    counts = Counter(q.get("category") for q in queries)
    for cat, minimum in MIN_COUNTS.items():
        if counts.get(cat, 0) < minimum:
            errors.append(f"category {cat}: {counts.get(cat, 0)} queries, minimum {minimum}")
    if not_found < MIN_NOT_FOUND:
        errors.append(f"order_intent: {not_found} not-found questions, minimum {MIN_NOT_FOUND}")

    impossible = sum(bool(q.get("is_impossible")) for q in queries)
    english = sum(1 for q in queries if _is_english(q.get("text", "")))
    print(f"corpus docs: {len(corpus)}")
    print(f"queries: {len(queries)} (unanswerable: {impossible}, answerable: {len(queries) - impossible})")
    print("per category:")
    for cat in MIN_COUNTS:
        sub = [q for q in queries if q.get("category") == cat]
        imp = sum(bool(q.get("is_impossible")) for q in sub)
        extra = f", unanswerable {imp}" if imp and imp != len(sub) else ""
        if cat == "order_intent":
            src = Counter(q.get("answer_source") for q in sub)
            extra += f", not found {not_found}, answer_source " + ", ".join(f"{k}: {v}" for k, v in sorted(src.items()))
        print(f"  {cat:22s} {len(sub):3d} (min {MIN_COUNTS[cat]}{extra})")
    print(f"English questions: {english}")
    print(f"qrels rows: {sum(len(v) for v in qrels.values())} for {len(qrels)} queries")
    for e in errors:
        print("ERROR:", e)
    print("OK" if not errors else f"FAILED: {len(errors)} error(s)")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
