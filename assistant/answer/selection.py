"""Which sentences of the top passages answer the question.

Every sentence (a table row with its header, an FAQ answer as a whole) is scored by how it speaks
to the question (:class:`assistant.answer.question.Question`):

- the question's *focus* terms, those its passage's heading does not already name: "乍都节公园的
  面积有多大" asks about 面积; every sentence under the heading 乍都节公园 is about the park, and the
  one that answers says "它的面积约为0.304平方公里" without naming it. A focus term whose characters
  occur in the sentence only apart (树叶 / 叶) counts for half;
- the question's character units (paraphrases and typos that break word segmentation still share them);
- the kind of answer asked for (a number for 多少/几天, a date for 什么时候, a place for 哪里...);
- the passage's heading, the passage's rank, and how much the sentence says beyond the question.

A sentence that is itself a question, points at a table the reader cannot see (上表 / 如下) or only
introduces a list counts for less. Across languages (an English question, a Chinese SOP) the words do
not meet, so the sentence's meaning decides: the multilingual embedder compares question and sentence.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from assistant.answer.question import Question
from assistant.domain import Hit
from assistant.embed.base import Embedder
from assistant.text.cjk import CJK_CHAR
from assistant.text.normalize import detect_language, normalize
from assistant.text.sentences import split_sentences

MIN_SENTENCE_CHARS = 4
PICK_RATIO = 0.6  # a sentence joins the answer when it scores this share of the best one
SOURCE_RATIO = 0.8  # ...and a sentence of another passage only when it is nearly as good: citing it says it answers too
MIN_BEST = 0.15  # below this, no sentence speaks to the question
MEANING_HITS, MEANING_UNITS = 3, 40  # units compared by meaning (embedding costs ~2.5 ms each here)

_QUESTION_SENTENCE = re.compile(r"^(?:Q\s*[:：]|问\s*[:：])|[?？]\s*$", re.I)
_POINTS_ELSEWHERE = re.compile(r"上表|下表|如下表|见下表|下列|如下[:：]?$|以下[:：]$|following table|table below|see below", re.I)



@dataclass
class Candidate:
    """A unit of a passage that may answer: ``text`` is what the answer says, ``quote`` what it cites."""

    hit_index: int
    position: int
    text: str
    quote: list[str]  # the lines of the chunk it stands on, verbatim (a table row: the header, then the row)
    score: float
    faq: bool = False
    meaning: float | None = None  # semantic similarity to the question, when measured


def table_units(text: str) -> list[tuple[str, list[str]]]:
    """A table chunk answers row by row, each row read with its header: "列名：值；列名：值"."""
    lines = [row.strip() for row in text.splitlines() if row.strip()]
    if len(lines) < 2:
        return [(line, [line]) for line in lines]
    header = [h.strip() for h in lines[0].split("|")]
    units = []
    for row in lines[1:]:
        cells = [c.strip() for c in row.split("|")]
        if len(cells) == len(header):
            text_ = "；".join(f"{h}：{c}" for h, c in zip(header, cells) if c)
        else:
            text_ = row
        units.append((text_, [lines[0], row]))
    return units


def _cross_lingual(question: Question, passage: str) -> bool:
    mine = "en" if question.language == "en" else "zh"
    theirs = "en" if detect_language(passage) == "en" else "zh"
    return mine != theirs


class SentencePicker:
    def __init__(self, *, max_sentences: int = 3, max_sources: int = 3, embedder: Embedder | None = None):
        self.max_sentences = max_sentences
        self.max_sources = max_sources
        self.embedder = embedder  # compares meanings across languages; without it, words only

    def candidates(self, question: Question, hits: Sequence[Hit]) -> list[Candidate]:
        out: list[Candidate] = []
        foreign: list[Candidate] = []
        for i, hit in enumerate(hits):
            chunk = hit.chunk
            prior = 1.0 / (1 + i)
            if chunk.kind == "faq":
                # An FAQ's answer is quoted whole; how well its question matches decides its score.
                text = chunk.text.strip()
                cand = Candidate(i, 0, text, [text], 0.85 * question.coverage(chunk.question or "") + 0.15 * prior, faq=True)
                out.append(cand)
                if _cross_lingual(question, chunk.question or text):
                    foreign.append(cand)
                continue
            context = normalize(f"{chunk.section} {chunk.question or ''}")
            context_cov = question.coverage(context)
            focus = {t: w for t, w in question.weights.items() if t not in context} or dict(question.weights)
            focus_total = sum(focus.values()) or 1.0
            units = table_units(chunk.text) if chunk.kind == "table" else [(s, [s]) for s in split_sentences(chunk.text)]
            lingual = _cross_lingual(question, chunk.text)
            for pos, (text, quote) in enumerate(units):
                if len(text) < MIN_SENTENCE_CHARS:
                    continue
                norm = normalize(text)
                focus_cov = sum(
                    w if t in norm else (0.5 * w if _characters_apart(t, norm) else 0.0) for t, w in focus.items()
                ) / focus_total
                support = question.support(text, norm)
                kind = 1.0 if (question.kind not in (None, "yesno") and support.kind) else 0.0
                score = (0.4 * focus_cov + 0.2 * support.units + 0.15 * kind + 0.25 * context_cov
                         + 0.15 * prior + 0.2 * min(support.novelty, 0.5))
                score *= _form_penalty(text)
                cand = Candidate(i, pos, text, quote, score)
                out.append(cand)
                if lingual:
                    foreign.append(cand)
        if foreign and self.embedder is not None:
            self._by_meaning(question, [c for c in foreign if c.hit_index < MEANING_HITS][:MEANING_UNITS])
        return out

    def _by_meaning(self, question: Question, foreign: list[Candidate]) -> None:
        """Across languages the words do not meet: score those units by what they mean instead."""
        assert self.embedder is not None
        sims = self.embedder.embed_documents([c.text for c in foreign]) @ self.embedder.embed_query(question.text)
        for cand, sim in zip(foreign, sims):
            cand.meaning = float(sim)
            prior = 1.0 / (1 + cand.hit_index)
            cand.score = max(cand.score, (1.2 * max(float(sim) - 0.15, 0.0) + 0.15 * prior) * _form_penalty(cand.text))

    def pick(self, question: Question, hits: Sequence[Hit]) -> list[Candidate]:
        return self.choose(self.candidates(question, hits))

    def choose(self, candidates: Sequence[Candidate]) -> list[Candidate]:
        """The units that make the answer, from the scored candidates of one question."""
        scored = sorted(candidates, key=lambda c: c.score, reverse=True)
        if not scored or scored[0].score <= MIN_BEST:
            return []
        best = scored[0].score
        picked: list[Candidate] = []
        sources: set[int] = set()
        for cand in scored:
            if len(picked) >= self.max_sentences or cand.score < PICK_RATIO * best:
                break
            if cand.hit_index not in sources and (len(sources) >= self.max_sources
                                                   or (sources and cand.score < SOURCE_RATIO * best)):
                continue
            if cand.faq and any(p.faq for p in picked):
                continue  # one FAQ answer is enough; further slots go to the SOPs behind it
            if any(_same_text(cand.text, p.text) for p in picked):
                continue  # never say the same thing twice
            picked.append(cand)
            sources.add(cand.hit_index)
        if picked and all(p.faq for p in picked):
            # An FAQ is a digest of an SOP: back it with the SOP's best sentence when there is one.
            support = next((c for c in scored if not c.faq and c.score >= 0.4 * best
                            and not any(_same_text(c.text, p.text) for p in picked)), None)
            if support is not None:
                picked.append(support)
        return picked


def _characters_apart(term: str, norm: str) -> bool:
    """A Chinese focus term whose characters occur in the sentence only on their own (树叶 / 叶)."""
    return len(term) >= 2 and any(ch in norm for ch in term if CJK_CHAR.match(ch))


def _form_penalty(text: str) -> float:
    """A question, a pointer to a table the reader cannot see, or a bare list intro answers little."""
    stripped = text.strip()
    if _QUESTION_SENTENCE.search(stripped):
        return 0.3
    if _POINTS_ELSEWHERE.search(stripped):
        return 0.6
    if stripped.endswith(("：", ":")):
        return 0.7
    return 1.0


def _same_text(a: str, b: str) -> bool:
    na, nb = normalize(a), normalize(b)
    return na in nb or nb in na
