"""Pure evaluation metrics: retrieval, answer accuracy, citations, refusal, latency.

Every function here is deterministic and side-effect free. :func:`aggregate` turns the per-query
:class:`QueryRecord` list of one run into the JSON-serialisable result dict used by the CLI,
:mod:`eval.compare` and :mod:`eval.report`.
"""

from __future__ import annotations

import math
import re
import string
import unicodedata
from collections import Counter
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from assistant.text.cjk import IDEOGRAPHS
from eval.dataset import UNCATEGORISED, Dataset, Query

RETRIEVAL_KEYS = ("ndcg@10", "recall@5", "recall@20", "recall@100", "mrr@10")
ARTICLES = frozenset({"a", "an", "the"})

# CJK ideographs (the core's set plus the supplementary-plane extensions), kana, hangul: one token per character.
_CJK_RE = re.compile(f"[\u3040-\u30ff{IDEOGRAPHS}\uac00-\ud7af\U00020000-\U0002ebef\U00030000-\U0003134f]")
_TOKEN_RE = re.compile(_CJK_RE.pattern + r"|[^\s" + _CJK_RE.pattern[1:-1] + r"]+")
_ASCII_PUNCT = frozenset(string.punctuation)


@dataclass
class QueryRecord:
    """What the runner observed for one query in one mode.

    ``ranked_doc_ids`` is in retrieval order (duplicates allowed, e.g. several chunks of one
    document); ``latency_ms`` is the end-to-end time, ``stage_ms`` the time per pipeline stage;
    ``trace`` is free-form detail shown in the HTML report.
    """

    query_id: str
    ranked_doc_ids: list[str] = field(default_factory=list)
    answer_text: str = ""
    refused: bool = False
    cited_doc_ids: list[str] = field(default_factory=list)
    latency_ms: float = 0.0
    stage_ms: dict[str, float] = field(default_factory=dict)
    trace: dict[str, Any] = field(default_factory=dict)


# --------------------------------------------------------------------------- retrieval


def dedupe(ids: Iterable[str]) -> list[str]:
    """Return ``ids`` without repeats, keeping the first occurrence of each."""
    return list(dict.fromkeys(ids))


def _relevant(qrels: Mapping[str, int]) -> dict[str, int]:
    return {doc: grade for doc, grade in qrels.items() if grade > 0}


def _check_k(k: int) -> None:
    if k <= 0:
        raise ValueError(f"k must be positive, got {k}")


def ndcg_at_k(ranked_doc_ids: Sequence[str], qrels: Mapping[str, int], k: int) -> float:
    """nDCG@k with graded gains, as computed by trec_eval / pytrec_eval (BEIR).

    DCG = sum over the top k (after de-duplication) of ``grade / log2(rank + 1)``; the ideal DCG
    uses the k highest grades in ``qrels``. Returns 0.0 when the query has no relevant document.
    """
    _check_k(k)
    relevant = _relevant(qrels)
    ideal_grades = sorted(relevant.values(), reverse=True)[:k]
    idcg = sum(g / math.log2(i + 2) for i, g in enumerate(ideal_grades))
    if idcg == 0:
        return 0.0
    top = dedupe(ranked_doc_ids)[:k]
    dcg = sum(relevant.get(doc, 0) / math.log2(i + 2) for i, doc in enumerate(top))
    return dcg / idcg


def recall_at_k(ranked_doc_ids: Sequence[str], qrels: Mapping[str, int], k: int) -> float:
    """Relevant documents in the top k (after de-duplication) / number of relevant documents.

    Returns 0.0 when the query has no relevant document.
    """
    _check_k(k)
    relevant = _relevant(qrels)
    if not relevant:
        return 0.0
    hits = sum(1 for doc in dedupe(ranked_doc_ids)[:k] if doc in relevant)
    return hits / len(relevant)


def mrr_at_k(ranked_doc_ids: Sequence[str], qrels: Mapping[str, int], k: int) -> float:
    """Reciprocal rank of the first relevant document within the top k, else 0.0."""
    _check_k(k)
    relevant = _relevant(qrels)
    for rank, doc in enumerate(dedupe(ranked_doc_ids)[:k], start=1):
        if doc in relevant:
            return 1.0 / rank
    return 0.0


