"""Runs a dataset through the real pipeline: ingest the corpus into an isolated KB, ask every query.

One ingestion serves every mode of an ablation (``--mode all``). Each corpus entry becomes one
document (its title as the heading path, its text chunked like any document), so every chunk maps
back to its corpus id and retrieval is scored at document level. Besides the metrics, each mode keeps
one :class:`~eval.runfile.QuestionRow` per question: what it retrieved, answered, cited and why it refused.
"""

from __future__ import annotations

import json
import tempfile
import time
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from assistant.domain import Answer, DocumentMeta
from assistant.pipeline import Pipeline
from assistant.storage.interfaces import Catalog
from eval.dataset import Dataset, Query, load_dataset
from eval.metrics import QueryRecord, aggregate, answer_contains_gold, ndcg_at_k
from eval.runfile import ROW_DEPTH, CitedSource, QuestionRow, RunFile, RunMeta, ToolUse
from ingest.job import Ingestor
from ingest.loaders.base import Block, LoadedDocument

MODES = ("bm25", "vector", "hybrid", "hybrid+rerank")
EVAL_KB = "eval"
RANK_DEPTH = 100  # recall@100 needs 100 ranked candidates
INGEST_BATCH = 500

Progress = Callable[[str, int, int], None]  # (phase, done, total)


@dataclass
class ModeRun:
    result: dict
    records: list[QueryRecord]
    rows: list[QuestionRow]


def expand_modes(mode: str) -> list[str]:
    if mode == "all":
        return list(MODES)
    if mode not in MODES:
        raise ValueError(f"unknown mode {mode!r}; choose one of {', '.join(MODES)} or all")
    return [mode]


class Workspace(Protocol):
    """A private, opened store with the assistant's pipeline over it (the app's ``Services``)."""

    catalog: Catalog

    def ingestor(self, *, with_vectors: bool = True) -> Ingestor: ...

    def pipeline(self, mode: str = "hybrid", *, rerank: bool = True) -> Pipeline: ...


# Opens a workspace for a dataset in a data directory, retrieving at least ``rank_depth`` candidates
# per stage (the dataset says what else the workspace needs, e.g. an ERP for questions about orders).
OpenWorkspace = Callable[[Path, int, Dataset], AbstractContextManager[Workspace]]


def ingest_corpus(
    workspace: Workspace, dataset: Dataset, progress: Progress | None = None, *, with_vectors: bool = True
) -> None:
    ingestor = workspace.ingestor(with_vectors=with_vectors)  # a BM25-only run need not embed the corpus
    workspace.catalog.create_kb(EVAL_KB, f"eval corpus {dataset.name}")
    if dataset.documents is not None:
        ingest_files(ingestor, dataset.documents, progress)
        return
    items = []
    for doc in dataset.corpus:
        headings = [doc.title] if doc.title.strip() else []
        loaded = LoadedDocument(title=doc.title or doc.id, blocks=[Block("text", doc.text, headings)])
        items.append((loaded, DocumentMeta(id=doc.id, title=doc.title or doc.id), doc.id))
    total = len(items)
    for start in range(0, total, INGEST_BATCH):
        ingestor.ingest_batch(items[start : start + INGEST_BATCH], EVAL_KB)
        if progress:
            progress("ingest", min(start + INGEST_BATCH, total), total)


def ingest_files(ingestor: Ingestor, manifest: Path, progress: Progress | None = None) -> None:
    """The knowledge base as a knowledge manager would upload it: every file of the manifest, with its
    metadata, into the eval knowledge base (document ids are the manifest's, as in the corpus)."""
    entries = json.loads(manifest.read_text(encoding="utf-8"))
    for done, entry in enumerate(entries, start=1):
        result = ingestor.ingest_file(manifest.parent / entry["path"], EVAL_KB, DocumentMeta.model_validate(entry))
        if result.status == "failed":
            raise RuntimeError(f"eval knowledge base: {result.error}")
        if progress:
            progress("ingest", done, len(entries))


def ranked_doc_ids(answer: Answer) -> list[str]:
    """Document ranking of a run: the reranked head (if any), then the fused tail, deduplicated."""
    stages = answer.trace.stages
    # "fused" holds every candidate in every mode (one list when only bm25 or vector ran).
    order = [h.doc_id for h in stages.get("reranked", [])] + [h.doc_id for h in stages.get("fused", [])]
    return list(dict.fromkeys(order))


def record_of(query_id: str, answer: Answer, elapsed_ms: float) -> QueryRecord:
    return QueryRecord(
        query_id=query_id,
        ranked_doc_ids=ranked_doc_ids(answer),
        answer_text="" if answer.refused else answer.answer,
        refused=answer.refused,
        cited_doc_ids=list(dict.fromkeys(c.doc_id for c in answer.citations)),
        latency_ms=elapsed_ms,
        stage_ms=dict(answer.trace.timings_ms),
        trace={
            "question": answer.question,
            "answer": answer.answer,
            "evidence": answer.trace.evidence.model_dump() if answer.trace.evidence else None,
            "refusal": answer.trace.refusal,
            "notes": answer.trace.notes,
            "top": [f"{h.doc_id} ({h.score:.3f})" for h in (answer.trace.stages.get("reranked") or answer.trace.stages.get("fused") or [])[:5]],
        },
    )


