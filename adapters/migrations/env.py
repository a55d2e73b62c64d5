"""Alembic's environment: runs the revisions on the database `migrate` was given.

SQLAlchemy's `postgresql+psycopg` dialect on a psycopg 3 connection made from the URL
as libpq reads it, so every `DATABASE_URL` the platform takes works here too (the
embedded server's `?host=/socket/dir` among them). All pending revisions run in one
transaction that first takes the schema lock: a second `migrate` started meanwhile waits,
then finds the database at the head and does nothing.
"""

from __future__ import annotations

import psycopg
from alembic import context
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from adapters.migrations.revisions import VERSION_TABLE
from adapters.postgres import SCHEMA_LOCK_KEY


def run_migrations() -> None:
    if context.is_offline_mode():
        raise RuntimeError("ledgerflow's migrations run on a database, not as a SQL script")
    url = context.config.attributes.get("database_url")
    if not url:
        raise RuntimeError("no database to migrate: DATABASE_URL is not set")
    engine = create_engine(
        "postgresql+psycopg://", creator=lambda: psycopg.connect(url), poolclass=NullPool
    )
    try:
        with engine.connect() as connection:
            context.configure(
                connection=connection, version_table=VERSION_TABLE, transactional_ddl=True
            )
            with context.begin_transaction():
                connection.execute(
                    text("SELECT pg_advisory_xact_lock(:key)"), {"key": SCHEMA_LOCK_KEY}
                )
                context.run_migrations()
    finally:
        engine.dispose()


run_migrations()
