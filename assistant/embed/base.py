"""The embedder interface and its factory."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np


@runtime_checkable
class Embedder(Protocol):
    """Maps texts to L2-normalised float32 vectors of a fixed dimension."""

    name: str
    dim: int

    def embed_documents(self, texts: list[str]) -> np.ndarray: ...

    def embed_query(self, text: str) -> np.ndarray: ...


def make_embedder(spec: str, *, threads: int | None = None) -> Embedder:
    """Build the embedder a setting names: ``use``, ``e5`` or a sentence-transformers model path/name.

    ``threads`` caps the cores one call uses (the ONNX model only; None: all of them)."""
    if spec == "use":
        from assistant.embed.use import USEEmbedder

        return USEEmbedder(threads=threads)
    if spec == "e5":
        from assistant.embed.e5 import E5Embedder

        return E5Embedder()
    from assistant.embed.sentence_transformers import SentenceTransformerEmbedder

    return SentenceTransformerEmbedder(spec.removeprefix("st:"))


def l2_normalize(vectors: np.ndarray) -> np.ndarray:
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.maximum(norms, 1e-12)
