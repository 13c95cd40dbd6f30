"""Migrations: the schema comes from Alembic, matches the code's metadata on every backend, and a data
directory made by version 0.1 (``tests/fixtures/data-v0.1``) is upgraded with its data still answerable."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text

from assistant.app.container import Services
from assistant.storage.sql.engine import (
    MIGRATIONS,
    alembic_config,
    current_revision,
    make_engine,
)
from assistant.storage.sql.schema import metadata
from tests.assistant.storage.conftest import POSTGRES_URL, postgres_admin
from tests.conftest import make_settings

REPO = Path(__file__).resolve().parents[3]
FIXTURE = REPO / "tests" / "fixtures" / "data-v0.1"
HEAD = ScriptDirectory.from_config(alembic_config()).get_current_head()


def test_the_migrated_schema_is_exactly_the_code_s_metadata(engine):
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    assert diff == [], "a table changed without a migration (or the reverse)"
    assert current_revision(engine) == HEAD


def test_migrating_twice_changes_nothing(engine):
    from assistant.storage.sql.engine import migrate

    migrate(engine)
    assert current_revision(engine) == HEAD


@pytest.fixture
def old_data_dir(tmp_path) -> Path:
    copy = tmp_path / "data-v0.1"
    shutil.copytree(FIXTURE, copy)
    return copy


def test_a_data_directory_of_version_0_1_is_upgraded_and_still_answers(old_data_dir):
    engine = make_engine(f"sqlite:///{old_data_dir / 'assistant.db'}")
    assert current_revision(engine) is None and "kbs" in inspect(engine).get_table_names()
    engine.dispose()
    with Services(make_settings(old_data_dir)) as services:
        assert current_revision(services.engine) == HEAD
        assert sorted(d.id for d, _ in services.catalog.list_documents()) == ["e-invoice", "faq", "returns-refunds"]
        assert services.keyword.count() == services.catalog.count_chunks() == 84, "no rebuild, nothing lost"
        answer = services.default_pipeline.ask("电子发票怎么开？")
        cited = {c.doc_id: c for c in answer.citations}
        assert not answer.refused and "e-invoice" in cited
        assert cited["e-invoice"].version == "V3.2" and cited["e-invoice"].page
        turns = services.conversations.recent("api:fixture-1", 10)
        assert [t.text for t in turns][0] == "电子发票怎么开？" and len(turns) == 4
        assert turns[0].embedding is not None and turns[0].embedding.shape == (512,)
        follow = services.default_pipeline.ask("那专票呢？", conversation_id="api:fixture-1")
        assert follow.trace.rewritten and "专票" in follow.trace.rewritten
        (job_id,) = [row[0] for row in services.engine.connect().execute(text("SELECT id FROM jobs"))]
        job = services.jobs.get(job_id)
        assert job.status == "done" and job.files[0]["source"] == "returns-refunds.md"


def _alembic(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    alembic = Path(sys.executable).parent / "alembic"
    return subprocess.run([str(alembic), *args], cwd=REPO, env={**os.environ, **env},
                          capture_output=True, text=True, timeout=120)


def test_alembic_upgrade_head_migrates_an_old_data_directory_from_the_command_line(old_data_dir):
    done = _alembic("upgrade", "head", env={"ASSISTANT_DATA_DIR": str(old_data_dir)})
    assert done.returncode == 0, done.stderr
    engine = make_engine(f"sqlite:///{old_data_dir / 'assistant.db'}")
    assert current_revision(engine) == HEAD
    with engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), metadata) == []
        assert conn.execute(text("SELECT count(*) FROM chunks")).scalar() == 84
    engine.dispose()
    with Services(make_settings(old_data_dir)) as services:
        assert not services.default_pipeline.ask("退款多久到账？").refused


@pytest.mark.services
def test_alembic_upgrade_head_creates_the_schema_in_an_empty_postgresql_database():
    admin = postgres_admin()
    name = f"assistant_{uuid.uuid4().hex[:10]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = POSTGRES_URL.rsplit("/", 1)[0] + f"/{name}"
    try:
        done = _alembic("upgrade", "head", env={"ASSISTANT_DATABASE_URL": url})
        assert done.returncode == 0, done.stderr
        engine = make_engine(url)
        assert current_revision(engine) == HEAD
        with engine.connect() as conn:
            assert compare_metadata(MigrationContext.configure(conn), metadata) == []
        engine.dispose()
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
        admin.dispose()


def test_migrations_live_in_the_package():
    assert (MIGRATIONS / "env.py").is_file() and sorted(p.name for p in (MIGRATIONS / "versions").glob("0*.py"))


def test_the_head_revision_the_engine_knows_is_the_newest_migration():
    """Opening a database already at HEAD_REVISION skips Alembic: a new migration must move it."""
    from alembic.script import ScriptDirectory

    from assistant.storage.sql.engine import HEAD_REVISION, MIGRATIONS

    assert ScriptDirectory(str(MIGRATIONS)).get_current_head() == HEAD_REVISION
