"""Domain objects that cross module boundaries.

Everything the pipeline produces or consumes is one of these typed models, so the API, the CLI,
the eval harness, the IM connectors and the storage backends all read the same shapes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

ChunkKind = Literal["text", "table", "faq"]
TurnRole = Literal["user", "assistant"]


class KnowledgeBase(BaseModel):
    name: str
    description: str = ""
    created_at: datetime | None = None
    documents: int = 0
    department: str | None = None  # the owning department; None: open to every department
    readers: list[str] = Field(default_factory=list)  # other departments granted reading


Role = Literal["admin", "knowledge_manager", "agent", "customer"]
ROLES: tuple[Role, ...] = ("admin", "knowledge_manager", "agent", "customer")
PrincipalKind = Literal["user", "api_key", "im", "local"]


class Principal(BaseModel):
    """Who asks or acts: a console user, an API key, an IM identity (from a verified callback), or
    the local command line. Built by the front door from credentials, never from a field the client
    writes; everything a request may see follows from it."""

    kind: PrincipalKind
    id: str  # stable and unique: "user:alice", "key:k_3f9a", "im:feishu:oc_x:ou_y", "local"
    name: str = ""
    role: Role = "agent"
    departments: list[str] = Field(default_factory=list)
    platform: str | None = None  # IM identities
    chat_id: str | None = None
    user_id: str | None = None
    customer_id: str | None = None  # the ERP customer this identity is bound to

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    @property
    def audience(self) -> Literal["staff", "customer"]:
        return "customer" if self.role == "customer" else "staff"


class Scope(BaseModel):
    """What one request may read: the knowledge bases, and whom tool results are for."""

    kbs: list[str]
    audience: Literal["staff", "customer"] = "staff"


class DocumentMeta(BaseModel):
    """What a knowledge manager can say about a document beyond its content (all optional).

    Built the same way from CLI options, upload form fields and the demo manifest: ``tags`` may be
    given as a list or as one comma-separated string (full-width commas too).
    """

    model_config = ConfigDict(extra="ignore")

    id: str | None = None
    title: str | None = None
    version: str | None = None
    effective_date: str | None = None
    owner: str | None = None
    tags: list[str] = Field(default_factory=list)
    url: str | None = None

    @field_validator("tags", mode="before")
    @classmethod
    def _split_tags(cls, value: Any) -> Any:
        if value is None:
            return []
        if isinstance(value, str):
            value = value.replace("，", ",").split(",")
        return [str(t).strip() for t in value if str(t).strip()]

    def shared(self) -> "DocumentMeta":
        """The part that applies to every file of a multi-file upload (no id, no title)."""
        return self.model_copy(update={"id": None, "title": None})


class Document(BaseModel):
    """One source file (or one corpus entry) in one knowledge base."""

    id: str
    kb: str
    title: str
    source: str = ""  # the file name it came from
    version: str | None = None
    effective_date: str | None = None
    owner: str | None = None
    tags: list[str] = Field(default_factory=list)
    url: str | None = None
    content_hash: str = ""
    updated_at: datetime = Field(default_factory=lambda: datetime.now(timezone.utc))
    disabled: bool = False  # kept in the catalog and the indexes, never retrieved
    curated_by: str | None = None  # a curated FAQ entry: its author's display name


class Chunk(BaseModel):
    """A retrievable passage of a document, with where it sits in the document."""

    id: str
    doc_id: str
    kb: str
    ordinal: int
    text: str
    section: str = ""  # heading path, e.g. "退货退款服务规范 > 二、退款时效"
    page: int | None = None
    kind: ChunkKind = "text"
    question: str | None = None  # FAQ chunks: the question on its own, searchable
    ocr_confidence: float | None = None  # text read by OCR: its mean confidence (0-1); None for a text layer

    def cited_section(self) -> str:
        """Where a citation says the quote sits: the heading path; for an FAQ, the question it answers."""
        if self.kind == "faq" and self.question:
            return " > ".join(x for x in (self.section, self.question) if x)
        return self.section


class DocRef(BaseModel):
    """The fields of a chunk's document that a citation shows, read in the same catalog read as the chunk."""

    title: str
    url: str | None = None
    version: str | None = None
    curated_by: str | None = None


class Hit(BaseModel):
    """A chunk found by a retrieval stage, with the score each stage gave it."""

    chunk: Chunk
    score: float
    scores: dict[str, float] = Field(default_factory=dict)  # stage name -> score
    doc: DocRef | None = None


