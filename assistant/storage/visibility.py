"""Keeps readers and document switches apart, so a query sees one version of a document.

A reader searches both indexes and then resolves the hits through the catalog. If a document were
switched (or its old chunks purged) between those two steps, the reader could find the old chunks
and then learn they are no longer live: the document would vanish for that query. So a reader holds
the gate shared for search + resolve (a few milliseconds), and the ingestion job holds it exclusive
for the switch and the purge (milliseconds too). Writers are preferred so a stream of queries cannot
starve an upload. One process owns a data directory, so an in-process lock is enough.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager


class VisibilityGate:
    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._readers = 0
        self._writing = False
        self._waiting_writers = 0

    @contextmanager
    def reading(self) -> Iterator[None]:
        with self._cond:
            while self._writing or self._waiting_writers:
                self._cond.wait()
            self._readers += 1
        try:
            yield
        finally:
            with self._cond:
                self._readers -= 1
                if self._readers == 0:
                    self._cond.notify_all()

    @contextmanager
    def switching(self) -> Iterator[None]:
        with self._cond:
            self._waiting_writers += 1
            while self._writing or self._readers:
                self._cond.wait()
            self._waiting_writers -= 1
            self._writing = True
        try:
            yield
        finally:
            with self._cond:
                self._writing = False
                self._cond.notify_all()
