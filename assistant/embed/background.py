"""Embedding documents in the background: questions never queue behind an upload.

A question's embedding takes a few milliseconds; an ingestion embeds batches of 64 passages for
seconds on end. Sharing one model session, the question waits for the batch (the session runs one
call at a time, with every core). So ingestion gets a session of its own, capped at one core, and the
threads that call it drop to a lower CPU priority: on a busy machine the scheduler serves the
questions first, and an idle machine still ingests at full speed of that core.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
from collections.abc import Callable

import numpy as np

from assistant.embed.base import Embedder

log = logging.getLogger(__name__)
NICENESS = 10  # added to the calling thread's priority (Linux threads have their own)


class BackgroundEmbedder:
    """Wraps an embedder for ingestion: ``embed_documents`` runs at a lower CPU priority."""

    def __init__(self, inner: Embedder, *, niceness: int = NICENESS):
        self.inner = inner
        self.name = inner.name
        self.dim = inner.dim
        self.niceness = niceness
        self._lowered = threading.local()

    def embed_documents(self, texts: list[str]) -> np.ndarray:
        self._lower_this_thread()
        return self.inner.embed_documents(texts)

    def embed_query(self, text: str) -> np.ndarray:
        return self.inner.embed_query(text)

    def _lower_this_thread(self) -> None:
        if getattr(self._lowered, "done", False) or sys.platform != "linux":
            return  # elsewhere setpriority would lower the whole process, questions included
        self._lowered.done = True
        tid = threading.get_native_id()
        try:
            os.setpriority(os.PRIO_PROCESS, tid, min(19, os.getpriority(os.PRIO_PROCESS, tid) + self.niceness))
        except OSError as exc:  # not allowed here: ingest at normal priority
            log.debug("could not lower the ingestion thread's priority: %s", exc)


class LazyEmbedder:
    """An embedder loaded on first use: the ingestion worker's own session costs a server's start
    nothing until something is uploaded."""

    def __init__(self, load: Callable[[], Embedder], *, name: str, dim: int):
        self._load = load
        self.name = name
        self.dim = dim
        self._inner: Embedder | None = None
        self._lock = threading.Lock()

    @property
    def inner(self) -> Embedder:
        if self._inner is None:
            with self._lock:
                if self._inner is None:
                    self._inner = self._load()
        return self._inner

    def embed_documents(self, texts: list[str]) -> np.ndarray:
        return self.inner.embed_documents(texts)

    def embed_query(self, text: str) -> np.ndarray:
        return self.inner.embed_query(text)
