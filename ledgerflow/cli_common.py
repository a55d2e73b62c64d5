"""What every command of the command line shares: failing with a reason, and refusing
to run against a database whose tables are not at this release's revision."""

from __future__ import annotations

from typing import NoReturn

import typer

from ledgerflow.settings import Settings


def fail(message: str) -> NoReturn:
    typer.echo(f"ledgerflow: {message}", err=True)
    raise typer.Exit(1)


def require_current_schema(settings: Settings) -> None:
    """Stop here, with the reason and the way out, unless the database's tables are at
    this release's revision (the platform would refuse to open further on anyway)."""
    from adapters.migrations import SchemaMismatch, schema_state_of

    if not settings.database_url:
        return  # the platform says what is missing when it opens
    problem: SchemaMismatch | None = schema_state_of(settings.database_url).problem()
    if problem is not None:
        fail(str(problem))
