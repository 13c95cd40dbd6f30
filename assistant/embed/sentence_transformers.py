"""Any sentence-transformers model the user has on disk, behind the same interface.

Loaded with ``local_files_only``: nothing is fetched from a model hub at run time.
"""

from __future__ import annotations

import numpy as np

from assistant.embed.base import l2_normalize
from assistant.errors import ModelNotAvailable


class SentenceTransformerEmbedder:
    def __init__(self, model: str, *, query_prefix: str = "", document_prefix: str = ""):
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError as exc:  # pragma: no cover - it is a pinned dependency
            raise ModelNotAvailable("sentence-transformers is not installed") from exc
        try:
            self._model = SentenceTransformer(model, device="cpu", local_files_only=True)
        except Exception as exc:
            raise ModelNotAvailable(
                f"cannot load sentence-transformers model {model!r}: {exc}. "
                "Point ASSISTANT_MODELS__EMBEDDER at a local model directory."
            ) from exc
        self.name = f"st:{model}"
        self.dim = int(self._model.get_sentence_embedding_dimension())
        self._query_prefix = query_prefix
        self._document_prefix = document_prefix

    def embed_documents(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        vectors = self._model.encode([self._document_prefix + t for t in texts], batch_size=32)
        return l2_normalize(vectors)

    def embed_query(self, text: str) -> np.ndarray:
        return l2_normalize(self._model.encode([self._query_prefix + text]))[0]