# --------------------------------------------------------------------------- answers


def _is_punct(ch: str) -> bool:
    return ch in _ASCII_PUNCT or unicodedata.category(ch).startswith("P")


def answer_tokens(text: str) -> list[str]:
    """Tokens used for answer F1: each CJK character is a token, each other word is a token.

    The text is NFKC-normalised (full width -> half width), lower-cased, punctuation (Chinese and
    English) is replaced by spaces, and the English articles a/an/the are dropped when they stand
    alone as a word (so "A股" keeps its "a").
    """
    text = unicodedata.normalize("NFKC", text).lower()
    text = "".join(" " if _is_punct(ch) else ch for ch in text)
    tokens: list[str] = []
    for word in text.split():
        if word in ARTICLES:
            continue
        tokens.extend(_TOKEN_RE.findall(word))
    return tokens


def normalize_answer(text: str) -> str:
    """Normalise an answer for matching: NFKC, lower case, no punctuation, no articles, no spaces.

    >>> normalize_answer("The  Eiffel Tower！")
    'eiffeltower'
    """
    return "".join(answer_tokens(text))


def contains(prediction: str, golds: Iterable[str]) -> bool:
    """True if any gold answer, normalised, is a substring of the normalised prediction.

    Golds that normalise to the empty string (e.g. only punctuation) never match.
    """
    pred = normalize_answer(prediction)
    return any(g and g in pred for g in (normalize_answer(gold) for gold in golds))


def _token_f1(pred: list[str], gold: list[str]) -> float:
    if not pred or not gold:
        return float(pred == gold)
    common = sum((Counter(pred) & Counter(gold)).values())
    if common == 0:
        return 0.0
    precision = common / len(pred)
    recall = common / len(gold)
    return 2 * precision * recall / (precision + recall)


def f1(prediction: str, golds: Iterable[str]) -> float:
    """Best token F1 of ``prediction`` over ``golds`` (SQuAD v2 / CMRC 2018 style).

    Tokens come from :func:`answer_tokens`: character level for CJK text, word level for English,
    mixed text splits CJK characters and keeps latin words / numbers whole. Golds that normalise
    to nothing are ignored; returns 0.0 if no usable gold remains.
    """
    pred = answer_tokens(prediction)
    gold_tokens = [t for t in (answer_tokens(g) for g in golds) if t]
    return max((_token_f1(pred, g) for g in gold_tokens), default=0.0)


# --------------------------------------------------------------------------- citations


def _relevant_set(relevant_ids: Collection[str] | Mapping[str, int]) -> set[str]:
    if isinstance(relevant_ids, Mapping):
        return set(_relevant(relevant_ids))
    return set(relevant_ids)


def citation_precision(
    cited_doc_ids: Sequence[str], relevant_ids: Collection[str] | Mapping[str, int]
) -> float | None:
    """Share of distinct cited documents that are relevant; None when nothing is cited.

    ``relevant_ids`` is a collection of ids or a qrels mapping (grades > 0 count as relevant).
    """
    cited = dedupe(cited_doc_ids)
    if not cited:
        return None
    relevant = _relevant_set(relevant_ids)
    return sum(1 for doc in cited if doc in relevant) / len(cited)


def citation_recall(
    cited_doc_ids: Sequence[str], relevant_ids: Collection[str] | Mapping[str, int]
) -> float | None:
    """Share of relevant documents that are cited; None when there is no relevant document."""
    relevant = _relevant_set(relevant_ids)
    if not relevant:
        return None
    return len(relevant.intersection(cited_doc_ids)) / len(relevant)


# --------------------------------------------------------------------------- refusal, latency