def question_row(query: Query, record: QueryRecord, answer: Answer, qrels: dict[str, int]) -> QuestionRow:
    """The run file's row of one question, with the judgements the metrics made of it."""
    trace = answer.trace
    gradable = bool(query.answers) and not query.is_impossible
    return QuestionRow(
        id=query.id,
        text=query.text,
        category=query.category,
        conversation=query.conversation,
        is_impossible=query.is_impossible,
        gold_answers=query.answers,
        relevant=list(qrels),
        retrieved=record.ranked_doc_ids[:ROW_DEPTH],
        rewritten=trace.rewritten,
        answer=answer.answer,
        refused=answer.refused,
        refusal=trace.refusal,
        evidence=trace.evidence.model_dump(mode="json") if trace.evidence else None,
        cited=record.cited_doc_ids,
        citations=[CitedSource(n=c.n, doc_id=c.doc_id, section=c.section, page=c.page, quote=c.quote)
                   for c in answer.citations],
        tool_calls=[ToolUse(name=c.name, arguments=c.arguments, error=c.error) for c in trace.tool_calls],
        timings_ms=record.stage_ms,
        latency_ms=record.latency_ms,
        contains=answer_contains_gold(record, query) if gradable else None,
        ndcg_at_10=ndcg_at_k(record.ranked_doc_ids, qrels, 10) if qrels else None,
    )


def run(
    dataset: Dataset | Path | str,
    open_workspace: OpenWorkspace,
    *,
    mode: str = "hybrid+rerank",
    limit: int | None = None,
    data_dir: Path | None = None,
    progress: Progress | None = None,
) -> list[ModeRun]:
    """Evaluate one dataset (a loaded one, or its folder) in one or all modes; one ``ModeRun`` per mode.

    ``limit`` applies to a folder only: a loaded dataset is run as it is.
    """
    modes = expand_modes(mode)
    if not isinstance(dataset, Dataset):
        dataset = load_dataset(dataset, limit=limit)
    with tempfile.TemporaryDirectory(prefix="assistant-eval-") as tmp:
        with open_workspace(Path(data_dir or tmp), RANK_DEPTH, dataset) as workspace:
            if workspace.catalog.count_chunks([EVAL_KB]) == 0:
                ingest_corpus(workspace, dataset, progress, with_vectors=modes != ["bm25"])
            return [_run_mode(workspace, dataset, m, progress) for m in modes]


def _run_mode(workspace: Workspace, dataset: Dataset, mode: str, progress: Progress | None) -> ModeRun:
    retrieval_mode, _, rerank = mode.partition("+")
    pipeline = workspace.pipeline(retrieval_mode, rerank=bool(rerank))
    pipeline.trace_depth = RANK_DEPTH
    records: list[QueryRecord] = []
    rows: list[QuestionRow] = []
    standalone: dict[str, list[str]] = {}
    total = len(dataset.queries)
    for i, query in enumerate(dataset.queries, start=1):
        context = {}
        if query.conversation:
            # Replay the earlier turns into a conversation of its own, then ask the follow-up in it.
            context["conversation_id"] = f"eval:{mode}:{query.id}"
            for turn in query.conversation:
                pipeline.ask(turn, kb_ids=[EVAL_KB], **context)
        t0 = time.perf_counter()
        answer = pipeline.ask(query.text, kb_ids=[EVAL_KB], **context)
        record = record_of(query.id, answer, (time.perf_counter() - t0) * 1000)
        records.append(record)
        rows.append(question_row(query, record, answer, dataset.qrels.get(query.id, {})))
        if query.standalone:
            standalone[query.id] = ranked_doc_ids(pipeline.ask(query.standalone, kb_ids=[EVAL_KB]))
        if progress and (i % 10 == 0 or i == total):
            progress(mode, i, total)
    result = aggregate(records, dataset, mode)
    if standalone:
        result["conversation"] = conversation_scores(records, standalone, dataset)
    return ModeRun(result=result, records=records, rows=rows)


def conversation_scores(records: list[QueryRecord], standalone: dict[str, list[str]], dataset: Dataset) -> dict:
    """Follow-ups (asked in their conversation) against the same questions written out in full."""
    from eval.metrics import ndcg_at_k, recall_at_k

    pairs = [(r, standalone[r.query_id]) for r in records if r.query_id in standalone and dataset.qrels.get(r.query_id)]
    if not pairs:
        return {}

    def mean(values: list[float]) -> float:
        return sum(values) / len(values)

    qrels = dataset.qrels
    return {
        "queries": len(pairs),
        "followup_recall@5": mean([recall_at_k(r.ranked_doc_ids, qrels[r.query_id], 5) for r, _ in pairs]),
        "standalone_recall@5": mean([recall_at_k(s, qrels[r.query_id], 5) for r, s in pairs]),
        "followup_ndcg@10": mean([ndcg_at_k(r.ranked_doc_ids, qrels[r.query_id], 10) for r, _ in pairs]),
        "standalone_ndcg@10": mean([ndcg_at_k(s, qrels[r.query_id], 10) for r, s in pairs]),
    }


def to_run_file(runs: Sequence[ModeRun], meta: RunMeta | None = None) -> RunFile:
    """The run file of some modes of one run: their results, their question rows, the run's metadata."""
    return RunFile(meta=meta, results=[r.result for r in runs], rows={r.result["mode"]: r.rows for r in runs})


def run_many(dataset_dirs: Sequence[Path], **kwargs) -> dict[str, list[ModeRun]]:
    return {str(d): run(d, **kwargs) for d in dataset_dirs}
