"""A user dictionary for the Chinese segmenter: extra domain terms, one per line, ``#`` comments.

Terms also come from the knowledge base itself (every document's tags, see ``Tokenizer.follow``).
"""

from __future__ import annotations

from pathlib import Path

from assistant.errors import ConfigError


def read_user_dictionary(path: Path) -> list[str]:
    """The terms of a dictionary file (the first word of each line; jieba's format works too)."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise ConfigError(f"user dictionary {path} cannot be read: {exc.strerror}") from exc
    except UnicodeDecodeError:
        raise ConfigError(f"user dictionary {path} is not UTF-8 text") from None
    return [line.split()[0] for line in lines if line.strip() and not line.lstrip().startswith("#")]
