"""Citation enforcement for generated answers.

After a model writes an answer:
1. markers are normalised (``【1】``, ``[1, 2]``, ``[^1]`` -> ``[1][2]``) and markers pointing to
   sources that were not given are removed;
2. each sentence is checked against the sources it cites: the share of its content units
   (Chinese character bigrams, English words, numbers) found in them. A sentence below the
   threshold, or stating a number that none of the sources or the question holds, is flagged.
   Across languages (an English answer from a Chinese SOP) only numbers and Latin terms compare;
3. the cited sources are renumbered 1..k in order of first use, each with a verbatim quote.

The caller decides what an answer with no supported sentence becomes (the chain falls back to
the extractive answer, or refuses).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from assistant.answer.sources import Source, quote_for
from assistant.domain import Citation
from assistant.text.cjk import CJK_RUN
from assistant.text.normalize import cjk_ratio, normalize
from assistant.text.sentences import split_sentences
from assistant.text.tokenize import STOPWORDS

_MARKER = re.compile(r"[\[【［]\s*\^?\s*(?:source\s*|来源\s*|资料\s*)?(\d{1,3}(?:\s*[,，、]\s*\d{1,3})*)\s*[\]】］]", re.I)
_CANON = re.compile(r"\[(\d{1,3})\]")
_MARKER_AFTER_END = re.compile(r"([。！？；!?;.])((?:\[\d{1,3}\])+)")
_WORD = re.compile(r"[a-z]+|\d+")
_STOP_CHARS = set("的了吗呢吧啊呀是在和与及或就都也还又把被让给对从向我你您他她它们这那个些哪么什怎样请问一下可以能会要想有没")
# Pleasantries and connectives carry no claim: short uncited sentences are not flagged.
MAX_UNCLAIMED_CHARS = 12


@dataclass
class SentenceCheck:
    text: str  # as shown, with its markers
    cited: list[int]  # source numbers as given to the model
    support: float  # share of the sentence's units found in its cited sources
    supported: bool
    reason: str = ""


@dataclass
class CheckedAnswer:
    """The answer after enforcement: text with renumbered markers, its citations, and the findings."""

    text: str
    citations: list[Citation]
    sentences: list[SentenceCheck] = field(default_factory=list)
    removed_markers: list[int] = field(default_factory=list)

    @property
    def supported(self) -> int:
        return sum(1 for s in self.sentences if s.supported)

    @property
    def flagged(self) -> list[SentenceCheck]:
        return [s for s in self.sentences if not s.supported and s.reason != "no claim"]

    def notes(self) -> list[str]:
        out = [f"citation check: removed marker [{n}] (no such source)" for n in self.removed_markers]
        for s in self.flagged:
            out.append(f"citation check: unsupported sentence ({s.reason}, support={s.support:.2f}): {s.text[:80]}")
        out.append(f"citation check: {self.supported} of {len(self.sentences)} sentences supported")
        return out


def units(text: str, *, normalized: bool = False) -> set[str]:
    """Content units of a text: CJK character bigrams (single characters for one-character runs),
    English words and numbers; function words and their bigrams are left out."""
    if not normalized:
        text = normalize(text)
    out: set[str] = set()
    for run in CJK_RUN.findall(text):
        if len(run) == 1:
            if run not in _STOP_CHARS:
                out.add(run)
            continue
        for a, b in zip(run, run[1:]):
            if not (a in _STOP_CHARS and b in _STOP_CHARS):
                out.add(a + b)
    out.update(w for w in _WORD.findall(text) if w not in STOPWORDS)
    return out


def overlap(sentence: str, source: str) -> float:
    """Share of the sentence's units that occur in the source (0 when the sentence has none)."""
    mine = units(sentence)
    return len(mine & units(source)) / len(mine) if mine else 0.0


def _numbers(text: str) -> set[str]:
    return set(re.findall(r"\d+", normalize(text)))


