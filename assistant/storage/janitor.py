"""Keeps the indexes in line with the catalog: purges chunks that are no longer (or never became) live.

The ingestion job purges right after each switch when its process owns the storage; on shared storage
it leaves the retired chunks to the janitor, which purges them ``retire_grace_seconds`` after their
switch (readers of other processes may still be resolving as of before it) and then forgets the
versions the catalog kept for those readers. The janitor also finds what a crashed writer left, from
the catalog's ledger (safe while other processes write) or, for a process that owns the storage
alone, by comparing every index entry with the catalog.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta, timezone

from assistant.storage.interfaces import (
    WHOLE_KB,
    Catalog,
    KeywordIndex,
    VectorIndex,
    Visibility,
)

log = logging.getLogger(__name__)

BATCH = 10_000


class IndexJanitor:
    def __init__(self, catalog: Catalog, keyword: KeywordIndex, vector: VectorIndex, gate: Visibility, *,
                 retire_grace_seconds: float = 0):
        self.retire_grace_seconds = retire_grace_seconds
        self.catalog = catalog
        self.keyword = keyword
        self.vector = vector
        self.gate = gate

    def purge(self, kb: str, chunk_ids: list[str]) -> None:
        """Remove chunks that are not live from both indexes, then forget them in the ledger.
        Call it inside ``gate.switching()`` when the chunks were live a moment ago."""
        if not chunk_ids:
            return
        self.keyword.apply(remove_ids=chunk_ids)
        self.vector.delete(kb, chunk_ids)
        self.catalog.settle(kb, chunk_ids)

    def drop_kb(self, kb: str) -> None:
        """A deleted knowledge base leaves both indexes (the catalog deleted it already)."""
        self.keyword.delete_kb(kb)
        self.vector.delete_kb(kb)
        self.catalog.settle(kb, [WHOLE_KB])

    def sweep_leftovers(self) -> int:
        """Purge what the ledger lists: chunks retired by a switch whose purge never ran, and chunks
        staged by a writer that died. Returns how many index entries were purged."""
        removed = 0
        while True:
            leftovers = self.catalog.leftovers(limit=BATCH, grace_seconds=self.retire_grace_seconds)
            if not leftovers:
                break
            by_kb: dict[str, list[str]] = {}
            for item in leftovers:
                by_kb.setdefault(item.kb, []).append(item.chunk_id)
            with self.gate.switching():
                for kb, ids in by_kb.items():
                    if WHOLE_KB in ids:
                        removed += self._sweep_deleted_kb(kb)
                    chunk_ids = [i for i in ids if i != WHOLE_KB]
                    self.purge(kb, chunk_ids)
                    removed += len(chunk_ids)
            if len(leftovers) < BATCH:
                break
        # After the purge: a version is forgotten no sooner than its chunks leave the indexes.
        self.catalog.drop_history(datetime.now(timezone.utc) - timedelta(seconds=self.retire_grace_seconds))
        if removed:
            log.info("purged %d index entries left by writers that stopped", removed)
        return removed

    def _sweep_deleted_kb(self, kb: str) -> int:
        if not self.catalog.kb_exists(kb):
            self.drop_kb(kb)
            return 0
        # Deleted, then created again: only entries the new KB does not list belong to the old one.
        live = set(self.catalog.chunk_ids_of_kb(kb))
        stale = sorted((self.keyword.ids_by_kb().get(kb, set()) | set(self.vector.ids(kb))) - live)
        self.purge(kb, stale)
        self.catalog.settle(kb, [WHOLE_KB])
        return len(stale)

    def sweep_orphans(self) -> int:
        """Remove every index entry the catalog does not list, by comparing them all.

        Only for a process that owns the storage alone (``StorageLock.exclusive``): it cannot tell
        another writer's chunks in flight from a dead one's. Also finds what versions before the
        ledger left behind.
        """
        removed = self.sweep_leftovers()
        with self.gate.switching():
            live_by_kb = {kb.name: set(self.catalog.chunk_ids_of_kb(kb.name)) for kb in self.catalog.list_kbs()}
            for kb, ids in self.keyword.ids_by_kb().items():
                stale = sorted(ids - live_by_kb.get(kb, set()))
                if stale:
                    self.keyword.apply(remove_ids=stale)
                    removed += len(stale)
            for kb in self.vector.kbs():
                stale = sorted(set(self.vector.ids(kb)) - live_by_kb.get(kb, set()))
                if stale:
                    self.vector.delete(kb, stale)
                    removed += len(stale)
        return removed
