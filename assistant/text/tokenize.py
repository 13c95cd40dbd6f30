"""Keyword tokens for BM25 and for judging evidence: rjieba for Chinese, words for English, in one pass.

Documents and queries go through the same :class:`Tokenizer` so their terms meet in the index. Terms
are normalised (full-width -> half-width, lower case); punctuation and whitespace are dropped;
English words are stemmed lightly so "refunds" meets "refund".

A tokenizer owns its segmenter and that segmenter's domain terms (product names, SOP vocabulary):
nothing is process-global, and two tokenizers never share a dictionary. Adding a word only adds a
segmentation choice: search mode still emits the word's parts, so chunks indexed before the word
was known keep matching. Several processes learn the same terms from the catalog (see
``Tokenizer.follow``).
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Iterable
from typing import Protocol

import rjieba

from assistant.text.cjk import CJK_CHAR, CJK_PAIR_RUN, IDEOGRAPHS
from assistant.text.normalize import normalize

_WORDLIKE = re.compile(rf"[\w{IDEOGRAPHS}]", re.UNICODE)
_ASCII_WORD = re.compile(r"^[a-z][a-z'-]*$")

# Function words that carry no meaning for retrieval. Kept short on purpose: BM25's IDF already
# discounts common terms; these are the ones that otherwise make "coverage" of a question look high.
STOPWORDS = frozenset(
    """
    的 了 吗 呢 吧 啊 呀 哦 嘛 么 是 在 和 与 及 或 就 都 也 还 又 把 被 让 给 对 从 向 我 你 他 她 它
    我们 你们 他们 咱们 这 那 这个 那个 这些 那些 哪 哪个 什么 怎么 怎么样 怎样 如何 为什么 多少 几
    请问 请 一下 可以 能 能否 会 要 想 有 没有 吗 么 呢 啦 嗯 哈 您 个 之 其 得 地 着 过 为 以 及其
    a an the of to in on at for by with from and or but is are was were be been being do does did
    what which who whom how when where why can could should would will may might i you he she it we
    they me my your our their this that these those there here as if not no yes please
    """.split()
)


def stem(word: str) -> str:
    """A deliberately small English suffix stripper (plural and common verb endings)."""
    if len(word) <= 3 or not _ASCII_WORD.match(word):
        return word
    for suffix, repl in (("ies", "y"), ("sses", "ss"), ("ing", ""), ("ed", ""), ("es", ""), ("s", "")):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            if suffix == "s" and word.endswith(("ss", "us", "is")):
                return word
            if suffix == "es" and not word.endswith(("ches", "shes", "xes", "zes", "sses")):
                return word[:-1]
            return word[: len(word) - len(suffix)] + repl
    return word


def cjk_bigrams(text: str) -> list[str]:
    """Overlapping character pairs of every run of Chinese characters, marked so they never
    collide with a word: paraphrases and typos that break word segmentation still share pairs."""
    grams: list[str] = []
    for run in CJK_PAIR_RUN.findall(normalize(text)):
        grams.extend(f"#{run[i:i + 2]}" for i in range(len(run) - 1))
    return grams


def cjk_characters(text: str | Iterable[str]) -> list[str]:
    """Every Chinese character as a term of its own, marked so it never collides with a word: a
    one-character word of a question (开, 退) meets the compounds it is part of (开票, 退款)."""
    if not isinstance(text, str):
        text = "".join(text)
    return [f"@{ch}" for ch in CJK_CHAR.findall(normalize(text))]


class VocabularySource(Protocol):
    """Where the domain terms of a deployment are kept (the catalog: every document's tags)."""

    def vocabulary_version(self) -> str:
        """Changes whenever the terms may have changed; cheap to ask."""
        ...

    def vocabulary(self) -> set[str]: ...


class Tokenizer:
    """Segmentation plus the term functions built on it; thread-safe."""

    def __init__(self, terms: Iterable[str] = ()):
        self._jieba: rjieba.Jieba | None = None
        self._known: set[str] = set()
        self._pending = {t.strip() for t in terms if t.strip()}
        self._lock = threading.Lock()
        self._source: VocabularySource | None = None
        self._source_version: str | None = None
        self._checked_at = float("-inf")
        self._refresh_seconds = 5.0
        self._clock: Callable[[], float] = time.monotonic

    # -- vocabulary --------------------------------------------------------------------------
    def add_terms(self, words: Iterable[str]) -> int:
        """Teach the segmenter domain terms so they stay whole; returns how many were new."""
        fresh = {w.strip() for w in words if w.strip()} - self._known
        if not fresh:
            return 0
        with self._lock:
            fresh -= self._known
            if self._jieba is None:
                self._pending |= fresh
            else:
                for word in sorted(fresh):
                    self._jieba.add_word(word, None, None)
                self._known |= fresh
        return len(fresh)

    def follow(self, source: VocabularySource, *, refresh_seconds: float = 5.0) -> None:
        """Keep learning the terms ``source`` holds: checked at most every ``refresh_seconds``, so a
        document tagged through another process is segmented the same way here soon after."""
        self._source, self._refresh_seconds = source, refresh_seconds
        self._checked_at = float("-inf")

    def known_terms(self) -> set[str]:
        self._segmenter()
        return set(self._known)

    def _segmenter(self) -> rjieba.Jieba:
        if self._jieba is None:
            with self._lock:
                if self._jieba is None:
                    jieba = rjieba.Jieba()
                    for word in sorted(self._pending):
                        jieba.add_word(word, None, None)
                    self._known |= self._pending
                    self._pending = set()
                    self._jieba = jieba
        if self._source is not None and self._clock() - self._checked_at >= self._refresh_seconds:
            self._sync()
        return self._jieba

    def _sync(self) -> None:
        assert self._source is not None
        self._checked_at = self._clock()
        version = self._source.vocabulary_version()
        if version != self._source_version:
            self.add_terms(t for t in self._source.vocabulary() if len(t.strip()) >= 2)
            self._source_version = version

    # -- terms -------------------------------------------------------------------------------
    def cut(self, text: str) -> list[str]:
        """Words of a text in reading order (precise mode)."""
        return self._segmenter().cut(text)

    def terms(self, text: str, *, drop_stopwords: bool = False) -> list[str]:
        """Terms of a text for the keyword index; Chinese and English in one pass."""
        out: list[str] = []
        for piece in self._segmenter().cut_for_search(normalize(text)):
            piece = piece.strip()
            if not piece or not _WORDLIKE.search(piece):
                continue
            for term in piece.split() if " " in piece else [piece]:
                term = stem(term)
                if drop_stopwords and term in STOPWORDS:
                    continue
                out.append(term)
        return out

    def keyword_terms(self, text: str, *, bigrams: bool = False) -> list[str]:
        """Terms for the BM25 index and its queries: words, plus Chinese character pairs if asked."""
        terms = self.terms(text)
        return terms + cjk_bigrams(text) if bigrams else terms

    def content_terms(self, text: str) -> list[str]:
        """Distinct meaningful terms of a question, in order: what an answer must speak to."""
        return list(dict.fromkeys(self.terms(text, drop_stopwords=True)))
