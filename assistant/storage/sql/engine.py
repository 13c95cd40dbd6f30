"""Engines and migrations: one place that knows SQLite from PostgreSQL.

``open_database(url)`` makes the engine and brings the schema to the latest migration. A database
made by version 0.1 (tables from ``create_all``, no migration record) is recognised and stamped with
the first revision, so its data is kept and upgraded like any other.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Connection, create_engine, event, inspect, text
from sqlalchemy.engine import Engine, make_url

from assistant.errors import ConfigError

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).resolve().parents[1] / "migrations"
LEGACY_REVISION = "0001"  # what create_all made in 0.1
# The newest migration (a test checks it against the migrations folder). A database already there is
# opened without loading Alembic and its scripts at all: a few hundred milliseconds of every start.
HEAD_REVISION = "0007"
_LOCK_KEY = 733_820_240  # PostgreSQL advisory lock held while migrating: replicas start together


def make_engine(url: str) -> Engine:
    """An engine for ``url``; SQLite gets WAL (readers never block the writer) and foreign keys."""
    try:
        parsed = make_url(url)
    except Exception:
        raise ConfigError("ASSISTANT_DATABASE_URL is not a database URL (e.g. postgresql+psycopg://host/db)") from None
    if parsed.get_backend_name() == "postgresql" and parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")  # the driver we install
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(parsed, connect_args={"timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(parsed, pool_pre_ping=True)


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def migration_lock(conn: Connection) -> None:
    """Serialise migrations of processes starting at the same moment (PostgreSQL; SQLite locks itself)."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK_KEY})


def alembic_config(conn: Connection | None = None) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    if conn is not None:
        config.attributes["connection"] = conn
    return config


def stamp_legacy(conn: Connection) -> bool:
    """Record that a database made by 0.1 (tables, no migration record) is at the first revision."""
    from alembic.migration import MigrationContext
    from alembic.script import ScriptDirectory

    tables = set(inspect(conn).get_table_names())
    if "alembic_version" in tables or "kbs" not in tables:
        return False
    MigrationContext.configure(conn).stamp(ScriptDirectory(str(MIGRATIONS)), LEGACY_REVISION)
    return True


def migrate(engine: Engine, revision: str = "head") -> None:
    """Apply every migration up to ``revision`` (stamping a 0.1 database first)."""
    if revision == "head" and current_revision(engine) == HEAD_REVISION:
        return
    from alembic import command

    with engine.begin() as conn:
        migration_lock(conn)
        stamp_legacy(conn)
        command.upgrade(alembic_config(conn), revision)


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        if "alembic_version" not in inspect(conn).get_table_names():
            return None
        return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()


def open_database(url: str) -> Engine:
    engine = make_engine(url)
    migrate(engine)
    return engine


@contextmanager
def temporary_database(url: str, prefix: str = "scratch") -> Iterator[str]:
    """A new, empty PostgreSQL database on ``url``'s server for the block (its URL), dropped after:
    eval runs and tests that must not share tables with anyone."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "postgresql":
        raise ConfigError(f"a temporary database needs a PostgreSQL URL, not {parsed.get_backend_name()}")
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    admin = make_engine(url).execution_options(isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            yield parsed.set(database=name).render_as_string(hide_password=False)
        finally:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.engine.dispose()
