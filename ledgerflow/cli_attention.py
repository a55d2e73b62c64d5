"""`ledgerflow attention`: everything waiting for an operator, across the workflows (the
list `GET /status/attention` and the console show), and `--retry` to retry what the
filter selects through each workflow's own service, as the API does."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import datetime

from adapters.attention import AttentionFilter, AttentionItem
from api.console.formatting import age
from api.operator_actions import RetryOutcome, retry_all, retry_of
from domain.access import Actor, Role
from ledgerflow.bootstrap import platform_session
from ledgerflow.cli_set_aside import cli_actor
from ledgerflow.cli_tables import Rows
from ledgerflow.settings import Settings
from ledgerflow.web import api_services


async def waiting(
    settings: Settings, only: AttentionFilter
) -> tuple[datetime, list[AttentionItem]]:
    async with platform_session(settings, only=()) as platform:
        services = api_services(platform)
        assert services.attention is not None  # api_services always reads it
        return platform.clock.now(), await services.attention.items(only)


async def retry_waiting(settings: Settings, only: AttentionFilter) -> list[RetryOutcome]:
    """Retry what `only` selects, as the operator running the command."""
    async with platform_session(settings) as platform:
        actor = Actor(Role.OPERATOR.value, cli_actor())
        return await retry_all(api_services(platform), only, actor)


def attention_table(items: Sequence[AttentionItem], now: datetime) -> Rows:
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
            item.last_error or "",
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
