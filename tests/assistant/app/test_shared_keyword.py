"""Replicas share one keyword index in PostgreSQL: the setting that picks it, and two processes' views."""

from __future__ import annotations

import pytest

from assistant.app.container import Services
from assistant.app.settings import StorageSettings
from assistant.storage.keyword_pg import PostgresKeywordIndex
from assistant.storage.keyword_tantivy import TantivyKeywordIndex
from assistant.storage.sql.engine import temporary_database
from tests.assistant.storage.conftest import POSTGRES_URL
from tests.conftest import make_settings

PG = "postgresql+psycopg://db/assistant"
V1 = "# 开票规范\n版本：V3.1\n## 开票时间\n确认收货后48小时内开具电子发票。\n"
V2 = "# 开票规范\n版本：V3.2\n## 开票时间\n确认收货后24小时内开具电子发票。\n"


@pytest.mark.parametrize(
    ("storage", "engine"),
    [
        ({}, "tantivy"),  # the embedded default does not change
        ({"database_url": PG}, "tantivy"),  # PostgreSQL catalog, embedded Chroma: one process owns the data directory
        ({"database_url": PG, "chroma_url": "http://chroma:8000"}, "postgres"),  # shared storage: shared keywords
        ({"database_url": PG, "chroma_url": "http://chroma:8000", "keyword": "tantivy"}, "tantivy"),
        ({"database_url": PG, "keyword": "postgres"}, "postgres"),
    ],
)
def test_the_keyword_engine_is_postgresql_when_the_storage_is_shared_unless_set(storage, engine):
    assert StorageSettings(**storage).keyword_engine == engine


def test_the_embedded_default_builds_the_tantivy_index(tmp_path):
    assert isinstance(Services(make_settings(tmp_path / "data")).keyword, TantivyKeywordIndex)


@pytest.mark.services
def test_two_replicas_over_one_postgresql_find_each_other_s_documents_at_once(tmp_path):
    with temporary_database(POSTGRES_URL, "replicas") as url:
        def settings(name: str):
            return make_settings(tmp_path / name).with_updates(storage={"database_url": url, "keyword": "postgres"})

        with Services(settings("one")) as one, Services(settings("two")) as two:
            assert isinstance(one.keyword, PostgresKeywordIndex) and isinstance(two.keyword, PostgresKeywordIndex)
            one.catalog.create_kb("kb1")
            path = tmp_path / "invoice.md"
            path.write_text(V1, encoding="utf-8")
            assert one.ingestor(with_vectors=False).ingest_file(path, "kb1").status == "added"

            hits = two.retriever("bm25").search("发票多久开具", kb_ids=["kb1"], k=5)
            assert hits and "48小时" in hits[0].chunk.text, "the other replica finds it without a restart"

            path.write_text(V2, encoding="utf-8")
            assert two.ingestor(with_vectors=False).ingest_file(path, "kb1").status == "replaced"
            texts = [h.chunk.text for h in one.retriever("bm25").search("发票多久开具", kb_ids=["kb1"], k=5)]
            assert "24小时" in texts[0] and not any("48小时" in t for t in texts)
            assert one.keyword.count() == two.keyword.count() == two.catalog.count_chunks()
