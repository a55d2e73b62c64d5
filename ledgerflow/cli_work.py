"""`ledgerflow work`: operators' actions on the work engine's work.

`retry-parked KIND` sends every parked item of a kind back to be tried again (as `POST
/status/work/{kind}/retry-parked`), each retry recorded on its aggregate with the
operator who asked: the operating system's user, as an `operator` actor.
"""

from __future__ import annotations

import asyncio
import getpass
from typing import Annotated

import typer

from adapters.work.parked import RetriedParked, UnknownParkedKind
from domain.access import Actor, Role
from ledgerflow.bootstrap import platform_session
from ledgerflow.data_dir import DEFAULT_DATA_DIR, DataDir, settings_with_database
from ledgerflow.logs import configure_logging
from ledgerflow.web import parked_work_desk

work_app = typer.Typer(help="Operators' actions on due and parked work.", no_args_is_help=True)


def operator_actor() -> Actor:
    """Who acts from the command line: an operator named after the operating system's user."""
    return Actor(Role.OPERATOR.value, getpass.getuser())


@work_app.command("retry-parked")
def retry_parked(
    kind: Annotated[str, typer.Argument(help="The kind of work, e.g. sms.send.")],
    data_dir: DataDir = DEFAULT_DATA_DIR,
) -> None:
    """Retry every parked item of a kind of work; say how many were retried."""
    from ledgerflow.cli import require_current_schema  # the entry point, loaded already

    settings = settings_with_database(data_dir)
    configure_logging("WARNING")
    require_current_schema(settings)
    actor = operator_actor()

    async def run() -> RetriedParked:
        async with platform_session(settings) as platform:
            return await parked_work_desk(platform).retry_all(kind, actor)

    try:
        retried = asyncio.run(run())
    except UnknownParkedKind as error:
        typer.echo(str(error), err=True)
        raise typer.Exit(2) from None
    typer.echo(
        f"{retried.kind}: {retried.retried} retried"
        + (f", {retried.skipped} no longer parked" if retried.skipped else "")
        + f" (by {actor.role}:{actor.subject})"
    )
