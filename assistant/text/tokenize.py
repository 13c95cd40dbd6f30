"""Keyword tokens for BM25: rjieba for Chinese, words for English, in one mixed text.

Documents and queries go through the same function so their terms meet in the index. Terms are
normalised (full-width -> half-width, lower case); punctuation and whitespace are dropped;
English words are stemmed lightly so "refunds" meets "refund".
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import rjieba

from assistant.text.normalize import normalize

_WORDLIKE = re.compile(r"[\w\u3400-\u9fff]", re.UNICODE)
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


def add_terms(words: Iterable[str]) -> None:
    """Teach the segmenter domain terms (product names, SOP vocabulary) so they stay whole."""
    for word in words:
        if word.strip():
            rjieba.add_word(word.strip(), None, None)


def tokenize(text: str, *, drop_stopwords: bool = False) -> list[str]:
    """Terms of a text for the keyword index; Chinese and English in one pass."""
    terms: list[str] = []
    for piece in rjieba.cut_for_search(normalize(text)):
        piece = piece.strip()
        if not piece or not _WORDLIKE.search(piece):
            continue
        if " " in piece:
            subs = piece.split()
        else:
            subs = [piece]
        for term in subs:
            term = stem(term)
            if drop_stopwords and term in STOPWORDS:
                continue
            terms.append(term)
    return terms


_CJK_RUN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]{2,}")


def cjk_bigrams(text: str) -> list[str]:
    """Overlapping character pairs of every run of Chinese characters, marked so they never
    collide with a word: paraphrases and typos that break word segmentation still share pairs."""
    grams: list[str] = []
    for run in _CJK_RUN.findall(normalize(text)):
        grams.extend(f"#{run[i:i + 2]}" for i in range(len(run) - 1))
    return grams


def keyword_terms(text: str, *, bigrams: bool = False) -> list[str]:
    """Terms for the BM25 index and its queries: words, plus Chinese character pairs if asked."""
    terms = tokenize(text)
    return terms + cjk_bigrams(text) if bigrams else terms


def content_terms(text: str) -> list[str]:
    """Distinct meaningful terms of a question, in order: what an answer must speak to."""
    seen: dict[str, None] = {}
    for term in tokenize(text, drop_stopwords=True):
        seen.setdefault(term, None)
    return list(seen)
