"""`ledgerflow set-aside`: the events followers could not apply, and operators' decisions.

`list` and `show` read the items; `retry` and `skip` ask their followers to carry a
decision out, then wait (`--wait` seconds) to say what came of it. The followers must be
running (`ledgerflow worker projections`, a workflow's worker, `ledgerflow worker relay`)
for a request to be carried out; one left waiting is carried out when they start.
"""

from __future__ import annotations

import asyncio
import getpass
import time
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Annotated, TypeVar

import typer
from rich.console import Console

from adapters.set_aside.desk import (
    ItemState,
    SetAsideAction,
    SetAsideDesk,
    SetAsideItem,
)
from domain.errors import DomainError
from ledgerflow.cli_tables import Rows
from ledgerflow.data_dir import DEFAULT_DATA_DIR, DataDir, settings_with_database
from ledgerflow.logs import configure_logging

T = TypeVar("T")

set_aside_app = typer.Typer(
    help="Events followers could not apply: list them, retry them after a fix, skip them.",
    no_args_is_help=True,
)

POLL_SECONDS = 0.2


def cli_actor() -> str:
    """Who acts from the command line: the operating system's user."""
    return f"cli:{getpass.getuser()}"


def set_aside_table(items: Sequence[SetAsideItem]) -> Rows:
    table = Rows(
        ("id", "follower", "log", "aggregate", "event", "error", "since", "waiting"),
        title="set aside",
    )
    for item in items:
        table.add(
            str(item.id),
            item.follower,
            item.log,
            str(item.aggregate_id),
            f"{item.topic.rsplit('.', 1)[-1]} v{item.version} #{item.notification_id}",
            f"{item.error_type}: {item.error}",
            item.set_aside_at.isoformat(timespec="seconds"),
            str(item.waiting),
        )
    return table


@set_aside_app.command("list")
def list_items(
    state: Annotated[ItemState, typer.Option(help="open, closed or all.")] = ItemState.OPEN,
    follower: Annotated[str | None, typer.Option(help="Only this follower's.")] = None,
    limit: Annotated[int, typer.Option(min=1)] = 100,
    data_dir: DataDir = DEFAULT_DATA_DIR,
) -> None:
    """Set-aside items, oldest first."""
    items = _with_desk(
        data_dir, lambda desk, _: desk.items(state=state, follower=follower, limit=limit)
    )
    console = Console()
    console.print(set_aside_table(items) if items else f"no {state.value} set-aside items")


@set_aside_app.command("show")
def show(
    item_id: Annotated[int, typer.Argument(help="The item's id.")],
    data_dir: DataDir = DEFAULT_DATA_DIR,
) -> None:
    """One item: its event, error, the events waiting behind it and every request."""

    async def read(desk: SetAsideDesk) -> tuple[SetAsideItem, list[SetAsideAction], int]:
        item = await desk.item(item_id)
        return item, await desk.actions(item_id), len(await desk.waiting(item_id))

    item, actions, waiting = _with_desk(data_dir, lambda desk, _: read(desk))
    console = Console()
    console.print(set_aside_table([item]))
    if item.resolution:
        reason = f": {item.reason}" if item.reason else ""
        console.print(f"{item.resolution} by {item.resolved_by} at {item.resolved_at}{reason}")
    history = Rows(("action", "by", "reason", "requested", "done", "outcome", "applied", "error"))
    for action in actions:
        history.add(
            action.action,
            action.actor,
            action.reason or "",
            action.requested_at.isoformat(timespec="seconds"),
            action.done_at.isoformat(timespec="seconds") if action.done_at else "",
            action.outcome or "waiting",
            "" if action.applied is None else str(action.applied),
            action.error or "",
        )
    console.print(history if actions else f"no requests yet; {waiting} events waiting")


@set_aside_app.command("retry")
def retry(
    item_ids: Annotated[list[int] | None, typer.Argument(help="Items to retry.")] = None,
    follower: Annotated[
        str | None, typer.Option(help="Retry every open item of this follower.")
    ] = None,
    wait: Annotated[float, typer.Option(help="Seconds to wait for the outcome.")] = 30.0,
    data_dir: DataDir = DEFAULT_DATA_DIR,
) -> None:
    """Apply set-aside events again, with the events waiting behind them, after a fix."""
    if not item_ids and not follower:
        raise typer.BadParameter("name items, or a --follower whose open items to retry")
    actor = cli_actor()

    async def ask(desk: SetAsideDesk, item_id: int, now: datetime) -> SetAsideAction:
        return await desk.retry(item_id, actor=actor, now=now)

    _decide(data_dir, item_ids or [], follower, wait, ask)