class Citation(BaseModel):
    """A numbered source of an answer; `quote` is text that occurs verbatim in the chunk."""

    n: int
    doc_id: str
    chunk_id: str
    title: str
    section: str = ""
    page: int | None = None
    url: str | None = None
    version: str | None = None
    quote: str
    curated_by: str | None = None  # a curated FAQ entry: who wrote it ("人工整理 · 王会计")


class StageHit(BaseModel):
    chunk_id: str
    doc_id: str
    score: float
    snippet: str = ""


class ToolCall(BaseModel):
    name: str
    arguments: dict = Field(default_factory=dict)
    result: str = ""
    error: str | None = None
    ms: float = 0.0


RefusalReason = Literal[
    "weak_evidence",  # the passages neither cover the question's terms nor come close in meaning
    "no_answer_sentence",  # related passages, but no sentence of them speaks to the question
    "model_declined",  # the LLM read the sources and found no answer
    "no_knowledge_base",  # nothing to search
]


class Evidence(BaseModel):
    """How well the best passages support an answer: what the refusal decision read."""

    coverage: float  # weighted share of the question's content terms found in the best passages
    similarity: float | None = None  # best cosine similarity of a passage to the question, if known
    terms: list[str] = Field(default_factory=list)  # the question's content terms
    signals: dict[str, float] = Field(default_factory=dict)  # what the answerability judgement read
    probability: float | None = None  # the judgement's confidence that the passages answer the question
    weak: bool = False  # judged not to answer (below the threshold, or below both floors)


class FaqMatch(BaseModel):
    chunk_id: str
    question: str
    similarity: float


@dataclass(frozen=True)
class Turn:
    """One message of a conversation. User turns keep the standalone form the question was
    rewritten to, and (for recall) the embedding of that form; neither is shown to a model."""

    role: TurnRole
    text: str
    standalone: str | None = None
    embedding: Any = field(default=None, repr=False, compare=False)  # float32 vector or None


# -- routing rules --------------------------------------------------------------------------------
Language = Literal["zh", "en", "mixed"]
AnswerStyle = Literal["brief", "steps", "detailed"]
RuleSource = Literal["api", "cli", "console", "settings"]
RuleChange = Literal["created", "updated", "moved", "deleted"]


def _cleaned(values: list[str]) -> list[str]:
    """Stripped, empty entries dropped, each once, in order."""
    return list(dict.fromkeys(v.strip() for v in values if v and v.strip()))


class RuleMatch(BaseModel):
    """When a routing rule applies: every field that is set must hold; an empty list matches anything.

    ``keywords``: any of them occurs in the question, ignoring case and full/half width. ``pattern``: a
    regular expression found in the question (width-folded, ignoring case). ``chats``: chat ids, bare or
    as ``platform:chat_id``. ``departments``: any of the asker's. ``platforms``: an IM platform
    (``dingtalk``, ``feishu``, ``wecom``, ``wecom_bot``) or the door (``api``, ``openai``, ``cli``, ``console``).
    """

    model_config = ConfigDict(extra="forbid")

    keywords: list[str] = Field(default_factory=list)
    pattern: str | None = Field(None, max_length=500)
    platforms: list[str] = Field(default_factory=list)
    chats: list[str] = Field(default_factory=list)
    departments: list[str] = Field(default_factory=list)
    roles: list[Role] = Field(default_factory=list)
    languages: list[Language] = Field(default_factory=list)

    @field_validator("keywords", "platforms", "chats", "departments")
    @classmethod
    def _clean(cls, values: list[str]) -> list[str]:
        return _cleaned(values)

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"not a valid regular expression ({exc}); escape special characters with \\") from None
        return value


class RuleAction(BaseModel):
    """What a routing rule chooses. ``None`` leaves a choice as it would be without the rule.

    ``kbs``: the knowledge bases to search, narrowed to those the asker may search (a rule never widens
    access). ``style``: brief, steps or detailed. ``prompt``: an extra instruction for an LLM backend.
    ``tools``: the tools allowed (``[]``: none). ``backend``: the LLM backend tried first, by name
    (``extractive``: no model at all).
    """

    model_config = ConfigDict(extra="forbid")

    kbs: list[str] | None = None
    style: AnswerStyle | None = None
    prompt: str | None = Field(None, max_length=2000)
    tools: list[str] | None = None
    backend: str | None = Field(None, max_length=64)

    @field_validator("kbs", "tools")
    @classmethod
    def _clean(cls, values: list[str] | None) -> list[str] | None:
        return None if values is None else _cleaned(values)

    @field_validator("prompt", "backend")
    @classmethod
    def _blank_is_none(cls, value: str | None) -> str | None:
        return value.strip() or None if value is not None else None

    def guidance(self) -> AnswerGuidance | None:
        """What the answerer should hear of this action (None when nothing)."""
        if self.style is None and self.prompt is None and self.backend is None:
            return None
        return AnswerGuidance(style=self.style, prompt=self.prompt, backend=self.backend)