class CitationChecker:
    """Enforces citations on a generated answer against the sources it was given."""

    def __init__(self, *, min_support: float = 0.4):
        self.min_support = min_support

    def check(self, text: str, sources: Sequence[Source], *, question: str = "") -> CheckedAnswer:
        by_n = {s.n: s for s in sources}
        removed: list[int] = []

        def canonical(match: re.Match) -> str:
            out = ""
            for raw in re.split(r"\s*[,，、]\s*", match.group(1)):
                n = int(raw)
                if n in by_n:
                    out += f"[{n}]" if f"[{n}]" not in out else ""
                elif n not in removed:
                    removed.append(n)
            return out

        text = _MARKER.sub(canonical, text.strip())
        text = _MARKER_AFTER_END.sub(lambda m: m.group(2) + m.group(1), text)  # "开具。[1]" -> "开具[1]。"
        known_numbers = _numbers(question).union(*(_numbers(s.text) for s in sources))

        checks: list[SentenceCheck] = []
        for sentence in _sentences(text):
            cited = [int(n) for n in _CANON.findall(sentence)]
            bare = _CANON.sub("", sentence).strip()
            checks.append(self._check_sentence(sentence, bare, cited, by_n, known_numbers))

        order: dict[int, int] = {}
        for check in checks:
            for n in check.cited:
                order.setdefault(n, len(order) + 1)
        renumbered = _CANON.sub(lambda m: f"[{order[int(m.group(1))]}]", text)
        citations = []
        for old, new in order.items():
            source = by_n[old]
            citing = [_CANON.sub("", c.text) for c in checks if old in c.cited]
            quote = quote_for(source, citing, overlap)
            citations.append(source.citation.model_copy(update={"n": new, "quote": quote}))
        for check in checks:
            check.text = _CANON.sub(lambda m: f"[{order[int(m.group(1))]}]", check.text)
        return CheckedAnswer(renumbered, citations, checks, removed)

    def _check_sentence(
        self, sentence: str, bare: str, cited: list[int], by_n: dict[int, Source], known_numbers: set[str]
    ) -> SentenceCheck:
        if not cited:
            if len(bare) <= MAX_UNCLAIMED_CHARS or not units(bare):
                return SentenceCheck(sentence, [], 0.0, False, "no claim")
            return SentenceCheck(sentence, [], 0.0, False, "no citation")
        evidence = "\n".join(by_n[n].text for n in cited)
        strange = _numbers(bare) - known_numbers
        if (cjk_ratio(bare) >= 0.5) != (cjk_ratio(evidence) >= 0.5):
            # An English answer from a Chinese source (or the reverse): only numbers and shared Latin
            # terms (PDF, SKU codes) compare. There must be at least one, and no number of its own.
            found = units(evidence)
            anchors = {u for u in units(bare) if u.isdigit() or (u.isascii() and u in found)}
            support = len(anchors & found) / len(anchors) if anchors else 0.0
            ok = not strange and anchors and support == 1.0
            reason = "" if ok else "other language, numbers and terms do not match"
            return SentenceCheck(sentence, cited, support, bool(ok), reason)
        support = overlap(bare, evidence)
        if strange:
            return SentenceCheck(sentence, cited, support, False, f"numbers not in any source: {sorted(strange)}")
        if support < self.min_support:
            return SentenceCheck(sentence, cited, support, False, "cited source does not say this")
        return SentenceCheck(sentence, cited, support, True)


def _sentences(text: str) -> list[str]:
    """Sentences with their markers. A marker run opening a line belongs to the sentence before; a
    clause ending in ；or ：without a marker is one sentence with what follows (one [n] covers both)."""
    out: list[str] = []
    carry = ""
    for sentence in split_sentences(text):
        lead = re.match(r"^((?:\[\d{1,3}\])+)\s*", sentence)
        if lead and out and not carry:
            out[-1] += lead.group(1)
            sentence = sentence[lead.end():]
        if not sentence.strip():
            continue
        if sentence.rstrip().endswith(("；", ";", "：", ":")) and not _CANON.search(sentence):
            carry += sentence
            continue
        out.append(carry + sentence)
        carry = ""
    if carry:
        out.append(carry)
    return out
