"""The offline answerer: picks the sentences that answer the question from the top hits.

No model writes anything: every sentence of the answer is quoted from a source, so every sentence
is supported by construction. When the evidence is weak - the question's key terms are not in the
passages and the passages are not semantically close - it refuses instead of guessing.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from assistant.answer.answerability import AnswerabilityModel, DocFreq, measure
from assistant.answer.faq import best_faq_match
from assistant.answer.marks import mark
from assistant.answer.question import Question
from assistant.answer.selection import Candidate, SentencePicker
from assistant.answer.sources import citation_for
from assistant.domain import (
    Answer,
    AnswerGuidance,
    Citation,
    Evidence,
    FaqMatch,
    Hit,
    RefusalReason,
    Trace,
    Turn,
)
from assistant.embed.base import Embedder
from assistant.text.normalize import detect_language
from assistant.text.tokenize import Tokenizer
from assistant.tools.base import ToolResult

REFUSAL_ZH = "抱歉，知识库中没有找到能回答这个问题的内容。建议换个说法再问，或联系人工客服确认。"
REFUSAL_EN = (
    "Sorry, I could not find this in the knowledge base. Try rephrasing the question, "
    "or ask a human colleague to confirm."
)
BRIEF_SENTENCES = 1  # what a routing rule's "brief" style leaves of an extractive answer

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
        embedder: Embedder | None = None,
        answerability: AnswerabilityModel | None = None,
        doc_freq: DocFreq | None = None,
        indexed: Callable[[], int] | None = None,
    ):
        self._term_weights = term_weights
        self._tokenizer = tokenizer
        self.max_sentences = max_sentences
        self.max_sources = max_sources
        self.min_similarity = min_similarity
        self.min_coverage = min_coverage
        self.candidate_hits = candidate_hits
        self.faq_threshold = faq_threshold  # 0 turns FAQ matching off
        self.picker = SentencePicker(max_sentences=max_sentences, max_sources=max_sources, embedder=embedder)
        self.answerability = answerability  # None: the two floors decide
        self._doc_freq = doc_freq
        self._indexed = indexed  # how many chunks the knowledge base holds

    # -- evidence --------------------------------------------------------------------------
    def evidence(self, question: str, hits: Sequence[Hit]) -> Evidence:
        """Judge whether the top passages answer the question; ``weak`` when they do not."""
        return self._assess(self.read(question), hits)[1]

    def _assess(self, q: Question, hits: Sequence[Hit]) -> tuple[list[Candidate], Evidence]:
        top = hits[: self.candidate_hits]
        candidates = self.picker.candidates(q, top)
        signals = measure(q, top, candidates, self._doc_freq, indexed=self._indexed() if self._indexed else None)
        coverage, similarity = signals["coverage"], signals["similarity"] if any("vector" in h.scores for h in top) else None
        probability = self.answerability.probability(signals) if self.answerability else None
        if not top:
            weak = True
        elif probability is not None and self.answerability is not None:
            weak = probability < self.answerability.threshold(q.language)
        else:
            weak = self._below_floors(coverage, similarity)
        evidence = Evidence(coverage=coverage, similarity=similarity, terms=q.terms, signals=signals,
                            probability=probability, weak=weak)
        return candidates, evidence

    def _below_floors(self, coverage: float, similarity: float | None) -> bool:
        if coverage >= self.min_coverage:
            return False
        if similarity is not None and similarity >= self.min_similarity:
            return False
        return True

    # -- answering -------------------------------------------------------------------------
    def answer(
        self, question: str, hits: Sequence[Hit], tool_results: Sequence[ToolResult] = (), history: Sequence[Turn] = (),
        guidance: AnswerGuidance | None = None,
    ) -> Answer:
        """Quote the sentences that answer (one only for a "brief" style), or refuse."""
        trace = Trace(question=question)
        match = best_faq_match(question, hits, self.faq_threshold) if self.faq_threshold else None
        if match is not None:
            faq = match.hit.chunk
            trace.faq_match = FaqMatch(chunk_id=faq.id, question=faq.question or "", similarity=match.similarity)
            text = faq.text.strip()
            return self._cite([Candidate(hits.index(match.hit), 0, text, [text], 1.0, faq=True)], hits, question, trace)
        candidates, evidence = self._assess(self.read(question), hits)
        trace.evidence = evidence
        if evidence.weak:
            return self.refusal(question, trace, "weak_evidence")

        picked = self.picker.choose(candidates)
        if guidance is not None and guidance.style == "brief":
            picked = picked[:BRIEF_SENTENCES]  # the best first: choose() orders by score
        if not picked:
            return self.refusal(question, trace, "no_answer_sentence")
        return self._cite(picked, hits, question, trace)

    def read(self, question: str) -> Question:
        return Question.read(question, self._tokenizer, self._term_weights)

    def _cite(self, picked: list[Candidate], hits: Sequence[Hit], question: str, trace: Trace) -> Answer:
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
            quotes[n].extend(p.quote)
            parts.append(mark(_as_sentence(p.text), n))
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


def _as_sentence(text: str) -> str:
    """A clause cut at ；or ：ends the answer's sentence (the quote keeps the source's punctuation)."""
    text = text.strip()
    if text.endswith(("；", "：")):
        return text[:-1] + "。"
    if text.endswith((";", ":")):
        return text[:-1] + "."
    return text


def _join(parts: Sequence[str]) -> str:
    out = ""
    for part in parts:
        if out and not out.endswith(("。", "！", "？", "；", "\n")) and (
            part[:1].isascii() or out[-1:].isascii()
        ):
            out += " "
        out += part
    return out
