"""The offline answerer: picks the sentences that answer the question from the top hits.

No model writes anything: every sentence of the answer is quoted from a source, so every sentence
is supported by construction. When the evidence is weak - the question's key terms are not in the
passages and the passages are not semantically close - it refuses instead of guessing.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from assistant.answer.faq import best_faq_match
from assistant.answer.marks import mark
from assistant.answer.sources import citation_for
from assistant.domain import (
    Answer,
    Citation,
    Evidence,
    FaqMatch,
    Hit,
    RefusalReason,
    Trace,
    Turn,
)
from assistant.text.normalize import detect_language, normalize
from assistant.text.sentences import split_sentences
from assistant.text.tokenize import Tokenizer
from assistant.tools.base import ToolResult

REFUSAL_ZH = "抱歉，知识库中没有找到能回答这个问题的内容。建议换个说法再问，或联系人工客服确认。"
REFUSAL_EN = (
    "Sorry, I could not find this in the knowledge base. Try rephrasing the question, "
    "or ask a human colleague to confirm."
)
MIN_SENTENCE_CHARS = 4


@dataclass
class _Scored:
    hit_index: int
    position: int
    text: str
    score: float
    faq: bool = False


class ExtractiveAnswerer:
    def __init__(
        self,
        term_weights: Callable[[Sequence[str]], dict[str, float]],
        tokenizer: Tokenizer,
        *,
        max_sentences: int = 3,
        max_sources: int = 3,
        min_similarity: float = 0.45,
        min_coverage: float = 0.5,
        candidate_hits: int = 5,
        faq_threshold: float = 0.6,
    ):
        self._term_weights = term_weights
        self._tokenizer = tokenizer
        self.max_sentences = max_sentences
        self.max_sources = max_sources
        self.min_similarity = min_similarity
        self.min_coverage = min_coverage
        self.candidate_hits = candidate_hits
        self.faq_threshold = faq_threshold  # 0 turns FAQ matching off

    # -- evidence --------------------------------------------------------------------------
    def evidence(self, question: str, hits: Sequence[Hit]) -> Evidence:
        """Measure the top passages against the question; ``weak`` when below both floors."""
        terms = self._tokenizer.content_terms(question)
        top = hits[: self.candidate_hits]
        similarity = max((h.scores["vector"] for h in top if "vector" in h.scores), default=None)
        best = 0.0
        if terms and top:
            weights = self._term_weights(terms)
            total = sum(weights.values()) or 1.0
            for hit in top[:3]:
                haystack = normalize(f"{hit.chunk.section} {hit.chunk.question or ''} {hit.chunk.text}")
                best = max(best, sum(w for t, w in weights.items() if t in haystack) / total)
        weak = not top or self._below_floors(best, similarity)
        return Evidence(coverage=best, similarity=similarity, terms=terms, weak=weak)

    def _below_floors(self, coverage: float, similarity: float | None) -> bool:
        if coverage >= self.min_coverage:
            return False
        if similarity is not None and similarity >= self.min_similarity:
            return False
        return True

    # -- answering -------------------------------------------------------------------------
    def answer(
        self, question: str, hits: Sequence[Hit], tool_results: Sequence[ToolResult] = (), history: Sequence[Turn] = ()
    ) -> Answer:
        trace = Trace(question=question)
        match = best_faq_match(question, hits, self.faq_threshold) if self.faq_threshold else None
        if match is not None:
            faq = match.hit.chunk
            trace.faq_match = FaqMatch(chunk_id=faq.id, question=faq.question or "", similarity=match.similarity)
            return self._cite([_Scored(hits.index(match.hit), 0, faq.text.strip(), 1.0, faq=True)], hits, question, trace)
        trace.evidence = evidence = self.evidence(question, hits)
        if evidence.weak:
            return self.refusal(question, trace, "weak_evidence")

        picked = self._pick_sentences(question, hits[: self.candidate_hits], evidence.terms)
        if not picked:
            return self.refusal(question, trace, "no_answer_sentence")
        return self._cite(picked, hits, question, trace)

    def _cite(self, picked: list[_Scored], hits: Sequence[Hit], question: str, trace: Trace) -> Answer:
        """Number the sources of the picked sentences and write the answer with [n] markers."""
        hits_by_id = {h.chunk.id: h.chunk for h in hits}
        numbers: dict[str, int] = {}
        citations: list[Citation] = []
        quotes: dict[int, list[str]] = {}
        parts: list[str] = []
        for p in sorted(picked, key=lambda s: (s.hit_index, s.position)):
            hit = hits[p.hit_index]
            chunk = hit.chunk
            if chunk.id not in numbers:
                numbers[chunk.id] = len(numbers) + 1
                quotes[numbers[chunk.id]] = []
                citations.append(citation_for(hit, numbers[chunk.id]))
            n = numbers[chunk.id]
            quotes[n].append(p.text)
            parts.append(mark(p.text, n))
        if not citations:
            return self.refusal(question, trace, "no_answer_sentence")
        chunks = {c.n: hits_by_id[c.chunk_id] for c in citations}
        for citation in citations:
            citation.quote = _quote(chunks[citation.n].text, quotes[citation.n])
        text = _join(parts)
        return Answer(question=question, answer=text, refused=False, citations=citations, trace=trace)

    def refusal(self, question: str, trace: Trace, reason: RefusalReason) -> Answer:
        text = REFUSAL_EN if detect_language(question) == "en" else REFUSAL_ZH
        trace.refusal = reason
        return Answer(question=question, answer=text, refused=True, citations=[], trace=trace)

    def _pick_sentences(self, question: str, hits: Sequence[Hit], terms: list[str]) -> list[_Scored]:
        weights = self._term_weights(terms) if terms else {}
        total = sum(weights.values()) or 1.0
        scored: list[_Scored] = []
        for i, hit in enumerate(hits):
            chunk = hit.chunk
            prior = 1.0 / (1 + i)
            if chunk.kind == "faq":
                # An FAQ's answer is quoted whole; how well its question matches decides its score.
                asked = normalize(chunk.question or "")
                cov = sum(w for t, w in weights.items() if t in asked) / total
                scored.append(_Scored(i, 0, chunk.text.strip(), 0.85 * cov + 0.15 * prior, faq=True))
                continue
            context = normalize(f"{chunk.section} {chunk.question or ''}")
            context_cov = sum(w for t, w in weights.items() if t in context) / total
            units = _table_rows(chunk.text) if chunk.kind == "table" else split_sentences(chunk.text)
            for pos, sentence in enumerate(units):
                if len(sentence) < MIN_SENTENCE_CHARS:
                    continue
                norm = normalize(sentence)
                cov = sum(w for t, w in weights.items() if t in norm) / total
                score = 0.6 * cov + 0.25 * context_cov + 0.15 * prior
                scored.append(_Scored(i, pos, sentence, score))
        if not scored:
            return []
        scored.sort(key=lambda s: s.score, reverse=True)
        best = scored[0].score
        if best <= 0.15:
            return []
        picked: list[_Scored] = []
        sources: set[int] = set()
        for s in scored:
            if len(picked) >= self.max_sentences:
                break
            if s.score < 0.6 * best:
                break
            if s.hit_index not in sources and len(sources) >= self.max_sources:
                continue
            if s.faq and any(p.faq for p in picked):
                continue  # one FAQ answer is enough; further slots go to the SOPs behind it
            if any(_same_text(s.text, p.text) for p in picked):
                continue
            picked.append(s)
            sources.add(s.hit_index)
        if picked and all(p.faq for p in picked):
            # An FAQ is a digest of an SOP: back it with the SOP's best sentence when there is one.
            support = next((s for s in scored if not s.faq and s.score >= 0.4 * best), None)
            if support is not None:
                picked.append(support)
        return picked


MAX_QUOTE_CHARS = 400


def _quote(chunk_text: str, sentences: list[str]) -> str:
    """The passage of the chunk that holds the quoted sentences, verbatim: from the first to the last."""
    spans = [(chunk_text.find(s), len(s)) for s in sentences]
    spans = [(start, start + n) for start, n in spans if start >= 0]
    if not spans:
        return sentences[0]
    start, end = min(a for a, _ in spans), max(b for _, b in spans)
    if end - start <= MAX_QUOTE_CHARS:
        return chunk_text[start:end]
    first = min(spans)
    return chunk_text[first[0] : first[1]]


def _table_rows(text: str) -> list[str]:
    """A table chunk answers row by row; its first line is the header, which answers nothing."""
    return [row.strip() for row in text.splitlines()[1:] if row.strip()]


def _same_text(a: str, b: str) -> bool:
    na, nb = normalize(a), normalize(b)
    return na in nb or nb in na


def _join(parts: Sequence[str]) -> str:
    out = ""
    for part in parts:
        if out and not out.endswith(("。", "！", "？", "；", "\n")) and (
            part[:1].isascii() or out[-1:].isascii()
        ):
            out += " "
        out += part
    return out
