"""The composition root of the core: builds every object from the settings and hands them down.

Nothing here is global; the API app, the CLI and the eval harness each build their own.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from functools import cached_property

from assistant.answer.chain import AnswerChain, backends_from_settings
from assistant.answer.extractive import ExtractiveAnswerer
from assistant.config import Settings
from assistant.embed.base import Embedder, make_embedder
from assistant.index.keyword import KeywordIndex
from assistant.index.visibility import VisibilityGate
from assistant.index.vector import VectorIndex
from assistant.pipeline import Pipeline
from assistant.retrieve.hybrid import HybridRetriever
from assistant.retrieve.rerank import Reranker, make_reranker
from assistant.store.catalog import Catalog
from assistant.store.lock import DataDirLock
from assistant.tools.stage import ToolStage, tool_stage_from_settings

# Chroma and Hugging Face must never reach out: no telemetry, no hub downloads.
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


@dataclass
class Services:
    """Everything that touches one data directory, opened once and owned by one process."""

    settings: Settings
    lock: DataDirLock = field(init=False)

    def __post_init__(self) -> None:
        self.settings.data_dir.mkdir(parents=True, exist_ok=True)
        self.lock = DataDirLock(self.settings.data_dir)
        self.gate = VisibilityGate()  # shared by every reader and the ingestion job of this directory

    @cached_property
    def catalog(self) -> Catalog:
        catalog = Catalog(self.settings.db_url)
        from assistant.text.dictionary import load_domain_terms

        load_domain_terms(catalog.all_tags(), self.settings.user_dictionary)
        return catalog

    @cached_property
    def keyword(self) -> KeywordIndex:
        index = KeywordIndex(self.settings.keyword_dir, bigrams=self.settings.keyword_bigrams)
        if index.analysis_changed():
            # Tokenization settings changed since this index was built: rebuild it from the catalog.
            index.rebuild(c for kb in self.catalog.list_kbs() for c in self.catalog.chunks_of_kb(kb["name"]))
        index.mark_analysis()
        return index

    @cached_property
    def vector(self) -> VectorIndex:
        return VectorIndex(self.settings.chroma_dir)

    @cached_property
    def embedder(self) -> Embedder:
        return make_embedder(self.settings.embedder)

    @cached_property
    def reranker(self) -> Reranker:
        return make_reranker(self.settings.reranker)

    def retriever(self, mode: str = "hybrid") -> HybridRetriever:
        s = self.settings
        return HybridRetriever(
            self.catalog,
            self.keyword,
            self.vector,
            self.embedder,
            mode=mode,
            bm25_candidates=s.bm25_candidates,
            vector_candidates=s.vector_candidates,
            rrf_k=s.rrf_k,
            bm25_weight=s.bm25_weight,
            vector_weight=s.vector_weight,
            gate=self.gate,
        )

    def answerer(self) -> ExtractiveAnswerer:
        s = self.settings
        return ExtractiveAnswerer(
            self.keyword.idf,
            max_sentences=s.max_answer_sentences,
            max_sources=s.max_sources,
            min_similarity=s.min_vector_similarity,
            min_coverage=s.min_term_coverage,
            faq_threshold=s.faq_match_threshold,
        )

    @cached_property
    def answer_chain(self) -> AnswerChain:
        """Primary LLM -> secondary LLM -> extractive; only extractive when no LLM is configured."""
        return AnswerChain(self.answerer(), backends_from_settings(self.settings))

    @cached_property
    def tool_stage(self) -> ToolStage | None:
        """ERP order tools (function calling picks them when an LLM is configured, rules otherwise)."""
        chain = self.answer_chain
        return tool_stage_from_settings(self.settings, chain.complete if chain.has_llm else None)

    def pipeline(self, mode: str = "hybrid", *, rerank: bool = True) -> Pipeline:
        from assistant.retrieve.rerank import PassThrough

        return Pipeline(
            self.catalog,
            self.retriever(mode),
            self.reranker if rerank else PassThrough(),
            self.answer_chain,
            tools=self.tool_stage,
            memory=self.memory,
            top_k=self.settings.top_k,
            rerank_depth=self.settings.rerank_depth,
        )

    @cached_property
    def memory(self):
        """Conversation memory in the catalog's database, with the rule-based rewriter."""
        from assistant.memory.conversation import ConversationMemory
        from assistant.memory.rewrite import RuleRewriter
        from assistant.memory.store import SqlConversationStore

        store = SqlConversationStore(self.catalog.engine)
        return ConversationMemory(store, RuleRewriter(self.keyword.idf), self.embedder.embed_query)

    @cached_property
    def default_pipeline(self) -> Pipeline:
        return self.pipeline()

    def close(self) -> None:
        self.lock.release()


def make_ingestor(services: Services):
    """The ingestion job bound to this data directory (composition root: the core does not import ingest)."""
    from ingest.job import Ingestor

    s = services.settings
    return Ingestor(
        services.catalog,
        services.keyword,
        services.vector,
        services.embedder,
        chunk_size=s.chunk_size,
        chunk_overlap=s.chunk_overlap,
        max_bytes=s.max_upload_mb * 1024 * 1024,
        gate=services.gate,
    )
