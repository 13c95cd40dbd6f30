"""The one home of configuration: environment variables prefixed ``ASSISTANT_`` (or a ``.env``)."""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="ASSISTANT_", env_file=".env", extra="ignore", env_nested_delimiter="__"
    )

    data_dir: Path = Field(Path(".assistant"), description="Holds every index and store; never shared.")

    # Models. "use" is the multilingual Universal Sentence Encoder shipped in a PyPI package;
    # anything else is a sentence-transformers model directory (or a name the user can load).
    embedder: str = "use"
    reranker: str = "ms-marco-en"  # "none" disables the cross-encoder stage

    # Retrieval.
    user_dictionary: Path | None = None  # extra domain terms for the segmenter, one per line
    keyword_bigrams: bool = True  # also index Chinese character pairs (measured: helps 3 of 4 Chinese sets)
    bm25_candidates: int = 50
    vector_candidates: int = 50
    rrf_k: int = 60
    bm25_weight: float = 1.0
    vector_weight: float = 1.0
    rerank_depth: int = 20
    top_k: int = 5

    # Answering.
    max_answer_sentences: int = 3
    max_sources: int = 3
    faq_match_threshold: float = 0.6  # bigram similarity to an FAQ question that answers with the FAQ
    # Evidence below both floors is refused: best cosine similarity of a passage to the question,
    # and the weighted share of the question's content terms found in the best passages.
    min_vector_similarity: float = 0.45
    min_term_coverage: float = 0.5

    # LLM answering (optional): any OpenAI-compatible endpoint, base URL including /v1. Unset: extractive
    # answers only. The chain is primary -> secondary (if set) -> extractive, a circuit breaker per model.
    llm_base_url: str | None = None  # e.g. http://127.0.0.1:8080/v1 (llama.cpp, vLLM, Ollama, hosted)
    llm_model: str = "qwen2.5"
    llm_api_key: SecretStr | None = None
    llm_timeout: float = 30.0  # seconds for one completion
    llm_stream: bool = True
    llm_max_tokens: int = 512
    llm_secondary_base_url: str | None = None
    llm_secondary_model: str | None = None  # default: llm_model
    llm_secondary_api_key: SecretStr | None = None
    llm_tool_routing: bool = True  # with an LLM, function calling picks the tools; else the rules do
    citation_min_support: float = 0.4  # share of a sentence's units its cited source must hold
    breaker_slow_seconds: float = 8.0  # one call slower than this opens the breaker
    breaker_error_rate: float = 0.05  # errors over the window above this rate open it
    breaker_window_seconds: float = 60.0
    breaker_min_calls: int = 1
    breaker_cooldown_seconds: float = 30.0  # then one probe call decides

    # Tools: the ERP order API (`assistant erp-demo` serves a demo one) and who sees what.
    erp_base_url: str | None = "http://127.0.0.1:8100"  # unset: no order tools
    erp_token: SecretStr | None = SecretStr("demo-erp-token")  # the demo's; set your own for a real ERP
    erp_timeout: float = 3.0  # seconds per attempt
    erp_retries: int = 2  # extra attempts on 5xx, timeouts and dropped connections
    erp_demo_host: str = "127.0.0.1"
    erp_demo_port: int = 8100
    erp_seed: Path = Path(__file__).resolve().parents[1] / "data" / "erp" / "orders.json"
    # Audience per group ("platform:chat_id" or "chat_id") or per role; customers get personal data
    # masked and cannot list other customers' orders. Unmatched IM callers get `audience_default`.
    audience_groups: dict[str, Literal["staff", "customer"]] = Field(default_factory=dict)
    audience_roles: dict[str, Literal["staff", "customer"]] = Field(
        default_factory=lambda: {"staff": "staff", "customer": "customer"}
    )
    audience_default: Literal["staff", "customer"] = "customer"

    # Ingestion.
    chunk_size: int = 400  # characters
    chunk_overlap: int = 60
    max_upload_mb: int = 50

    # Server.
    host: str = "127.0.0.1"
    port: int = 8000

    # IM connectors and the message gateway (connectors/): bots per platform, group policy, limits.
    connectors: ConnectorSettings = Field(default_factory=lambda: ConnectorSettings())

    @cached_property
    def db_url(self) -> str:
        return f"sqlite:///{(self.data_dir / 'assistant.db').resolve()}"

    @property
    def chroma_dir(self) -> Path:
        return self.data_dir / "chroma"

    @property
    def keyword_dir(self) -> Path:
        return self.data_dir / "keyword"