def refusal_rates(records: Iterable[tuple[bool, bool]]) -> tuple[float | None, float | None]:
    """Refusal behaviour from ``(is_impossible, refused)`` pairs, one per query.

    Returns ``(rate_on_impossible, false_refusal_rate)``: the share of unanswerable queries that
    were refused (higher is better) and the share of answerable queries that were refused (lower
    is better). Each is None when its denominator is zero.
    """
    impossible = refused_impossible = answerable = refused_answerable = 0
    for is_impossible, refused in records:
        if is_impossible:
            impossible += 1
            refused_impossible += bool(refused)
        else:
            answerable += 1
            refused_answerable += bool(refused)
    rate = refused_impossible / impossible if impossible else None
    false_rate = refused_answerable / answerable if answerable else None
    return rate, false_rate


def percentile(values: Iterable[float], p: float) -> float:
    """The ``p``-th percentile (0..100) with linear interpolation, like ``numpy.percentile``.

    Raises ``ValueError`` for an empty input or ``p`` outside [0, 100].
    """
    data = sorted(float(v) for v in values)
    if not data:
        raise ValueError("percentile of an empty sequence")
    if not 0 <= p <= 100:
        raise ValueError(f"percentile must be in [0, 100], got {p}")
    pos = (len(data) - 1) * p / 100
    low = math.floor(pos)
    high = min(low + 1, len(data) - 1)
    return data[low] + (data[high] - data[low]) * (pos - low)


# --------------------------------------------------------------------------- aggregation


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def _p50_p95(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"p50": None, "p95": None}
    return {"p50": percentile(values, 50), "p95": percentile(values, 95)}


def generates_answers(records: Sequence[QueryRecord]) -> bool:
    """True if the run produced answers at all (some non-empty answer or some refusal).

    A retrieval-only run yields neither, and its answer, citation and refusal metrics are null.
    """
    return any(r.answer_text.strip() or r.refused for r in records)


def aggregate(records: Sequence[QueryRecord], dataset: Dataset, mode: str) -> dict[str, Any]:
    """Summarise one run (one mode over one dataset) as a JSON-ready dict.

    Required shape (a metric that does not apply is None)::

        {"dataset", "mode", "queries",
         "retrieval": {"ndcg@10", "recall@5", "recall@20", "recall@100", "mrr@10"},
         "answer": {"contains", "f1"}, "citation": {"precision", "recall"},
         "refusal": {"rate_on_impossible", "false_refusal_rate"}, "latency_ms": {"p50", "p95"}}

    plus ``"stage_latency_ms": {stage: {"p50", "p95"}}``, ``"counts"`` (queries behind each
    metric group) and, when the dataset's questions have categories, ``"categories"`` (see
    :func:`category_figures`). Retrieval metrics average over queries with qrels (null if no query retrieved
    anything); answer metrics over answerable queries with gold answers (a refusal scores 0);
    citation precision over answered queries that cite something and have qrels; citation recall
    over answered queries with qrels; answer, citation and refusal metrics are null for a run that
    produced no answers (see :func:`generates_answers`). Raises ``ValueError`` for a record whose
    query id is not in ``dataset`` or for duplicate records.
    """
    queries = {q.id: q for q in dataset.queries}
    seen: set[str] = set()
    for r in records:
        if r.query_id not in queries:
            raise ValueError(f"record for unknown query id {r.query_id!r} in dataset {dataset.name}")
        if r.query_id in seen:
            raise ValueError(f"duplicate record for query id {r.query_id!r}")
        seen.add(r.query_id)

    judged = [r for r in records if dataset.qrels.get(r.query_id)]
    retrieval: dict[str, float | None] = dict.fromkeys(RETRIEVAL_KEYS)
    if judged and any(r.ranked_doc_ids for r in records):
        for key in RETRIEVAL_KEYS:
            name, k = key.split("@")
            fn = {"ndcg": ndcg_at_k, "recall": recall_at_k, "mrr": mrr_at_k}[name]
            retrieval[key] = _mean([fn(r.ranked_doc_ids, dataset.qrels[r.query_id], int(k)) for r in judged])

    answering = generates_answers(records)
    gradable = _gradable(records, queries)
    answer: dict[str, float | None] = {"contains": None, "f1": None}
    if answering and gradable:
        hits = [float(answer_contains_gold(r, queries[r.query_id])) for r in gradable]
        f1s = [0.0 if r.refused else f1(r.answer_text, queries[r.query_id].answers) for r in gradable]
        answer = {"contains": _mean(hits), "f1": _mean(f1s)}

    answered_judged = [r for r in judged if not r.refused] if answering else []
    precisions = [citation_precision(r.cited_doc_ids, dataset.qrels[r.query_id]) for r in answered_judged]
    recalls = [citation_recall(r.cited_doc_ids, dataset.qrels[r.query_id]) for r in answered_judged]
    precision_values = [p for p in precisions if p is not None]
    recall_values = [v for v in recalls if v is not None]

    rate, false_rate = (None, None)
    if answering:
        rate, false_rate = refusal_rates((queries[r.query_id].is_impossible, r.refused) for r in records)

    stages: dict[str, list[float]] = {}
    for r in records:
        for stage, ms in r.stage_ms.items():
            stages.setdefault(stage, []).append(float(ms))

    result: dict[str, Any] = {
        "dataset": dataset.name,
        "mode": mode,
        "queries": len(records),
        "retrieval": retrieval,
        "answer": answer,
        "citation": {"precision": _mean(precision_values), "recall": _mean(recall_values)},
        "refusal": {"rate_on_impossible": rate, "false_refusal_rate": false_rate},
        "latency_ms": _p50_p95([float(r.latency_ms) for r in records]),
        "stage_latency_ms": {stage: _p50_p95(values) for stage, values in stages.items()},
        "counts": {
            "retrieval": len(judged) if retrieval["ndcg@10"] is not None else 0,
            "answer": len(gradable) if answering else 0,
            "citation_precision": len(precision_values),
            "citation_recall": len(recall_values),
            "impossible": sum(1 for r in records if queries[r.query_id].is_impossible) if answering else 0,
        },
    }
    if dataset.categories:
        result["categories"] = category_figures(records, dataset, answering=answering)
    return result


