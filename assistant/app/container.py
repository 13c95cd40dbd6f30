"""The composition root: builds every object of one process from the settings and hands them down.

Building ``Services`` does nothing: each part is made the first time it is used (a model is loaded
when something first embeds or reranks). ``open()`` is the one step with effects: it takes the storage
lock, applies the database migrations and brings the keyword index in line with the catalog.
Nothing here is global; the server, the CLI, a worker and the eval harness each build their own.
"""

from __future__ import annotations

import logging
import shutil
import time
from datetime import datetime, timedelta, timezone
from functools import cached_property
from pathlib import Path

from sqlalchemy.engine import Engine

from assistant.answer.answerability import DEFAULT_MODEL, AnswerabilityModel
from assistant.answer.breaker import CircuitBreaker
from assistant.answer.chain import AnswerChain, Backend
from assistant.answer.citations import CitationChecker
from assistant.answer.extractive import ExtractiveAnswerer
from assistant.answer.llm import LLMAnswerer, LLMClient
from assistant.app.auth import Authenticator, session_secret
from assistant.app.metrics import Metrics
from assistant.app.routing import seed_from_settings
from assistant.app.settings import Settings
from assistant.embed.background import BackgroundEmbedder, LazyEmbedder
from assistant.embed.base import Embedder, make_embedder
from assistant.errors import ConfigError
from assistant.memory.conversation import ConversationMemory
from assistant.memory.rewrite import RuleRewriter
from assistant.pipeline import Pipeline
from assistant.retrieve.hybrid import HybridRetriever
from assistant.retrieve.rerank import PassThrough, Reranker, make_reranker
from assistant.rules import RuleBook
from assistant.storage.interfaces import (
    AuditLog,
    Catalog,
    Directory,
    DocumentLocks,
    Feedback,
    JobQueue,
    KeywordIndex,
    RuleStore,
    Sessions,
    StorageLock,
    VectorIndex,
    Visibility,
)
from assistant.storage.janitor import IndexJanitor
from assistant.storage.keyword_pg import PostgresKeywordIndex
from assistant.storage.keyword_tantivy import TantivyKeywordIndex
from assistant.storage.local import DataDirLock, SharedStorage
from assistant.storage.sql.audit import SqlAuditLog
from assistant.storage.sql.catalog import SqlCatalog
from assistant.storage.sql.conversations import SqlConversationStore
from assistant.storage.sql.directory import SqlDirectory
from assistant.storage.sql.engine import make_engine, migrate
from assistant.storage.sql.feedback import SqlFeedback
from assistant.storage.sql.jobs import SqlJobQueue
from assistant.storage.sql.locks import document_locks
from assistant.storage.sql.rules import SqlRuleStore
from assistant.storage.sql.sessions import SqlSessions
from assistant.storage.vector_chroma import ChromaVectorIndex, chroma_client
from assistant.storage.visibility import VisibilityGate
from assistant.text.dictionary import read_user_dictionary
from assistant.text.spelling import HomophoneCorrector
from assistant.text.tokenize import Tokenizer
from assistant.tools.audience import AudienceRules
from assistant.tools.stage import ToolStage
from connectors.gateway import MemoryRateLimiter, RateLimiter
from ingest.job import Ingestor

log = logging.getLogger(__name__)

STALE_UPLOAD_SECONDS = 3600  # an upload folder with no job behind it for this long was abandoned
# What a variant shares with the services it was made from: storage and the loaded models.
_SHARED = ("engine", "catalog", "jobs", "conversations", "directory", "audit", "sessions", "feedback", "auth", "limiter",
           "tokenizer", "keyword", "vector", "janitor", "gate", "document_locks", "embedder", "background_embedder", "reranker", "rule_store", "rule_book")


