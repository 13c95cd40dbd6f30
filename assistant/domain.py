"""Domain objects that cross module boundaries.

Everything the pipeline produces or consumes is one of these typed models, so the API, the CLI,
the eval harness and (later) the IM connectors all read the same shapes.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Literal

from pydantic import BaseModel, Field

ChunkKind = Literal["text", "table", "faq"]


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


class DocRef(BaseModel):
    """The fields of a chunk's document that a citation shows, read in the same catalog read as the chunk."""

    title: str
    url: str | None = None
    version: str | None = None


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


class Trace(BaseModel):
    """What happened while answering: the eval harness, the console and the audit log read this."""

    question: str
    rewritten: str | None = None  # the standalone query actually searched, when it differs
    language: str = ""
    kb_ids: list[str] = Field(default_factory=list)
    stages: dict[str, list[StageHit]] = Field(default_factory=dict)  # bm25, vector, fused, reranked
    timings_ms: dict[str, float] = Field(default_factory=dict)
    tool_calls: list[ToolCall] = Field(default_factory=list)
    notes: list[str] = Field(default_factory=list)


class Answer(BaseModel):
    """The reply: text with [n] markers, the numbered sources, and the trace."""

    question: str
    answer: str
    refused: bool
    citations: list[Citation] = Field(default_factory=list)
    trace: Trace
