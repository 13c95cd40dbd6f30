"""Domain terms for the Chinese segmenter: product names and SOP vocabulary stay whole words.

Terms come from the knowledge base itself (every document's tags) and from an optional user
dictionary file (one term per line, ``#`` comments). rjieba's dictionary is process-wide, which is
harmless here: adding a word only adds a segmentation choice, and search mode still emits the
word's parts, so chunks indexed before the word was known keep matching.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from assistant.errors import ConfigError
from assistant.text.tokenize import add_terms


def read_user_dictionary(path: Path) -> list[str]:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise ConfigError(f"user dictionary {path} cannot be read: {exc.strerror}") from exc
    return [line.split()[0] for line in lines if line.strip() and not line.lstrip().startswith("#")]


def load_domain_terms(tags: Iterable[str], user_dictionary: Path | None = None) -> int:
    """Teach the segmenter the KB's terms; returns how many were added."""
    terms = {t.strip() for t in tags if len(t.strip()) >= 2}
    if user_dictionary is not None:
        terms.update(read_user_dictionary(user_dictionary))
    add_terms(sorted(terms))
    return len(terms)