class Services:
    """Everything one process uses over one storage (a data directory, or shared engines)."""

    def __init__(self, settings: Settings):
        self.settings = settings

    @cached_property
    def metrics(self) -> Metrics:
        """Where every part of this process counts (a Prometheus registry of its own)."""
        return Metrics()

    # -- storage -------------------------------------------------------------------------------
    @cached_property
    def lock(self) -> StorageLock:
        storage = self.settings.storage
        return SharedStorage() if storage.shared else DataDirLock(storage.data_dir)

    @cached_property
    def gate(self) -> Visibility:
        return VisibilityGate()  # shared by every reader and writer of this process

    @cached_property
    def engine(self) -> Engine:
        return make_engine(self.settings.storage.url())

    @cached_property
    def catalog(self) -> Catalog:
        return SqlCatalog(self.engine)

    @cached_property
    def jobs(self) -> JobQueue:
        return SqlJobQueue(self.engine)

    @cached_property
    def conversations(self) -> SqlConversationStore:
        return SqlConversationStore(self.engine)

    @cached_property
    def directory(self) -> Directory:
        return SqlDirectory(self.engine)

    @cached_property
    def audit(self) -> AuditLog:
        return SqlAuditLog(self.engine)

    @cached_property
    def sessions(self) -> Sessions:
        return SqlSessions(self.engine)

    @cached_property
    def feedback(self) -> Feedback:
        return SqlFeedback(self.engine)

    @cached_property
    def rule_store(self) -> RuleStore:
        return SqlRuleStore(self.engine)

    @cached_property
    def rule_book(self) -> RuleBook:
        """The routing rules, reloaded whenever any process changed them."""
        return RuleBook(self.rule_store)

    @cached_property
    def auth(self) -> Authenticator:
        a, storage = self.settings.auth, self.settings.storage
        secret = session_secret(a.session_secret.get_secret_value() if a.session_secret else None,
                                storage.data_dir, storage.shared)
        return Authenticator(self.directory, secret, session_hours=a.session_hours,
                             im_default_role="customer" if self.settings.audience.default == "customer" else "agent",
                             im_groups=dict(self.settings.audience.groups))

    @cached_property
    def tokenizer(self) -> Tokenizer:
        path = self.settings.retrieval.user_dictionary
        tokenizer = Tokenizer(read_user_dictionary(path) if path else ())
        tokenizer.follow(self.catalog)  # every document's tags, also those added by other processes
        return tokenizer

    @cached_property
    def keyword(self) -> KeywordIndex:
        storage, bigrams = self.settings.storage, self.settings.retrieval.keyword_bigrams
        if storage.keyword_engine == "postgres":  # one index every replica shares, next to the catalog
            return PostgresKeywordIndex(self.engine, self.tokenizer, bigrams=bigrams)
        return TantivyKeywordIndex(storage.keyword_dir, self.tokenizer, bigrams=bigrams)

    @cached_property
    def vector(self) -> VectorIndex:
        storage = self.settings.storage
        return ChromaVectorIndex(chroma_client(path=storage.chroma_dir, url=storage.chroma_url))

    @cached_property
    def janitor(self) -> IndexJanitor:
        return IndexJanitor(self.catalog, self.keyword, self.vector, self.gate,
                            retire_grace_seconds=self.retire_grace_seconds)

    @cached_property
    def document_locks(self) -> DocumentLocks:
        return document_locks(self.engine)  # PostgreSQL advisory locks reach every worker process

    @property
    def retire_grace_seconds(self) -> float:
        """0 when this process owns the storage (purge at the switch, under the gate), else the grace."""
        return self.settings.ingestion.retire_grace_seconds if self.settings.storage.shared else 0.0

    def open(self, *, url: str | None = None) -> "Services":
        """Take the storage (raises ``DataDirLocked`` naming the owner), migrate, turn the settings that
        became rules into rules (once), and prepare the indexes."""
        self.lock.acquire(url=url)
        try:
            migrate(self.engine)
            seed_from_settings(self.settings, self.rule_store, self.directory)
            if self.keyword.needs_rebuild():
                # Tokenization settings changed since this index was built: rebuild it from the catalog.
                count = self.keyword.rebuild(self.catalog.iter_chunks())
                log.info("keyword index rebuilt from the catalog: %d chunks", count)
        except BaseException:
            self.lock.release()
            raise
        return self

    def sweep(self) -> int:
        """Purge index leftovers of writers that stopped: those the catalog's ledger lists, and every
        entry the catalog does not know when this process owns the storage alone and its last owner died
        holding it. Also drops abandoned upload folders."""
        if self.lock.exclusive and self.lock.needs_full_sweep:
            log.info("the last owner of %s did not close it: comparing every index entry with the catalog",
                     self.settings.storage.data_dir)
            removed = self.janitor.sweep_orphans()
            self.lock.needs_full_sweep = False
        else:
            removed = self.janitor.sweep_leftovers()
        self._drop_abandoned_uploads()
        self.purge_audit()
        return removed

    def purge_audit(self) -> int:
        """Drop audit rows older than the retention period (``auth.audit_retention_days``)."""
        days = self.settings.auth.audit_retention_days
        purged = self.audit.purge(datetime.now(timezone.utc) - timedelta(days=days))
        if purged:
            log.info("audit log: %d rows older than %d days removed", purged, days)
        return purged

    def _drop_abandoned_uploads(self) -> None:
        root = self.settings.storage.uploads_dir
        if not root.is_dir():
            return
        active = self.jobs.active_ids()
        now = time.time()
        for folder in root.iterdir():
            if folder.name in active:
                continue
            if self.jobs.get(folder.name) is None and now - folder.stat().st_mtime < STALE_UPLOAD_SECONDS:
                continue  # being written by an upload whose job is not recorded yet
            shutil.rmtree(folder, ignore_errors=True)

    def close(self) -> None:
        if "engine" in self.__dict__:
            self.engine.dispose()
        self.lock.release()

    def variant(self, **groups: dict) -> "Services":
        """The same opened storage and loaded models with other answering, tool or retrieval settings:
        ``variant(erp={"base_url": url})``. For the eval harness and tests; closing it closes nothing."""
        other = Services(self.settings.with_updates(**groups))
        for name in _SHARED:
            other.__dict__[name] = getattr(self, name)
        other.__dict__["lock"] = SharedStorage()  # the original holds the storage
        return other

    def __enter__(self) -> "Services":
        return self.open()

    def __exit__(self, *exc) -> None:
        self.close()

    # -- models ---------------------------------------------------------------------------------
    @cached_property
    def embedder(self) -> Embedder:
        return make_embedder(self.settings.models.embedder)

    @cached_property
    def reranker(self) -> Reranker:
        return make_reranker(self.settings.models.reranker)

    # -- answering ------------------------------------------------------------------------------
    def retriever(self, mode: str = "hybrid") -> HybridRetriever:
        r = self.settings.retrieval
        return HybridRetriever(
            self.catalog, self.keyword, self.vector, self.embedder, mode=mode,
            bm25_candidates=r.bm25_candidates, vector_candidates=r.vector_candidates, rrf_k=r.rrf_k,
            bm25_weight=r.bm25_weight, vector_weight=r.vector_weight, fusion=r.fusion,
            per_document=r.per_document_cap, gate=self.gate,
        )

    def answerer(self) -> ExtractiveAnswerer:
        a = self.settings.answering
        return ExtractiveAnswerer(
            self.keyword.idf, self.tokenizer, max_sentences=a.max_sentences, max_sources=a.max_sources,
            min_similarity=a.min_vector_similarity, min_coverage=a.min_term_coverage,
            faq_threshold=a.faq_match_threshold, embedder=self.embedder,
            answerability=self.answerability, doc_freq=self.keyword.doc_freq, indexed=self.keyword.count,
        )

    @cached_property
    def answerability(self) -> AnswerabilityModel | None:
        a = self.settings.answering
        if a.judge == "floors":
            return None
        path = a.answerability_model or DEFAULT_MODEL
        try:
            model = AnswerabilityModel.load(path)
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ConfigError(
                f"answerability model {path} cannot be read ({exc.__class__.__name__}); make one with "
                "`assistant eval train-answerability` or set ASSISTANT_ANSWERING__JUDGE=floors"
            ) from None
        for language, override in (("zh", a.refusal_threshold_zh), ("en", a.refusal_threshold_en)):
            if override is not None:
                model.thresholds[language] = override
        return model

    @cached_property
    def answer_chain(self) -> AnswerChain:
        """The configured LLM backends in order, each behind its breaker, then extractive."""
        return AnswerChain(self.answerer(), self._llm_backends(), telemetry=self.metrics)

    def _llm_backends(self) -> list[Backend]:
        llm = self.settings.llm
        checker = CitationChecker(min_support=self.settings.answering.citation_min_support)
        names = ("primary", "secondary")
        backends = []
        for i, b in enumerate(llm.backends):
            name = b.name or (names[i] if i < len(names) else f"backend-{i + 1}")
            client = LLMClient(b.base_url, b.model, b.api_key, timeout=b.timeout, name=name, max_tokens=b.max_tokens,
                               telemetry=self.metrics)
            breaker = CircuitBreaker(
                name, slow_seconds=llm.breaker.slow_seconds, error_rate=llm.breaker.error_rate,
                window_seconds=llm.breaker.window_seconds, min_calls=llm.breaker.min_calls,
                cooldown_seconds=llm.breaker.cooldown_seconds,
            )
            backends.append(Backend(LLMAnswerer(client, checker, stream=b.stream), breaker))
        return backends

    @cached_property
    def tool_stage(self) -> ToolStage | None:
        """ERP order tools when an ERP is configured: function calling picks them when an LLM is
        configured and tool routing is on, rules otherwise."""
        from assistant.erp.client import ERPClient
        from assistant.tools.base import ToolRegistry
        from assistant.tools.orders import ListOrdersTool, OrderLookupTool
        from assistant.tools.verification import OrderVerifier
        from assistant.tools.routing import (
            FunctionCallingRouter,
            RuleRouter,
            might_need_orders,
        )

        erp = self.settings.erp
        if not erp.base_url:
            return None
        client = ERPClient(erp.base_url, erp.token, timeout=erp.timeout, retries=erp.retries, telemetry=self.metrics)
        registry = ToolRegistry([OrderLookupTool(client), ListOrdersTool(client)])
        rules = RuleRouter(registry)
        router = rules
        chain = self.answer_chain
        if chain.has_llm and self.settings.llm.tool_routing:
            router = FunctionCallingRouter(registry, chain.complete, rules, worth_asking=might_need_orders)
        a = self.settings.audience
        auth = self.settings.auth
        verifier = OrderVerifier(client, self.directory, self.limiter, attempts_per_hour=auth.verify_attempts_per_hour,
                                 minutes=auth.verified_minutes)
        return ToolStage(registry, router, AudienceRules(groups=a.groups, roles=a.roles, default=a.default),
                         verifier=verifier)

    @cached_property
    def limiter(self) -> RateLimiter:
        """Sliding-window limits (questions, sign-ins, order proofs): in this process, or in Redis
        when the gateway has one, so that replicas count together."""
        url = self.settings.connectors.gateway.redis_url
        if url:
            from connectors.redis_store import RedisRateLimiter, redis_client

            return RedisRateLimiter(redis_client(url))
        return MemoryRateLimiter()

    @cached_property
    def memory(self) -> ConversationMemory:
        """Conversation memory in the catalog's database, with the rule-based rewriter."""
        rewriter = RuleRewriter(self.keyword.idf, self.tokenizer)
        return ConversationMemory(self.conversations, rewriter, self.embedder.embed_query)

    def pipeline(self, mode: str = "hybrid", *, rerank: bool = True) -> Pipeline:
        r = self.settings.retrieval
        return Pipeline(
            self.catalog, self.retriever(mode), self.reranker if rerank else PassThrough(), self.answer_chain,
            tools=self.tool_stage, memory=self.memory, spelling=self.spelling, rules=self.rule_book, top_k=r.top_k,
            rerank_depth=r.rerank_depth, rerank_budget_ms=r.rerank_budget_ms, trace_depth=r.trace_depth,
        )

    @cached_property
    def spelling(self) -> HomophoneCorrector | None:
        """Homophone typos corrected toward the knowledge base's words (it needs the character pairs)."""
        if not self.settings.retrieval.keyword_bigrams or not self.settings.retrieval.correct_typos:
            return None
        return HomophoneCorrector(self.keyword.doc_freq, self.tokenizer.cut, cache_dir=self.settings.storage.cache_dir)

    @cached_property
    def default_pipeline(self) -> Pipeline:
        return self.pipeline()

    # -- ingestion ------------------------------------------------------------------------------
    @cached_property
    def background_embedder(self) -> Embedder:
        """The ingestion worker's: a model session of its own on one core, at a lower CPU priority, so a
        question's embedding never waits behind an upload's batches (``assistant/embed/background.py``)."""
        spec = self.settings.models.embedder
        if spec != "use":
            return BackgroundEmbedder(self.embedder)
        from assistant.embed.use import USEEmbedder

        return BackgroundEmbedder(LazyEmbedder(lambda: make_embedder(spec, threads=1), name=USEEmbedder.name,
                                               dim=USEEmbedder.dim))

    def ingestor(self, *, with_vectors: bool = True, background: bool = False) -> Ingestor:
        """``background``: for workers that ingest while questions are answered (see ``background_embedder``)."""
        i = self.settings.ingestion
        return Ingestor(
            self.catalog, self.keyword, self.vector, self.background_embedder if background else self.embedder,
            self.tokenizer, self.gate,
            chunk_size=i.chunk_size, chunk_overlap=i.chunk_overlap, max_bytes=i.max_upload_mb * 1024 * 1024,
            max_document_chars=i.max_document_chars, max_document_chunks=i.max_document_chunks,
            with_vectors=with_vectors, locks=self.document_locks, retire_grace_seconds=self.retire_grace_seconds,
        )

    def upload_folder(self, job_id: str) -> Path:
        return self.settings.storage.uploads_dir / job_id
