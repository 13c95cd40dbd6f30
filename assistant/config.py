"""The one home of configuration: environment variables prefixed ``ASSISTANT_`` (or a ``.env``)."""

from __future__ import annotations

from functools import cached_property
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ASSISTANT_", env_file=".env", extra="ignore")

    data_dir: Path = Field(Path(".assistant"), description="Holds every index and store; never shared.")

    # Models. "use" is the multilingual Universal Sentence Encoder shipped in a PyPI package;
    # anything else is a sentence-transformers model directory (or a name the user can load).
    embedder: str = "use"
    reranker: str = "ms-marco-en"  # "none" disables the cross-encoder stage

    # Retrieval.
    bm25_candidates: int = 50
    vector_candidates: int = 50
    rrf_k: int = 60
    bm25_weight: float = 1.0
    vector_weight: float = 1.0
    rerank_depth: int = 20
    top_k: int = 5

    # Answering.
    max_answer_sentences: int = 3
    max_sources: int = 3
    # Evidence below both floors is refused: best cosine similarity of a passage to the question,
    # and the weighted share of the question's content terms found in the best passages.
    min_vector_similarity: float = 0.45
    min_term_coverage: float = 0.5

    # Ingestion.
    chunk_size: int = 400  # characters
    chunk_overlap: int = 60
    max_upload_mb: int = 50

    # Server.
    host: str = "127.0.0.1"
    port: int = 8000

    @cached_property
    def db_url(self) -> str:
        return f"sqlite:///{(self.data_dir / 'assistant.db').resolve()}"

    @property
    def chroma_dir(self) -> Path:
        return self.data_dir / "chroma"

    @property
    def keyword_dir(self) -> Path:
        return self.data_dir / "keyword"