# ---------------------------------------------------------------- IM connectors (connectors/)
# Bots come from env (ASSISTANT_CONNECTORS__FEISHU='[{"name": "support", "app_id": ...}]') or from
# a JSON / YAML file (ASSISTANT_CONNECTORS__FILE) holding the same keys. Secrets are SecretStr: they
# never appear in logs, errors or reprs.

from pydantic import BaseModel, model_validator  # noqa: E402


class GroupRule(BaseModel):
    """Overrides for one group chat, keyed by the platform's chat id."""

    enabled: bool = True
    require_mention: bool | None = None  # None: the gateway default
    kb: list[str] | None = None  # knowledge bases this group searches


class GatewaySettings(BaseModel):
    workers: int = Field(4, ge=1, description="Threads answering messages in the background.")
    queue_size: int = Field(1000, ge=1, description="Messages waiting at most; beyond, new ones are refused politely.")
    dedupe_ttl_s: float = Field(86400.0, description="How long a platform message id is remembered (retries span ~7 h).")
    dedupe_max_entries: int = 200_000
    require_mention: bool = True  # in groups, answer only when @-mentioned
    groups: dict[str, GroupRule] = Field(default_factory=dict)
    user_rate: int = Field(10, ge=1, description="Questions per user per rate_window_s.")
    group_rate: int = Field(30, ge=1, description="Questions per group per rate_window_s.")
    rate_window_s: float = 60.0
    kb: list[str] | None = None  # default knowledge bases for IM questions (None: all)
    redis_url: str | None = None  # e.g. redis://127.0.0.1:6379/0: dedupe and rate limits shared by replicas


class DingTalkBot(BaseModel):
    name: str = "default"
    app_key: str  # also the Stream mode clientId
    app_secret: SecretStr
    robot_code: str = ""  # defaults to app_key
    mode: Literal["http", "stream"] = "http"
    api_base: str = "https://api.dingtalk.com"  # OpenAPI and the Stream gateway
    webhook_hosts: list[str] = Field(default_factory=lambda: ["oapi.dingtalk.com", "api.dingtalk.com"])
    max_clock_skew_s: int = 3600


class FeishuBot(BaseModel):
    name: str = "default"
    app_id: str
    app_secret: SecretStr
    encrypt_key: SecretStr | None = None
    verification_token: SecretStr | None = None
    mode: Literal["http", "websocket"] = "http"
    api_base: str = "https://open.feishu.cn"
    max_clock_skew_s: int = 3600
    card_over_chars: int = 600  # longer answers (or ones with links) go out as a card
    bot_open_id: str = ""  # when set, a group message counts as addressed to the bot only if it @-mentions this id


class WeComAppBot(BaseModel):
    name: str = "default"
    corp_id: str
    corp_secret: SecretStr
    agent_id: int
    token: SecretStr
    encoding_aes_key: SecretStr
    api_base: str = "https://qyapi.weixin.qq.com"
    max_clock_skew_s: int = 3600


class WeComAIBot(BaseModel):
    name: str = "default"
    bot_id: str = ""
    mode: Literal["http", "websocket"] = "http"
    token: SecretStr | None = None  # http mode
    encoding_aes_key: SecretStr | None = None  # http mode
    secret: SecretStr | None = None  # websocket mode
    ws_url: str = ""  # websocket mode; empty: the SDK's default
    max_clock_skew_s: int = 3600


class ConnectorSettings(BaseModel):
    file: Path | None = None  # JSON or YAML with the keys below; its bots are added to these
    dingtalk: list[DingTalkBot] = Field(default_factory=list)
    feishu: list[FeishuBot] = Field(default_factory=list)
    wecom_app: list[WeComAppBot] = Field(default_factory=list)
    wecom_bot: list[WeComAIBot] = Field(default_factory=list)
    gateway: GatewaySettings = Field(default_factory=GatewaySettings)
    openai_compat: bool = True  # serve POST /v1/chat/completions
    openai_api_keys: list[SecretStr] = Field(default_factory=list)  # when set, Bearer one of these

    @model_validator(mode="after")
    def _add_bots_from_file(self) -> "ConnectorSettings":
        if self.file is None:
            return self
        import json

        text = self.file.read_text(encoding="utf-8")
        if self.file.suffix in (".yaml", ".yml"):
            import yaml

            data = yaml.safe_load(text) or {}
        else:
            data = json.loads(text)
        loaded = ConnectorSettings.model_validate({k: v for k, v in data.items() if k != "file"})
        for platform in ("dingtalk", "feishu", "wecom_app", "wecom_bot"):
            getattr(self, platform).extend(getattr(loaded, platform))
        return self


Settings.model_rebuild()  # resolve the connector settings declared after Settings
