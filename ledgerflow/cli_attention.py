"""`ledgerflow attention`: everything waiting for an operator, across the workflows (the
list `GET /status/attention` and the console show), and `--retry` to retry what the
filter selects through each workflow's own service, as the API does; `ledgerflow
dead-letter replay|discard ID...` decides on dead letters.

The API's modules are imported when a command runs, not when the CLI starts.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, TypeVar

import typer

from domain.access import Actor, Role
from domain.errors import DomainError
from ledgerflow.cli_set_aside import cli_actor
from ledgerflow.cli_tables import Rows
from ledgerflow.data_dir import DEFAULT_DATA_DIR, DataDir, settings_with_database
from ledgerflow.logs import configure_logging
from ledgerflow.settings import Settings

if TYPE_CHECKING:
    from adapters.attention import AttentionFilter, AttentionItem
    from adapters.messaging.dead_letter_desk import Decision
    from api.operator_actions import RetryOutcome
    from api.services import ApiServices


async def waiting(
    settings: Settings, only: AttentionFilter
) -> tuple[datetime, list[AttentionItem]]:
    from api.operator_actions import attention_of
    from ledgerflow.bootstrap import platform_session
    from ledgerflow.web import api_services

    async with platform_session(settings, only=()) as platform:
        items = await attention_of(api_services(platform)).items(only)
        return platform.clock.now(), items


async def retry_waiting(settings: Settings, only: AttentionFilter) -> list[RetryOutcome]:
    """Retry what `only` selects, as the operator running the command."""
    from api.operator_actions import retry_all
    from ledgerflow.bootstrap import platform_session
    from ledgerflow.web import api_services

    async with platform_session(settings) as platform:
        actor = Actor(Role.OPERATOR.value, cli_actor())
        return await retry_all(api_services(platform), only, actor)


def attention_table(items: Sequence[AttentionItem], now: datetime) -> Rows:
    from api.console.formatting import age
    from api.operator_actions import retry_of

    table = Rows(
        ("workflow", "kind", "key", "waiting", "reason", "last error", "retry"),
        title="waiting for an operator, oldest first",
    )
    for item in items:
        table.add(
            item.workflow,
            item.kind.value,
            item.key,
            age(now, item.since),
            item.reason or "",
            (item.last_error or "") if item.last_error != item.reason else "",
            "yes" if retry_of(item.workflow, item.kind) else "",
        )
    return table


def retried_table(outcomes: Sequence[RetryOutcome]) -> Rows:
    table = Rows(("workflow", "kind", "key", "outcome"), title="retried")
    for outcome in outcomes:
        item = outcome.item
        table.add(item.workflow, item.kind.value, item.key, outcome.error or "retried")
    return table


def run_attention(settings: Settings, only: AttentionFilter, retry: bool) -> list[Rows | str]:
    if retry:
        outcomes = asyncio.run(retry_waiting(settings, only))
        return [retried_table(outcomes) if outcomes else "nothing to retry"]
    now, items = asyncio.run(waiting(settings, only))
    return [attention_table(items, now) if items else "nothing waits for an operator"]


dead_letter_app = typer.Typer(
    help="Dead letters (listed by `ledgerflow attention --kind dead_letter`): replay them"
    " onto their command queue after a fix, or discard them; `decisions` lists who did.",
    no_args_is_help=True,
)

K = TypeVar("K", int, str)


def _decide(
    data_dir: Path,
    act: Callable[[ApiServices, K, Actor], Awaitable[str]],
    ids: list[K],
    *,
    workflows: tuple[str, ...] = (),
) -> None:
    """Take `act` on each of `ids` as the operator running the command, with the
    `workflows` whose services it uses open; exits 1 unless every one was taken."""
    from ledgerflow.bootstrap import platform_session
    from ledgerflow.cli_common import require_current_schema
    from ledgerflow.web import api_services

    settings = settings_with_database(data_dir)
    configure_logging("WARNING")
    require_current_schema(settings)
    actor = Actor(Role.OPERATOR.value, cli_actor())

    async def run() -> list[tuple[str, bool]]:
        outcomes = []
        async with platform_session(settings, only=workflows) as platform:
            services = api_services(platform)
            for one in ids:
                try:
                    done = await act(services, one, actor)
                except DomainError as error:
                    outcomes.append((f"{one}: {error}", False))
                else:
                    outcomes.append((f"{one}: {done}", True))
        return outcomes

    outcomes = asyncio.run(run())
    for line, _ in outcomes:
        typer.echo(line)
    if not all(ok for _, ok in outcomes):
        raise typer.Exit(1)


Note = Annotated[str | None, typer.Option(help="Why: kept with each decision.")]


@dead_letter_app.command("replay")
def replay(keys: list[str], note: Note = None, data_dir: DataDir = DEFAULT_DATA_DIR) -> None:
    """Put dead-lettered commands back on their queues (KEYS as the attention list names
    them); each decision is recorded with the operator running the command."""
    from api.operator_actions import replay_dead_letter

    async def act(services: ApiServices, key: str, actor: Actor) -> str:
        return f"back on {(await replay_dead_letter(services, key, actor, note)).back_on}"

    _decide(data_dir, act, keys)


@dead_letter_app.command("discard")
def discard(keys: list[str], note: Note = None, data_dir: DataDir = DEFAULT_DATA_DIR) -> None:
    """Drop dead letters for good; each decision is recorded."""
    from api.operator_actions import discard_dead_letter

    async def act(services: ApiServices, key: str, actor: Actor) -> str:
        await discard_dead_letter(services, key, actor, note)
        return "discarded"

    _decide(data_dir, act, keys)


@dead_letter_app.command("decisions")
def decisions(
    limit: Annotated[int, typer.Option(min=1, max=500, help="At most this many.")] = 20,
    data_dir: DataDir = DEFAULT_DATA_DIR,
) -> None:
    """Operators' decisions on dead letters, newest first (as
    `GET /status/dead-letters/decisions`)."""
    from rich.console import Console

    from ledgerflow.cli_common import require_current_schema

    settings = settings_with_database(data_dir)
    configure_logging("WARNING")
    require_current_schema(settings)
    found = asyncio.run(recent_decisions(settings, limit))
    Console().print(decisions_table(found) if found else "no decisions on dead letters yet")


async def recent_decisions(settings: Settings, limit: int) -> list[Decision]:
    from api.operator_actions import dead_letters_of
    from ledgerflow.bootstrap import platform_session
    from ledgerflow.web import api_services

    async with platform_session(settings, only=()) as platform:
        return (await dead_letters_of(api_services(platform)).decisions(limit)).items


def decisions_table(found: Sequence[Decision]) -> Rows:
    table = Rows(
        ("decided at", "decision", "letter", "queue", "message", "by", "note"),
        title="decisions on dead letters, newest first",
    )
    for one in found:
        table.add(
            one.decided_at.isoformat(timespec="seconds"),
            one.decision,
            one.letter,
            one.queue,
            one.message_id,
            f"{one.actor_role}:{one.actor_subject}",
            one.note or "",
        )
    return table


invoice_app = typer.Typer(help="Invoices an operator decides on.", no_args_is_help=True)


@invoice_app.command("resolve")
def resolve(
    numbers: list[int],
    action: Annotated[
        str, typer.Option(help="mark_paid (settled elsewhere), retry (charge again) or write_off.")
    ],
    note: Annotated[str, typer.Option(help="Why: kept in the invoice's audit trail.")],
    data_dir: DataDir = DEFAULT_DATA_DIR,
) -> None:
    """Resolve invoices that need attention (as `POST /invoices/{id}/resolution`)."""
    from api.operator_actions import resolve_invoice
    from domain.billing.commands import ResolveInvoice

    try:
        command = ResolveInvoice.model_validate({"action": action, "note": note})
    except ValueError as error:
        typer.echo(f"ledgerflow: {error}", err=True)
        raise typer.Exit(2) from error

    async def act(services: ApiServices, number: int, actor: Actor) -> str:
        await resolve_invoice(services, number, command.action, command.note, actor)
        return f"resolved: {command.action}"

    _decide(data_dir, act, numbers, workflows=("billing",))
