"""Resolving as of a catalog clock, on every SQL backend: a reader that took the clock before a switch
still gets the version that was live then, whole, until the janitor forgets it."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from assistant.domain import Chunk, Document
from assistant.storage.interfaces import Leftover
from assistant.storage.sql.catalog import SqlCatalog


def doc(version: str) -> Document:
    return Document(id="inv", kb="kb1", title=f"开票规范 {version}", version=version)


def chunks(version: str, texts: list[str]) -> list[Chunk]:
    return [Chunk(id=f"inv-{abs(hash(t)) % 10**10}", doc_id="inv", kb="kb1", ordinal=n, text=t) for n, t in enumerate(texts)]


SHARED = "开具电子发票需提供抬头和税号。"  # in both versions: its chunk id is kept by the switch
V1 = chunks("V1", ["确认收货后48小时内开具发票。", SHARED])
V2 = chunks("V2", ["确认收货后24小时内开具发票。", SHARED, "专票需要一般纳税人证明。"])


@pytest.fixture
def catalog(engine) -> SqlCatalog:
    catalog = SqlCatalog(engine)
    catalog.create_kb("kb1")
    return catalog


def versions_of(resolved) -> set[str]:
    return {item.version for item in resolved.values()}


def test_a_reader_that_took_the_clock_before_a_switch_sees_the_old_version_whole(catalog):
    catalog.replace_document(doc("V1"), V1)
    before = catalog.snapshot()
    catalog.replace_document(doc("V2"), V2)
    after = catalog.snapshot()
    assert after > before
    every_id = [c.id for c in V1 + V2]

    old = catalog.resolve(every_id, as_of=before)
    assert {c.id for c in V1} == set(old) and versions_of(old) == {"V1"}
    assert old[V1[1].id].chunk.ordinal == 1 and old[V1[1].id].title == "开票规范 V1"

    new = catalog.resolve(every_id, as_of=after)
    assert {c.id for c in V2} == set(new) and versions_of(new) == {"V2"}
    assert catalog.resolve(every_id) == new  # without a clock: what is live now


def test_a_first_version_is_invisible_to_a_reader_that_took_the_clock_before_it(catalog):
    before = catalog.snapshot()
    catalog.replace_document(doc("V1"), V1)
    assert catalog.resolve([c.id for c in V1], as_of=before) == {}
    assert versions_of(catalog.resolve([c.id for c in V1], as_of=catalog.snapshot())) == {"V1"}


def test_a_disabled_document_is_hidden_from_readers_of_every_clock(catalog):
    catalog.replace_document(doc("V1"), V1)
    before = catalog.snapshot()
    catalog.replace_document(doc("V2"), V2)
    catalog.set_disabled("inv", True)
    assert catalog.resolve([c.id for c in V1 + V2], as_of=before) == {}


def test_the_janitor_forgets_old_versions_and_purges_retired_chunks_only_after_the_grace(catalog):
    catalog.replace_document(doc("V1"), V1)
    before = catalog.snapshot()
    catalog.replace_document(doc("V2"), V2)
    retired = Leftover("kb1", V1[0].id)
    assert catalog.leftovers(grace_seconds=60) == []  # readers may still resolve as of before the switch
    later = datetime.now(timezone.utc) + timedelta(seconds=61)
    assert catalog.leftovers(grace_seconds=60, now=later) == [retired]

    assert catalog.drop_history(datetime.now(timezone.utc) - timedelta(seconds=60)) == 0
    assert versions_of(catalog.resolve([c.id for c in V1], as_of=before)) == {"V1"}
    assert catalog.drop_history(later) == len(V1)
    assert catalog.resolve([c.id for c in V1], as_of=before) == {}
