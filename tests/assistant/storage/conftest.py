"""Backends for the storage contract suites: every SQL suite runs on SQLite and, marked ``services``,
on the PostgreSQL at 127.0.0.1:5432 (database ``test``), each test in a schema of its own, dropped after."""

from __future__ import annotations

import os
import uuid

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine

from assistant.storage.sql.engine import make_engine, migrate

POSTGRES_URL = os.environ.get("ASSISTANT_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def postgres_admin() -> Engine:
    engine = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:  # a services test must not pass without its service
        pytest.fail(
            f"PostgreSQL is not reachable at {POSTGRES_URL} ({exc.__class__.__name__}); start it, "
            "or deselect these tests with -m 'not services'"
        )
    return engine


def postgres_schema_engine(schema: str) -> Engine:
    return make_engine(f"{POSTGRES_URL}?options=-csearch_path%3D{schema}")


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.services)])
def engine(request, tmp_path):
    """A migrated, empty database on each backend."""
    if request.param == "sqlite":
        engine = make_engine(f"sqlite:///{tmp_path / 'contract.db'}")
        migrate(engine)
        yield engine
        engine.dispose()
        return
    admin = postgres_admin()
    schema = f"contract_{uuid.uuid4().hex[:12]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    engine = postgres_schema_engine(schema)
    try:
        migrate(engine)
        yield engine
    finally:
        engine.dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()