class RuleSpec(BaseModel):
    """What an administrator writes: a routing rule without its bookkeeping."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=128)
    enabled: bool = True
    match: RuleMatch = Field(default_factory=RuleMatch)
    action: RuleAction = Field(default_factory=RuleAction)


class RuleRef(BaseModel):
    """Which rule (and which version of it) routed a question: for the trace and the audit row."""

    id: int
    name: str
    version: int

    def label(self) -> str:
        return f"#{self.id} v{self.version} {self.name}"[:128]


class RoutingRule(RuleSpec):
    """A stored routing rule. Rules are tried by ``position`` (1 first); the first enabled one that
    matches decides. ``source`` says where it was made (``settings``: seeded from the environment)."""

    id: int
    position: int
    version: int = 1
    updated_at: datetime
    updated_by: str = ""
    source: RuleSource = "api"

    def ref(self) -> RuleRef:
        return RuleRef(id=self.id, name=self.name, version=self.version)

    def spec(self) -> RuleSpec:
        return RuleSpec(name=self.name, enabled=self.enabled, match=self.match, action=self.action)


class RuleVersion(BaseModel):
    """One saved state of a rule: as created, updated or moved, or as it was when deleted."""

    rule_id: int
    version: int
    change: RuleChange
    rule: RoutingRule
    at: datetime
    by: str = ""


class RouteContext(BaseModel):
    """Who asks, and from where: what routing rules match besides the question."""

    platform: str | None = None  # IM platform, or the door (api, openai, cli, console)
    chat_id: str | None = None
    user_id: str | None = None
    departments: list[str] = Field(default_factory=list)
    role: Role | None = None
    channel: str = ""


@dataclass(frozen=True)
class AnswerGuidance:
    """How a routing rule wants the answer written: style, an extra instruction, a preferred backend."""

    style: AnswerStyle | None = None
    prompt: str | None = None
    backend: str | None = None


class Trace(BaseModel):
    """What happened while answering: the eval harness, the console and the audit log read this."""

    question: str
    rewritten: str | None = None  # the standalone query actually searched, when it differs
    language: str = ""
    kb_ids: list[str] = Field(default_factory=list)
    stages: dict[str, list[StageHit]] = Field(default_factory=dict)  # bm25, vector, fused, reranked
    timings_ms: dict[str, float] = Field(default_factory=dict)
    tool_calls: list[ToolCall] = Field(default_factory=list)
    evidence: Evidence | None = None
    faq_match: FaqMatch | None = None
    refusal: RefusalReason | None = None  # set when the answer is a refusal
    rule: RuleRef | None = None  # the routing rule that decided the route, if one did
    notes: list[str] = Field(default_factory=list)  # human-readable remarks; nothing parses them
    request_id: str = ""  # the front door's request id: the same as the audit row's and the request log's


class Answer(BaseModel):
    """The reply: text with [n] markers, the numbered sources, and the trace."""

    question: str
    answer: str
    refused: bool
    citations: list[Citation] = Field(default_factory=list)
    trace: Trace
    answer_id: int | None = None  # its audit row, for feedback (set by the front door that recorded it)


# -- accounts and audit ---------------------------------------------------------------------------
class Department(BaseModel):
    name: str
    description: str = ""
    created_at: datetime | None = None


class User(BaseModel):
    """A console account (its password hash stays in the directory)."""

    username: str
    display_name: str = ""
    role: Role
    departments: list[str] = Field(default_factory=list)
    disabled: bool = False
    created_at: datetime | None = None
    last_login_at: datetime | None = None


class ApiKey(BaseModel):
    """An API key's record; the key itself is shown once and only its hash is kept."""

    id: str  # public, e.g. "k_3f9a1c"; the secret is "<id>.<random>"
    name: str = ""
    role: Role
    departments: list[str] = Field(default_factory=list)
    created_by: str = ""
    created_at: datetime | None = None
    expires_at: datetime | None = None
    revoked_at: datetime | None = None
    last_used_at: datetime | None = None

    def usable(self, now: datetime) -> bool:
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > now)


class ImRule(BaseModel):
    """Maps IM identities to a department and a role. Empty fields match anything; the most specific
    matching rule wins (user > chat > platform), then the lowest ``priority``."""

    id: int | None = None
    priority: int = 100
    platform: str | None = None
    chat_id: str | None = None
    user_id: str | None = None
    department: str | None = None
    role: Role = "customer"
    note: str = ""


class CustomerBinding(BaseModel):
    platform: str
    user_id: str
    customer_id: str
    created_at: datetime | None = None


