"""Choosing the messaging adapters: RabbitMQ when `AMQP_URL` is set, else PostgreSQL."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from psycopg_pool import AsyncConnectionPool

from adapters.messaging.dead_letter_desk import DeadLetterDesk
from domain.messaging import CommandQueue, EventBus


def build_messaging(database_url: str, amqp_url: str | None) -> tuple[CommandQueue, EventBus]:
    """The `(CommandQueue, EventBus)` pair for this process (names: `domain.messaging`).

    Nothing connects until first use, so building is cheap and never fails on I/O.
    """
    if amqp_url:
        from adapters.messaging.rabbitmq import RabbitMqCommandQueue, RabbitMqEventBus

        return RabbitMqCommandQueue(amqp_url), RabbitMqEventBus(amqp_url)
    from adapters.messaging.postgres.command_queue import PostgresCommandQueue
    from adapters.messaging.postgres.event_bus import PostgresEventBus

    return PostgresCommandQueue(database_url), PostgresEventBus(database_url)


def build_dead_letter_desk(
    pool: AsyncConnectionPool[Any],
    amqp_url: str | None,
    command_queues: Sequence[str],
    subscribers: Sequence[str],
) -> DeadLetterDesk:
    """The desk of the dead letters the same backend keeps; on RabbitMQ, those of the
    `<queue>.dead` queues of `command_queues` and of the bus `subscribers`' queues. The
    decisions are recorded in PostgreSQL either way."""
    if amqp_url:
        from adapters.messaging.rabbitmq import subscriber_queue_name
        from adapters.messaging.rabbitmq_dead_letters import RabbitMqDeadLetterDesk

        queues = [*command_queues, *(subscriber_queue_name(name) for name in subscribers)]
        return RabbitMqDeadLetterDesk(amqp_url, queues, pool)
    from adapters.messaging.postgres.dead_letters import PostgresDeadLetterDesk

    return PostgresDeadLetterDesk(pool)
