"""The platform's own tables, versioned: Alembic migrations in plain SQL.

`versions/` holds one revision per change, each an `op.execute` of SQL; `env.py` runs
them on the database under the schema lock, so concurrent `migrate` calls wait for one
another and the later ones find nothing to do. The event store's tables are not here:
the `eventsourcing` library creates its own.

Every process checks the database's revision when it opens the platform and refuses to
start on any other than its code's (`check_schema`): no process runs on tables it does
not know.
"""

from __future__ import annotations

import threading

from alembic import command

from adapters.migrations.revisions import (
    VERSION_TABLE,
    alembic_config,
    head_revisions,
    new_revision,
)
from adapters.migrations.state import (
    MIGRATE_COMMAND,
    SchemaAhead,
    SchemaBehind,
    SchemaMismatch,
    SchemaState,
    check_schema,
    state_of,
    stored_revisions_of,
)

__all__ = [
    "MIGRATE_COMMAND",
    "VERSION_TABLE",
    "SchemaAhead",
    "SchemaBehind",
    "SchemaMismatch",
    "SchemaState",
    "check_schema",
    "head_revisions",
    "migrate",
    "new_revision",
    "schema_state_of",
]


def schema_state_of(database_url: str) -> SchemaState:
    """The database's revision against this code's."""
    return state_of(stored_revisions_of(database_url))


# Alembic keeps the running migration's context in module globals: one at a time per
# process (processes wait for each other on the schema lock).
_one_at_a_time = threading.Lock()


def migrate(database_url: str) -> None:
    """Bring the database to this code's revision; nothing to do when it is there.
    Raises `SchemaAhead` on a database a newer release migrated."""
    problem = schema_state_of(database_url).problem()
    if isinstance(problem, SchemaAhead):
        raise problem
    with _one_at_a_time:
        command.upgrade(alembic_config(database_url), "heads")