AuditKind = Literal["question", "admin", "login"]


class AuditEntry(BaseModel):
    """One row of the audit log: a question and its answer, or an administrative act."""

    id: int | None = None
    at: datetime = Field(default_factory=lambda: datetime.now(timezone.utc))
    request_id: str = ""
    kind: AuditKind
    channel: str = ""  # api, openai, console, cli, im:feishu ...
    principal_id: str = ""
    principal_kind: str = ""
    principal_name: str = ""
    role: str = ""
    departments: list[str] = Field(default_factory=list)
    action: str = ""  # ask, kb.create, document.delete, key.create, login.failed ...
    target: str = ""
    kbs: list[str] = Field(default_factory=list)
    question: str = ""
    rewritten: str = ""
    answer: str = ""
    refused: bool | None = None
    refusal: str | None = None
    sources: list[dict[str, Any]] = Field(default_factory=list)  # doc_id, title, version, section
    tool_calls: list[dict[str, Any]] = Field(default_factory=list)  # name, arguments, result (masked)
    latency_ms: float | None = None
    status: str = "ok"
    detail: dict[str, Any] = Field(default_factory=dict)
    conversation_id: str | None = None  # questions: the session they belong to
    rule: str | None = None  # questions: the routing rule that applied


class AuditQuery(BaseModel):
    since: datetime | None = None
    until: datetime | None = None
    principal: str | None = None
    department: str | None = None
    kb: str | None = None
    doc: str | None = None
    refused: bool | None = None
    kind: AuditKind | None = None
    channel: str | None = None
    conversation: str | None = None  # one session's questions
    before_id: int | None = None  # paging: rows older than this one
    limit: int = 100


class Session(BaseModel):
    """One conversation of one principal, as the console's live board shows it."""

    id: str  # "<principal id>|<conversation>" (or "|r:<request id>" for a one-off question)
    principal_id: str
    principal_name: str = ""
    role: str = ""
    departments: list[str] = Field(default_factory=list)
    channel: str = ""
    platform: str | None = None
    chat_id: str | None = None
    user_id: str | None = None
    kbs: list[str] = Field(default_factory=list)
    started_at: datetime
    last_at: datetime
    turns: int = 0
    refused: int = 0
    last_question: str = ""


class SessionQuery(BaseModel):
    platform: str | None = None
    chat: str | None = None
    department: str | None = None
    user: str | None = None  # a principal id, or part of a name
    channel: str | None = None
    refused: bool | None = None  # True: sessions with a refused turn
    since: datetime | None = None  # last activity at or after
    before: datetime | None = None  # paging: last activity before this
    limit: int = 50


# -- document history, feedback and curation ------------------------------------------------------
DocumentAction = Literal["added", "replaced", "disabled", "enabled", "deleted"]


class DocumentVersion(BaseModel):
    """One change of a document: what it was after the change (or just before, when deleted), and who."""

    id: int
    doc_id: str
    kb: str
    action: DocumentAction
    version: str | None = None
    title: str = ""
    source: str = ""
    content_hash: str = ""
    chunk_count: int = 0
    at: datetime
    by: str = ""  # the principal id; "" when nobody was named (the demo loader, eval corpora)


Vote = Literal["up", "down"]


class FeedbackVote(BaseModel):
    """A principal's vote on an answer (its audit row); a second vote replaces the first."""

    entry_id: int
    principal_id: str
    vote: Vote
    comment: str = ""
    channel: str = ""
    at: datetime


GapStatus = Literal["open", "curated", "dismissed"]
GapReason = Literal["refused", "downvoted"]


class Gap(BaseModel):
    """A question the knowledge base did not answer well (refused, or voted down), until a knowledge
    manager curates an answer for it or dismisses it. ``asked`` counts the times it came up while open."""

    id: int
    entry_id: int  # the audit row of the question that opened it
    question: str
    answer: str = ""
    kbs: list[str] = Field(default_factory=list)  # searched when it was asked
    departments: list[str] = Field(default_factory=list)  # the asker's
    reason: GapReason
    status: GapStatus = "open"
    asked: int = 1
    created_at: datetime
    resolved_at: datetime | None = None
    resolved_by: str | None = None
    curated_doc: str | None = None


class GapQuery(BaseModel):
    """Which gaps to list. ``readable_kbs``: only gaps whose every knowledge base is one of these (None:
    any); ``departments``: only gaps of askers of no department or of one of these (None: any)."""

    status: GapStatus | None = "open"
    reason: GapReason | None = None  # only refused, or only voted-down questions (None: both)
    readable_kbs: list[str] | None = None
    departments: list[str] | None = None
    offset: int = 0
    limit: int = 50
