"""Which revision a database is at, against this code's: processes refuse to start on
any other."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import AsyncConnection

from adapters.migrations.revisions import (
    VERSION_TABLE,
    head_revisions,
    known_revisions,
    revisions_between,
)

MIGRATE_COMMAND = "ledgerflow db migrate"

_HAS_VERSION_TABLE = "SELECT to_regclass(%s) IS NOT NULL"
_STORED_REVISIONS = f"SELECT version_num FROM {VERSION_TABLE}"


class SchemaMismatch(RuntimeError):
    """The database's tables are not the ones this code was written for."""


class SchemaBehind(SchemaMismatch):
    """The database is at an older revision, or was never migrated: migrate it."""


class SchemaAhead(SchemaMismatch):
    """The database was migrated by a newer release than this one."""


@dataclass(frozen=True)
class SchemaState:
    stored: frozenset[str]
    """The revision(s) the database is at (empty: never migrated)."""
    heads: frozenset[str]
    """The revision(s) of this code."""
    known: frozenset[str]
    """Every revision this code has."""

    @property
    def unknown(self) -> frozenset[str]:
        """Stored revisions this code does not have: a newer release's."""
        return self.stored - self.known

    @property
    def pending(self) -> list[str]:
        """The revisions `migrate` would apply, oldest first."""
        return [] if self.unknown else revisions_between(self.stored, self.heads)

    def problem(self) -> SchemaMismatch | None:
        """What keeps this code from running on the database; None: nothing."""
        if self.unknown:
            return SchemaAhead(
                f"the database schema is at revision {_listed(self.unknown)}, which this"
                f" release of ledgerflow does not know (its newest is {_listed(self.heads)}):"
                " a newer release migrated it. Run that release, or restore the database"
            )
        if self.stored != self.heads:
            at = f"at {_listed(self.stored)}" if self.stored else "not migrated yet"
            return SchemaBehind(
                f"the database schema is older than this code: it is {at}, the code needs"
                f" {_listed(self.heads)}. Run `{MIGRATE_COMMAND}` first"
            )
        return None


def _listed(revisions: frozenset[str]) -> str:
    return ", ".join(sorted(revisions))


def state_of(stored: frozenset[str]) -> SchemaState:
    return SchemaState(stored, head_revisions(), known_revisions())


async def stored_revisions(conn: AsyncConnection[Any]) -> frozenset[str]:
    """The revision(s) the database is at; empty when it was never migrated."""
    cur = await conn.execute(_HAS_VERSION_TABLE, (VERSION_TABLE,))
    row = await cur.fetchone()
    if not row or not row[0]:
        return frozenset()
    cur = await conn.execute(_STORED_REVISIONS)
    return frozenset(str(version) for (version,) in await cur.fetchall())


def stored_revisions_of(database_url: str) -> frozenset[str]:
    """`stored_revisions`, on a connection of its own."""
    with psycopg.connect(database_url) as conn:
        row = conn.execute(_HAS_VERSION_TABLE, (VERSION_TABLE,)).fetchone()
        if not row or not row[0]:
            return frozenset()
        return frozenset(str(version) for (version,) in conn.execute(_STORED_REVISIONS))


async def check_schema(conn: AsyncConnection[Any]) -> None:
    """Raise `SchemaBehind` or `SchemaAhead` unless the database is at this code's
    revision."""
    problem = state_of(await stored_revisions(conn)).problem()
    if problem is not None:
        raise problem