def answer_contains_gold(record: QueryRecord, query: Query) -> bool:
    """The answer holds one of the query's gold answers (a refusal never does)."""
    return not record.refused and contains(record.answer_text, query.answers)


def _gradable(records: Sequence[QueryRecord], queries: Mapping[str, Query]) -> list[QueryRecord]:
    """Records of answerable queries with gold answers: the ones answer metrics average over."""
    return [r for r in records if queries[r.query_id].answers and not queries[r.query_id].is_impossible]


def category_figures(records: Sequence[QueryRecord], dataset: Dataset, *, answering: bool) -> dict[str, dict[str, Any]]:
    """The main figures of each category of questions, in the dataset's order of categories.

    ``{category: {"queries", "ndcg@10", "contains", "rate_on_impossible", "false_refusal_rate"}}``,
    each averaged over the category's queries it applies to, as in :func:`aggregate` (None when
    none does). Questions without a category count under ``"(none)"``.
    """
    queries = {q.id: q for q in dataset.queries}
    groups: dict[str, list[QueryRecord]] = {name: [] for name in dataset.categories}
    for r in records:
        groups.setdefault(queries[r.query_id].category or UNCATEGORISED, []).append(r)
    retrieving = any(r.ranked_doc_ids for r in records)
    figures: dict[str, dict[str, Any]] = {}
    for name, group in groups.items():
        if not group:
            continue
        judged = [r for r in group if dataset.qrels.get(r.query_id)]
        gradable = _gradable(group, queries)
        rate, false_rate = (None, None)
        if answering:
            rate, false_rate = refusal_rates((queries[r.query_id].is_impossible, r.refused) for r in group)
        figures[name] = {
            "queries": len(group),
            "ndcg@10": _mean([ndcg_at_k(r.ranked_doc_ids, dataset.qrels[r.query_id], 10) for r in judged])
            if retrieving else None,
            "contains": _mean([float(answer_contains_gold(r, queries[r.query_id])) for r in gradable])
            if answering else None,
            "rate_on_impossible": rate,
            "false_refusal_rate": false_rate,
        }
    return figures
