"""Alembic's entry point. The assistant passes its own connection (``assistant.storage.sql.engine.migrate``);
the ``alembic`` command line gets the URL from ``-x url=...`` or from the assistant's settings."""

from __future__ import annotations

from alembic import context

from assistant.storage.sql.schema import metadata

config = context.config


def _url() -> str:
    given = context.get_x_argument(as_dictionary=True).get("url")
    if given:
        return given
    from assistant.app.settings import (
        Settings,  # the command line reads ASSISTANT_* like the app
    )

    return Settings().storage.url()


def run() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
        return
    from assistant.storage.sql.engine import make_engine, migration_lock, stamp_legacy

    engine = make_engine(_url())
    with engine.begin() as conn:
        migration_lock(conn)
        stamp_legacy(conn)  # a 0.1 database: its tables exist, its migration record does not
        context.configure(connection=conn, target_metadata=metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


if context.is_offline_mode():
    context.configure(url=_url(), target_metadata=metadata, literal_binds=True, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    run()
