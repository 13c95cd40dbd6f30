"""Per-document write locks: never two writers on one document, in one process or across processes.

An ingestion reads what is stored (is the file unchanged? which chunks are already indexed?), writes
the new chunks to the indexes and switches the catalog. Two writers of one document interleaving
those steps could each keep a chunk the other retires and purges, and leave a live version with a
chunk missing from the indexes. So a writer holds the document's lock from the first read to the
switch; a second writer of the same document waits for it.

- ``LocalDocumentLocks``: in-process locks, for the embedded default (one process owns the data
  directory; its API threads and its worker thread share the locks).
- ``PostgresDocumentLocks`` (``sql/locks.py``): the same in-process locks, then a PostgreSQL session advisory lock per
  document on a connection of the holder's own. Another worker process waits in PostgreSQL; a worker
  that is killed loses its connection, and PostgreSQL lets go of its locks at once.

Locks are taken in sorted order, so two holders of overlapping document sets cannot deadlock.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from contextlib import ExitStack, contextmanager

class LocalDocumentLocks:
    """Document locks of one process (see ``DocumentLocks``)."""

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._locks: dict[tuple[str, str], tuple[threading.Lock, int]] = {}  # lock and how many want it

    @contextmanager
    def hold(self, kb: str, doc_ids: Iterable[str]) -> Iterator[None]:
        keys = sorted({(kb, d) for d in doc_ids})
        with ExitStack() as stack:
            for key in keys:
                stack.enter_context(self._one(key))
            yield

    @contextmanager
    def _one(self, key: tuple[str, str]) -> Iterator[None]:
        with self._guard:
            lock, wanted = self._locks.get(key, (None, 0))
            lock = lock or threading.Lock()
            self._locks[key] = (lock, wanted + 1)
        lock.acquire()
        try:
            yield
        finally:
            lock.release()
            with self._guard:
                lock, wanted = self._locks[key]
                if wanted == 1:
                    del self._locks[key]  # nobody else waits: do not keep a lock per document ever seen
                else:
                    self._locks[key] = (lock, wanted - 1)
