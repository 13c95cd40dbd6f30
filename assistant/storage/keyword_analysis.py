"""What a keyword index sees of a chunk and of a question: one analysis for every engine.

Every keyword engine (tantivy in the data directory, PostgreSQL shared by replicas) indexes exactly
these terms, so a question meets the same chunks whichever engine answers it: rjieba words (search
mode, English lightly stemmed), and with ``bigrams`` also ``#`` + each Chinese character pair and
``@`` + each Chinese character. A question's one-character words (开, 退) are also asked as ``@``
characters, so they meet the compounds they are part of (开票, 退款).
"""

from __future__ import annotations

import json

from assistant.domain import Chunk
from assistant.text.tokenize import Tokenizer, cjk_characters

ANALYSIS_VERSION = 2  # bump when tokenization changes so existing indexes are rebuilt


def chunk_text(chunk: Chunk) -> str:
    """What a keyword index sees of a chunk: its heading path adds context; FAQ questions count twice."""
    parts = [chunk.section, chunk.text]
    if chunk.question:
        parts.append(chunk.question)
    return "\n".join(p for p in parts if p)


class KeywordAnalysis:
    """The terms of chunks and questions for one setting of ``bigrams``; ``marker`` names it, so an
    index built with another analysis is known and rebuilt."""

    def __init__(self, tokenizer: Tokenizer, *, bigrams: bool = False):
        self.tokenizer = tokenizer
        self.bigrams = bigrams

    def marker(self) -> str:
        return json.dumps({"bigrams": self.bigrams, "version": ANALYSIS_VERSION})

    def query_terms(self, text: str) -> list[str]:
        terms = self.tokenizer.keyword_terms(text, bigrams=self.bigrams)
        if self.bigrams:
            terms += cjk_characters(t for t in self.tokenizer.content_terms(text) if len(t) == 1)
        return terms

    def chunk_terms(self, chunk: Chunk) -> list[str]:
        text = chunk_text(chunk)
        terms = self.tokenizer.keyword_terms(text, bigrams=self.bigrams)
        if self.bigrams:
            terms += cjk_characters(text)
        return terms