@set_aside_app.command("skip")
def skip(
    item_ids: Annotated[list[int], typer.Argument(help="Items to skip.")],
    reason: Annotated[str, typer.Option(help="Why their events are never applied.")],
    wait: Annotated[float, typer.Option(help="Seconds to wait for the outcome.")] = 30.0,
    data_dir: DataDir = DEFAULT_DATA_DIR,
) -> None:
    """Never apply set-aside events nor those waiting behind them, for a reason."""
    if not reason.strip():
        raise typer.BadParameter("a skip needs a reason")
    actor = cli_actor()

    async def ask(desk: SetAsideDesk, item_id: int, now: datetime) -> SetAsideAction:
        return await desk.skip(item_id, actor=actor, now=now, reason=reason)

    _decide(data_dir, item_ids, None, wait, ask)


Ask = Callable[[SetAsideDesk, int, datetime], Awaitable[SetAsideAction]]


def _decide(
    data_dir: Path, item_ids: list[int], follower: str | None, wait: float, ask: Ask
) -> None:
    """Ask for each item, then say what came of each; exit 1 if any was refused or
    failed again."""

    async def run(desk: SetAsideDesk, now: Callable[[], datetime]) -> list[tuple[str, bool]]:
        chosen = list(item_ids)
        if follower:
            chosen += [item.id for item in await desk.items(follower=follower, limit=10_000)]
        if not chosen:
            return [(f"{follower}: nothing set aside", True)]
        requested: dict[int, SetAsideAction] = {}
        refused: list[tuple[str, bool]] = []
        for item_id in chosen:
            try:
                requested[item_id] = await ask(desk, item_id, now())
            except DomainError as error:
                refused.append((f"item {item_id}: refused: {error}", False))
        return refused + await _outcomes(desk, requested, wait)

    lines = _with_desk(data_dir, run)
    for line, _ in lines:
        typer.echo(line)
    if not all(ok for _, ok in lines):
        raise typer.Exit(1)


async def _outcomes(
    desk: SetAsideDesk, requested: dict[int, SetAsideAction], wait: float
) -> list[tuple[str, bool]]:
    """What came of each request (and whether it went well), waiting up to `wait`
    seconds for the followers to carry them out."""
    deadline = time.monotonic() + wait
    done: dict[int, SetAsideAction] = {}
    while True:
        for item_id, action in requested.items():
            if item_id not in done:
                [now] = [a for a in await desk.actions(item_id) if a.id == action.id]
                if now.done_at is not None:
                    done[item_id] = now
        if len(done) == len(requested) or time.monotonic() >= deadline:
            break
        await asyncio.sleep(POLL_SECONDS)
    return [
        _outcome(item_id, done[item_id])
        if item_id in done
        else (
            f"item {item_id}: {action.action} requested; its follower carries it out when it runs",
            True,
        )
        for item_id, action in requested.items()
    ]


def _outcome(item_id: int, action: SetAsideAction) -> tuple[str, bool]:
    if action.outcome == "applied":
        return f"item {item_id}: retried, {action.applied} events applied", True
    if action.outcome == "failed":
        return (
            f"item {item_id}: failed again, {action.applied} events applied before: {action.error}",
            False,
        )
    return f"item {item_id}: {action.outcome}", action.outcome != "superseded"


def _with_desk(
    data_dir: Path, use: Callable[[SetAsideDesk, Callable[[], datetime]], Awaitable[T]]
) -> T:
    """Run `use` with the desk and the platform's clock, on this release's database."""
    from ledgerflow.bootstrap import platform_session
    from ledgerflow.cli_common import require_current_schema

    settings = settings_with_database(data_dir)
    configure_logging("WARNING")
    require_current_schema(settings)

    async def run() -> T:
        async with platform_session(settings, only=()) as platform:
            return await use(SetAsideDesk(platform.pool), platform.clock.now)

    try:
        return asyncio.run(run())
    except DomainError as error:
        typer.echo(f"ledgerflow: {error}", err=True)
        raise typer.Exit(1) from error
