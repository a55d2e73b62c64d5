"""`ledgerflow work`: operators' actions on the work engine's work.

`retry-parked KIND` sends every parked item of a kind back to be tried again (as `POST
/status/work/{kind}/retry-parked`), each retry recorded on its aggregate with the
operator who asked: the operating system's user, as an `operator` actor. It is the same
action as the API's (`api.operator_actions.retry_parked`).
"""

from __future__ import annotations

import asyncio
import getpass
from typing import Annotated

import typer

from domain.access import Actor, Role
from ledgerflow.bootstrap import platform_session
from ledgerflow.data_dir import DEFAULT_DATA_DIR, DataDir, settings_with_database
from ledgerflow.logs import configure_logging
from ledgerflow.web import api_services

work_app = typer.Typer(help="Operators' actions on due and parked work.", no_args_is_help=True)


def operator_actor() -> Actor:
    """Who acts from the command line: an operator named after the operating system's user."""
    return Actor(Role.OPERATOR.value, getpass.getuser())


@work_app.command("retry-parked")
def retry_parked(
    kind: Annotated[str, typer.Argument(help="The kind of work, e.g. sms.send.")],
    data_dir: DataDir = DEFAULT_DATA_DIR,
) -> None:
    """Retry every parked item of a kind of work (sms.send, lending.assess, billing.charge,
    reimbursements.payment); say how many were retried."""
    from api.operator_actions import RetriedParked, UnknownParkedKind, retry_parked
    from ledgerflow.cli_common import require_current_schema

    settings = settings_with_database(data_dir)
    configure_logging("WARNING")
    require_current_schema(settings)
    actor = operator_actor()

    async def run() -> RetriedParked:
        async with platform_session(settings) as platform:
            return await retry_parked(api_services(platform), kind, actor)

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
