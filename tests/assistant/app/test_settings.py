"""Settings come in groups from ASSISTANT_* variables; where state lives has short names; building them is free."""

from __future__ import annotations

import json

import pytest

from assistant.app.container import Services
from assistant.app.settings import Settings
from assistant.errors import ConfigError


def test_groups_are_read_from_nested_variables_and_llm_backends_are_a_list(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)  # no .env from the developer's checkout
    monkeypatch.setenv("ASSISTANT_RETRIEVAL__TOP_K", "8")
    monkeypatch.setenv("ASSISTANT_ANSWERING__MIN_TERM_COVERAGE", "0.4")
    monkeypatch.setenv("ASSISTANT_LLM__BACKENDS", json.dumps([
        {"base_url": "http://127.0.0.1:8080/v1", "model": "qwen2.5"},
        {"base_url": "https://api.example.com/v1", "model": "deepseek-chat", "api_key": "sk-made-up-123"},
    ]))
    monkeypatch.setenv("ASSISTANT_LLM__BREAKER__SLOW_SECONDS", "120")
    monkeypatch.setenv("ASSISTANT_ERP__BASE_URL", "http://erp.internal:9000")
    settings = Settings()
    assert settings.retrieval.top_k == 8 and settings.answering.min_term_coverage == 0.4
    assert [b.model for b in settings.llm.backends] == ["qwen2.5", "deepseek-chat"]
    assert settings.llm.breaker.slow_seconds == 120 and settings.erp.base_url == "http://erp.internal:9000"
    assert "sk-made-up-123" not in repr(settings) and "sk-made-up-123" not in settings.model_dump_json()
    backends = Services(settings)._llm_backends()
    assert [b.name for b in backends] == ["primary", "secondary"]


def test_where_state_lives_has_short_names(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ASSISTANT_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("ASSISTANT_DATABASE_URL", "postgresql+psycopg://db.internal/assistant")
    monkeypatch.setenv("ASSISTANT_CHROMA_URL", "http://chroma.internal:8000")
    storage = Settings().storage
    assert storage.data_dir == tmp_path / "data"
    assert storage.url() == "postgresql+psycopg://db.internal/assistant" and storage.shared
    monkeypatch.delenv("ASSISTANT_DATABASE_URL")
    assert Settings().storage.url() == f"sqlite:///{(tmp_path / 'data' / 'assistant.db').resolve()}"


def test_a_dot_env_file_is_read_too(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text("ASSISTANT_RETRIEVAL__RERANK_DEPTH=7\nASSISTANT_DATA_DIR=from-dotenv\n")
    settings = Settings()
    assert settings.retrieval.rerank_depth == 7 and settings.storage.data_dir.name == "from-dotenv"


def test_a_renamed_setting_is_named_with_its_new_name_and_its_value_is_never_shown(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ASSISTANT_LLM_API_KEY", "sk-secret-value-77")
    monkeypatch.setenv("ASSISTANT_CHUNK_SIZE", "300")
    with pytest.raises(ConfigError) as error:
        Settings()
    message = str(error.value)
    assert "ASSISTANT_LLM_API_KEY -> ASSISTANT_LLM__BACKENDS" in message
    assert "ASSISTANT_CHUNK_SIZE -> ASSISTANT_INGESTION__CHUNK_SIZE" in message
    assert "sk-secret-value-77" not in message


def test_building_the_container_touches_nothing(tmp_path):
    data = tmp_path / "never-created"
    services = Services(Settings(storage={"data_dir": data}))
    assert services.pipeline is not None and not data.exists()
    assert not {"engine", "embedder", "catalog", "keyword", "vector"} & set(vars(services)), "nothing built yet"


def test_bad_values_name_their_variable_and_never_echo_what_was_given(monkeypatch, tmp_path):
    from assistant.app.settings import load_settings

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ASSISTANT_RETRIEVAL__TOP_K", "0")
    monkeypatch.setenv("ASSISTANT_LLM__BACKENDS", '[{"model": "m", "api_key": "sk-no-url-secret-5"}]')
    with pytest.raises(ConfigError) as error:
        load_settings()
    message = str(error.value)
    assert "ASSISTANT_RETRIEVAL__TOP_K (retrieval.top_k): Input should be greater than or equal to 1" in message
    assert "ASSISTANT_LLM__BACKENDS__BASE_URL (llm.backends.0.base_url): Field required" in message
    assert "sk-no-url-secret-5" not in message


def test_the_redis_url_is_the_gateways_too_unless_the_gateway_names_its_own(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ASSISTANT_REDIS_URL", "redis://shared:6379/0")
    assert Settings().connectors.gateway.redis_url == "redis://shared:6379/0"
    monkeypatch.setenv("ASSISTANT_CONNECTORS__GATEWAY__REDIS_URL", "redis://gateway:6379/1")
    assert Settings().connectors.gateway.redis_url == "redis://gateway:6379/1"
