"""Numbered sources: the passages and tool results an answer may cite, as the model and the checker see them.

Tool results come first (they are the facts about this customer's case), then the retrieved passages.
Each source carries the citation it becomes when cited; the quote is filled in once we know which
sentences cite it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

from assistant.domain import Citation, Hit
from assistant.text.sentences import split_sentences
from assistant.tools.base import ToolResult

MAX_SOURCE_CHARS = 1200  # per passage in the prompt; chunks are ~400 characters, so rarely cut


@dataclass
class Source:
    n: int
    kind: Literal["document", "tool"]
    text: str  # what the model reads
    citation: Citation  # the citation this source becomes; `quote` is set when it is cited
    quotable: str = ""  # the text quotes are taken from, verbatim (the chunk's own text)

    @property
    def heading(self) -> str:
        c = self.citation
        parts = [c.title + (f" {c.version}" if c.version else "")]
        if c.section:
            parts.append(c.section)
        if c.page:
            parts.append(f"第{c.page}页")
        return "｜".join(parts)


def number_sources(hits: Sequence[Hit], tool_results: Sequence[ToolResult] = ()) -> list[Source]:
    """Tool results as sources 1..k, then each distinct retrieved chunk."""
    sources: list[Source] = []
    for result in tool_results:
        n = len(sources) + 1
        sources.append(Source(n, "tool", result.facts, tool_citation(result, n), result.facts))
    seen: set[str] = set()
    for hit in hits:
        chunk = hit.chunk
        if chunk.id in seen:
            continue
        seen.add(chunk.id)
        n = len(sources) + 1
        text = chunk.text if chunk.kind != "faq" else f"问：{chunk.question or ''}\n答：{chunk.text}"
        sources.append(Source(n, "document", text[:MAX_SOURCE_CHARS], citation_for(hit, n), chunk.text))
    return sources


def citation_for(hit: Hit, n: int, quote: str = "") -> Citation:
    """The numbered citation of a retrieved chunk: its document, heading path, page, version and link."""
    chunk, doc = hit.chunk, hit.doc
    return Citation(
        n=n,
        doc_id=chunk.doc_id,
        chunk_id=chunk.id,
        title=doc.title if doc else chunk.doc_id,
        section=chunk.cited_section(),
        page=chunk.page,
        url=doc.url if doc else None,
        version=doc.version if doc else None,
        quote=quote,
        curated_by=doc.curated_by if doc else None,
    )


def tool_citation(result: ToolResult, n: int) -> Citation:
    """A tool result cited like a document ("ERP 订单系统 — 查询于 10:22"), quoted whole."""
    return Citation(
        n=n, doc_id=result.source_id, chunk_id=result.source_id, title=result.title,
        section=result.section, quote=result.facts,
    )


def quote_for(source: Source, cited_by: Sequence[str], overlap: Callable[[str, str], float]) -> str:
    """A verbatim passage of the source backing the sentences that cite it.

    Tool results are quoted whole (they are already the key facts); a document is quoted by the
    sentence of its chunk that best matches the citing sentences.
    """
    if source.kind == "tool":
        return source.text
    sentences = [s for s in split_sentences(source.quotable) if len(s) >= 4] or [source.quotable.strip()]
    if not cited_by:
        return sentences[0]
    return max(sentences, key=lambda s: max(overlap(c, s) for c in cited_by))
